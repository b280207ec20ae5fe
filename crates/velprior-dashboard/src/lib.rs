//! `velprior serve`: a local web dashboard over a folder of run folders — the run list, one run
//! (config, metric curves, every picture, links to its data), comparisons across runs.
//!
//! Everything is read from disk on each request, so a run that is still writing shows its
//! latest state; assets are embedded in the binary; only files under the root are served.

pub mod boomerang_view;
pub mod charts;
pub mod error;
pub mod files;
pub mod metrics;
pub mod pages;
pub mod playground;
pub mod runs;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use candle_core::Device;

pub use error::DashboardError;

/// Loaded playgrounds by run id, with the checkpoint time they were loaded from.
type PlaygroundCache = Mutex<HashMap<String, (SystemTime, Arc<playground::Playground>)>>;

/// Loaded Boomerang views by run id, with the checkpoint time they were loaded from.
type BoomerangCache = Mutex<HashMap<String, (SystemTime, Arc<boomerang_view::BoomerangView>)>>;

/// Shared state of the handlers: the canonical runs folder, the device the priors' networks
/// run on, and the loaded priors.
#[derive(Clone)]
struct AppState {
    root: Arc<PathBuf>,
    device: Device,
    playgrounds: Arc<PlaygroundCache>,
    boomerangs: Arc<BoomerangCache>,
}

/// The dashboard's routes over the runs folder `root`; the playground's and Boomerang's
/// networks run on `device`.
pub fn router(root: &Path, device: &Device) -> Result<Router, DashboardError> {
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
        device: device.clone(),
        playgrounds: Arc::default(),
        boomerangs: Arc::default(),
    };
    Ok(Router::new()
        .route("/", get(index))
        .route("/run/{*id}", get(run))
        .route("/compare", get(compare))
        .route("/files/{*path}", get(file))
        .route("/playground/{*id}", get(playground_page))
        .route("/api/playground", get(playground_view))
        .route("/api/playground.png", get(playground_png))
        .route("/boomerang/{*id}", get(boomerang_page))
        .route("/api/boomerang.png", get(boomerang_png))
        .with_state(state))
}

/// Serves the dashboard for `root` on `listener` until the process ends.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    root: &Path,
    device: &Device,
) -> Result<(), DashboardError> {
    let app = router(root, device)?;
    axum::serve(listener, app)
        .await
        .map_err(|e| DashboardError::Io(format!("server stopped: {e}")))
}

/// Binds `addr` and serves the dashboard for `root` (blocking; builds its own runtime).
pub fn serve(root: &Path, addr: SocketAddr, device: &Device) -> Result<(), DashboardError> {
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
        serve_on(listener, root, device).await
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
        let dir = files::resolve(&s.root, &id)?;
        let links = pages::PriorLinks {
            playground: playground::has_latent_prior(&dir),
            boomerang: boomerang_view::has_diffusion(&dir),
        };
        Ok(Html(pages::run(&r, links).into_string()))
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

/// The playground of run `id`, loaded once per checkpoint version.
fn load_playground(s: &AppState, id: &str) -> Result<Arc<playground::Playground>, DashboardError> {
    find_run(&s.root, id)?;
    let dir = files::resolve(&s.root, id)?;
    let stamp = checkpoint_time(&dir, id)?;
    let lock = |c: &PlaygroundCache| c.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned();
    if let Some((t, p)) = lock(&s.playgrounds)
        && t == stamp
    {
        return Ok(p);
    }
    let p = Arc::new(playground::Playground::load(&dir, &s.device)?);
    s.playgrounds
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.to_string(), (stamp, p.clone()));
    Ok(p)
}

async fn playground_page(
    State(s): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Html<String>, DashboardError> {
    blocking(move || {
        let p = load_playground(&s, &id)?;
        Ok(Html(
            pages::playground(&id, p.limit(), p.is_profile(), &p.notes).into_string(),
        ))
    })
    .await
}

/// The values of query parameters `names` (in that order); any other parameter is an error.
fn query_params(
    query: Option<String>,
    names: &[&str],
) -> Result<Vec<Option<String>>, DashboardError> {
    let mut out = vec![None; names.len()];
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let i = names.iter().position(|n| *n == k).ok_or_else(|| {
            DashboardError::BadRequest(format!(
                "unknown query parameter {k:?}; use {}",
                names.join(", ")
            ))
        })?;
        out[i] = Some(v.into_owned());
    }
    Ok(out)
}

/// The `run`, `z1` and `z2` of a playground request.
fn playground_query(
    query: Option<String>,
) -> Result<(String, [Option<String>; 2]), DashboardError> {
    let q = query_params(query, &["run", "z1", "z2"])?;
    let run = q[0]
        .clone()
        .ok_or_else(|| DashboardError::BadRequest("missing ?run=RUN_ID".into()))?;
    Ok((run, [q[1].clone(), q[2].clone()]))
}

/// Modification time of run `id`'s checkpoint (the cache key of loaded priors).
fn checkpoint_time(dir: &Path, id: &str) -> Result<SystemTime, DashboardError> {
    std::fs::metadata(dir.join("checkpoint.safetensors"))
        .and_then(|m| m.modified())
        .map_err(|_| DashboardError::NotFound(format!("{id} has no checkpoint.safetensors")))
}

async fn playground_view(
    State(s): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, DashboardError> {
    let (id, [z1, z2]) = playground_query(query)?;
    blocking(move || {
        let p = load_playground(&s, &id)?;
        let z = p.check(z1.as_deref(), z2.as_deref())?;
        Ok(axum::Json(p.view(z)?).into_response())
    })
    .await
}

async fn playground_png(
    State(s): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, DashboardError> {
    let (id, [z1, z2]) = playground_query(query)?;
    blocking(move || {
        let p = load_playground(&s, &id)?;
        let z = p.check(z1.as_deref(), z2.as_deref())?;
        Ok(([(header::CONTENT_TYPE, "image/png")], p.png(z)?).into_response())
    })
    .await
}

/// The Boomerang view of run `id`, loaded once per checkpoint version.
fn load_boomerang(
    s: &AppState,
    id: &str,
) -> Result<Arc<boomerang_view::BoomerangView>, DashboardError> {
    find_run(&s.root, id)?;
    let dir = files::resolve(&s.root, id)?;
    let stamp = checkpoint_time(&dir, id)?;
    if let Some((t, b)) = s
        .boomerangs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(id)
        .cloned()
        && t == stamp
    {
        return Ok(b);
    }
    let b = Arc::new(boomerang_view::BoomerangView::load(&dir, &s.device)?);
    s.boomerangs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.to_string(), (stamp, b.clone()));
    Ok(b)
}

async fn boomerang_page(
    State(s): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Html<String>, DashboardError> {
    blocking(move || {
        let b = load_boomerang(&s, &id)?;
        Ok(Html(
            pages::boomerang(&id, b.len(), &b.source).into_string(),
        ))
    })
    .await
}

async fn boomerang_png(
    State(s): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, DashboardError> {
    let q = query_params(query, &["run", "model", "t", "seed"])?;
    let id = q[0]
        .clone()
        .ok_or_else(|| DashboardError::BadRequest("missing ?run=RUN_ID".into()))?;
    blocking(move || {
        let b = load_boomerang(&s, &id)?;
        let (i, t, seed) = b.check(q[1].as_deref(), q[2].as_deref(), q[3].as_deref())?;
        Ok(([(header::CONTENT_TYPE, "image/png")], b.png(i, t, seed)?).into_response())
    })
    .await
}
