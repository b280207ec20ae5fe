//! The device seam holds: library code never picks the CPU by itself. Every `Device::Cpu` in
//! `crates/*/src` outside the CPU kernels (`velprior-kernels/src/cpu/`) and test modules must be
//! an explicit host computation, marked `// host: <why>` on its line. Catches a trainer, prior or
//! sampler that hard-codes the CPU again (a `--device cuda` run that silently trains on the CPU).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn library_code_names_the_cpu_only_for_marked_host_work() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root.join("crates")).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    let cpu_kernels = Path::new("velprior-kernels").join("src").join("cpu");
    let mut unmarked = Vec::new();
    for file in files.iter().filter(|f| {
        !f.to_string_lossy()
            .contains(&*cpu_kernels.to_string_lossy())
    }) {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break; // test modules close the file
            }
            let code = line.trim_start();
            if code.starts_with("//") || !line.contains("Device::Cpu") {
                continue;
            }
            if !line.contains("// host:") {
                unmarked.push(format!("{}:{}: {}", file.display(), i + 1, code));
            }
        }
    }
    assert!(
        unmarked.is_empty(),
        "Device::Cpu in library code without a `// host:` reason (pass the device down instead):\n{}",
        unmarked.join("\n")
    );
}
