//! Serving files from run folders: only paths that stay inside the dashboard's root.

use std::path::{Component, Path, PathBuf};

use crate::error::DashboardError;

/// The file or folder `rel` (a `/`-separated path relative to `root`), refusing anything that
/// could leave `root`: `..`, absolute paths, drive prefixes, and symbolic links pointing out.
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, DashboardError> {
    let rel_path = Path::new(rel);
    if rel.contains('\\')
        || rel_path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(DashboardError::BadRequest(format!(
            "path {rel:?} leaves the runs folder; ask for a path inside it"
        )));
    }
    let joined = root.join(rel_path);
    let real = joined.canonicalize().map_err(|_| {
        DashboardError::NotFound(format!("{rel} does not exist in the runs folder"))
    })?;
    if !real.starts_with(root) {
        return Err(DashboardError::BadRequest(format!(
            "path {rel:?} points outside the runs folder"
        )));
    }
    Ok(real)
}

/// The Content-Type for a file name.
pub fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or("");
    match ext {
        "png" => "image/png",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "json" | "jsonl" => "application/json",
        "toml" | "txt" | "md" | "log" => "text/plain; charset=utf-8",
        "h5" | "hdf5" => "application/x-hdf5",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_that_leave_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("run")).unwrap();
        std::fs::write(root.join("run/a.png"), b"x").unwrap();
        assert_eq!(resolve(&root, "run/a.png").unwrap(), root.join("run/a.png"));
        for bad in ["../etc/passwd", "run/../../x", "/etc/passwd", "run\\..\\x"] {
            assert!(
                matches!(resolve(&root, bad), Err(DashboardError::BadRequest(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            resolve(&root, "run/missing.png"),
            Err(DashboardError::NotFound(_))
        ));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", root.join("run/out")).unwrap();
            assert!(matches!(
                resolve(&root, "run/out/hostname"),
                Err(DashboardError::BadRequest(_) | DashboardError::NotFound(_))
            ));
        }
    }
}
