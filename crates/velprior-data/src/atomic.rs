//! Atomic file output: write to a temporary name beside the target, rename on success.
//!
//! A crash, an error or a panic leaves either the old file or nothing, never a half-written one.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// A temporary path beside `target` that is renamed onto `target` by [`AtomicPath::commit`]
/// and deleted when dropped uncommitted.
#[derive(Debug)]
pub struct AtomicPath {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl AtomicPath {
    /// Reserves `<dir>/.<name>.<pid>.tmp` for writing `target`; creates the parent directory.
    pub fn new(target: &Path) -> Result<Self> {
        let name = target
            .file_name()
            .ok_or_else(|| DataError::invalid(format!("{}: not a file path", target.display())))?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
        let temp = dir.join(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        Ok(AtomicPath {
            temp,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// The temporary path to write to.
    pub fn temp(&self) -> &Path {
        &self.temp
    }

    /// Renames the temporary file onto the target.
    pub fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.temp, &self.target).map_err(|e| DataError::io(&self.target, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicPath {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `target` atomically.
pub fn write_bytes(target: &Path, bytes: &[u8]) -> Result<()> {
    let out = AtomicPath::new(target)?;
    std::fs::write(out.temp(), bytes).map_err(|e| DataError::io(target, e))?;
    out.commit()
}
