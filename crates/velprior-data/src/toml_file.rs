//! Reading TOML config files, for every command: one-line errors that name the file, the line
//! and the key at fault (unknown keys are refused where the config type says so).

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{DataError, Result};

/// Parses TOML `text` (read from `origin`) into `T`.
pub fn parse_toml<T: DeserializeOwned>(text: &str, origin: &Path) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        DataError::InvalidArgument(format!("{}{at}: {}", origin.display(), e.message().trim()))
    })
}

/// Reads and parses the TOML file at `path`.
pub fn load_toml<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        DataError::InvalidArgument(format!("{}: cannot read the config ({e})", path.display()))
    })?;
    parse_toml(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Cfg {
        steps: usize,
    }

    /// Catches errors that lose the file, the line or the key.
    #[test]
    fn errors_name_the_file_the_line_and_the_key() {
        let e = parse_toml::<Cfg>("\n\nstep = 3\n", Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("a.toml (line 3): unknown field `step`"),
            "{e}"
        );
        let e = load_toml::<Cfg>(Path::new("/nonexistent/b.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/nonexistent/b.toml: cannot read the config"),
            "{e}"
        );
    }
}
