//! `velprior serve`: a local web dashboard over a folder of run folders — the run list, one run
//! (config, metric curves, every picture, links to its data), comparisons across runs.
//!
//! Everything is read from disk on each request, so a run that is still writing shows its
//! latest state; assets are embedded in the binary; only files under the root are served.

pub mod charts;
pub mod error;
pub mod files;
pub mod metrics;
pub mod pages;
pub mod runs;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

pub use error::DashboardError;

/// Shared state of the handlers: the canonical runs folder.
#[derive(Debug, Clone)]
struct AppState {
    root: Arc<PathBuf>,
}

/// The dashboard's routes over the runs folder `root`.
pub fn router(root: &Path) -> Result<Router, DashboardError> {
    let root = root.canonicalize().map_err(|e| {
        DashboardError::Io(format!(
            "runs folder {}: {e}; pass an existing folder (e.g. `runs`)",
            root.display()
        ))
    })?;
    if !root.is_dir() {
        return Err(DashboardError::Io(format!(
            "{} is not a folder; pass the folder that holds the run folders",
            root.display()
        )));
    }
    let state = AppState {
        root: Arc::new(root),
    };
    Ok(Router::new()
        .route("/", get(index))
        .route("/run/{*id}", get(run))
        .route("/compare", get(compare))
        .route("/files/{*path}", get(file))
        .with_state(state))
}

/// Serves the dashboard for `root` on `listener` until the process ends.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    root: &Path,
) -> Result<(), DashboardError> {
    let app = router(root)?;
    axum::serve(listener, app)
        .await
        .map_err(|e| DashboardError::Io(format!("server stopped: {e}")))
}

/// Binds `addr` and serves the dashboard for `root` (blocking; builds its own runtime).
pub fn serve(root: &Path, addr: SocketAddr) -> Result<(), DashboardError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| DashboardError::Io(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            DashboardError::Io(format!(
                "cannot listen on {addr}: {e}; pick another port with --port"
            ))
        })?;
        tracing::info!("serving {} on http://{addr}", root.display());
        serve_on(listener, root).await
    })
}

/// Runs blocking file-system work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DashboardError> + Send + 'static,
) -> Result<T, DashboardError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DashboardError::Io(format!("request handler failed: {e}")))?
}

async fn index(State(s): State<AppState>) -> Result<Html<String>, DashboardError> {
    blocking(move || Ok(Html(pages::index(&runs::discover(&s.root)).into_string()))).await
}

async fn run(
    State(s): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Html<String>, DashboardError> {
    blocking(move || {
        let r = find_run(&s.root, &id)?;
        Ok(Html(pages::run(&r, false).into_string()))
    })
    .await
}

fn find_run(root: &Path, id: &str) -> Result<runs::Run, DashboardError> {
    files::resolve(root, id)?;
    runs::find(root, id).ok_or_else(|| {
        DashboardError::NotFound(format!(
            "{id} is not a run folder (no config, metrics or summary)"
        ))
    })
}

async fn compare(
    State(s): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, DashboardError> {
    let ids: Vec<String> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "run")
        .map(|(_, v)| v.into_owned())
        .collect();
    if ids.len() < 2 {
        return Err(DashboardError::BadRequest(
            "choose at least two runs to compare (?run=A&run=B)".into(),
        ));
    }
    blocking(move || {
        let runs = ids
            .iter()
            .map(|id| find_run(&s.root, id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Html(pages::compare(&runs).into_string()))
    })
    .await
}

async fn file(
    State(s): State<AppState>,
    UrlPath(path): UrlPath<String>,
) -> Result<Response, DashboardError> {
    blocking(move || {
        let real = files::resolve(&s.root, &path)?;
        if !real.is_file() {
            return Err(DashboardError::NotFound(format!("{path} is not a file")));
        }
        let bytes =
            std::fs::read(&real).map_err(|e| DashboardError::NotFound(format!("{path}: {e}")))?;
        Ok(([(header::CONTENT_TYPE, files::content_type(&path))], bytes).into_response())
    })
    .await
}
