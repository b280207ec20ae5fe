//! Run folders: every command that produces results writes its config, metrics (JSON
//! lines), pictures and data into one folder.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::atomic::write_bytes;
use crate::error::{DataError, Result};

/// A run folder on disk.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Creates (or reuses) the folder `root`.
    pub fn create(root: &Path) -> Result<RunDir> {
        std::fs::create_dir_all(root).map_err(|e| DataError::io(root, e))?;
        Ok(RunDir {
            root: root.to_path_buf(),
        })
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Copies the folder `from` (files and sub-folders) into the folder `name` inside this one.
    pub fn copy_in(&self, from: &Path, name: &str) -> Result<()> {
        copy_dir(from, &self.path(name))
    }

    /// The path of `name` inside the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Writes `value` as pretty JSON to `name`, atomically.
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> Result<PathBuf> {
        let path = self.path(name);
        let text = serde_json::to_string_pretty(value).map_err(|e| {
            DataError::invalid(format!("{}: cannot serialise ({e})", path.display()))
        })?;
        write_bytes(&path, format!("{text}\n").as_bytes())?;
        Ok(path)
    }

    /// Appends one JSON line to `name` (a metrics log).
    pub fn append_jsonl(&self, name: &str, value: &impl Serialize) -> Result<()> {
        let path = self.path(name);
        let line = serde_json::to_string(value).map_err(|e| {
            DataError::invalid(format!("{}: cannot serialise ({e})", path.display()))
        })?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| DataError::io(&path, e))?;
        writeln!(file, "{line}").map_err(|e| DataError::io(&path, e))
    }
}

/// Copies the folder `from` (files and sub-folders) to `to`.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| DataError::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| DataError::io(from, e))? {
        let entry = entry.map_err(|e| DataError::io(from, e))?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(|e| DataError::io(&target, e))?;
        }
    }
    Ok(())
}
