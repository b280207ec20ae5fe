//! The repository is self-contained: no config or test names a path outside it (an absolute
//! path, or one climbing out with `..`, such as a sibling checkout), and every
//! benchmark config parses and passes its checks. Catches a config that runs only on the
//! machine it was written on.

use std::path::{Path, PathBuf};

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every string value of a TOML document.
fn strings(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        toml::Value::Table(t) => t.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn configs_name_only_paths_inside_the_repository() {
    let mut configs = Vec::new();
    files(&root().join("configs"), "toml", &mut configs);
    files(&root().join("priors"), "toml", &mut configs);
    assert!(configs.len() > 10, "configs not found");
    for config in configs {
        let text = std::fs::read_to_string(&config).unwrap();
        let value: toml::Value =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", config.display()));
        let mut values = Vec::new();
        strings(&value, &mut values);
        for v in values.iter().filter(|v| v.contains('/')) {
            assert!(
                !v.starts_with('/') && !v.split('/').any(|part| part == ".."),
                "{}: '{v}' lies outside the repository",
                config.display()
            );
        }
    }
}

#[test]
fn tests_read_nothing_outside_the_repository() {
    let mut sources = Vec::new();
    files(&root().join("tests"), "rs", &mut sources);
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let tests = entry.unwrap().path().join("tests");
        if tests.is_dir() {
            files(&tests, "rs", &mut sources);
        }
    }
    let this = root().join("tests/configs_in_repository.rs");
    for source in sources.into_iter().filter(|s| *s != this) {
        let text = std::fs::read_to_string(&source).unwrap();
        // A sibling checkout of the team's shared folder, or a machine's absolute paths.
        let sibling = ["..", "shared"].join("/");
        for needle in [sibling.as_str(), "\"/work/", "\"/home/"] {
            assert!(
                !text.contains(needle),
                "{} names '{needle}', outside the repository",
                source.display()
            );
        }
    }
}

#[test]
fn benchmark_configs_parse_and_check() {
    let mut configs = Vec::new();
    files(&root().join("configs"), "toml", &mut configs);
    let benchmarks: Vec<_> = configs
        .iter()
        .filter(|c| {
            c.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("benchmark-")
        })
        .collect();
    assert!(!benchmarks.is_empty());
    for config in benchmarks {
        let text = std::fs::read_to_string(config).unwrap();
        let cfg: velprior_posterior::benchmark::BenchmarkConfig =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", config.display()));
        cfg.check()
            .unwrap_or_else(|e| panic!("{}: {e}", config.display()));
    }
}

/// Every posterior config parses: a `[calibration]` table as a calibration, the rest as a posterior
/// experiment (the prior and files are checked when it runs). Catches a key renamed in the code
/// but not in a config.
#[test]
fn posterior_configs_parse() {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Calibration {
        calibration: velprior_posterior::calibration::CalibrationConfig,
    }
    let mut configs = Vec::new();
    files(&root().join("configs"), "toml", &mut configs);
    let posteriors: Vec<_> = configs
        .iter()
        .filter(|c| {
            let name = c.file_name().unwrap().to_str().unwrap();
            name.starts_with("posterior-")
        })
        .collect();
    assert!(posteriors.len() > 10);
    for config in posteriors {
        let text = std::fs::read_to_string(config).unwrap();
        let parsed = if text.contains("[calibration]") {
            toml::from_str::<Calibration>(&text).map(|c| drop(c.calibration))
        } else {
            toml::from_str::<velprior_posterior::config::PosteriorConfig>(&text).map(|_| ())
        };
        parsed.unwrap_or_else(|e| panic!("{}: {e}", config.display()));
    }
}
