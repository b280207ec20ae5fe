//! Compile-checks every `kernels/*.cu` to PTX with NVRTC, without a GPU or the `cuda` feature.
//!
//! Where libnvrtc cannot be loaded the NVRTC tests print "skipped: libnvrtc not found" and pass,
//! unless `VELPRIOR_REQUIRE_NVRTC=1`, in which case they fail (CI sets it: `.ci/cuda-check.sh`).

use std::path::Path;

use velprior_kernels::Error;
use velprior_kernels::cuda::{compile_ptx, nvrtc_available};
use velprior_kernels::ops::KERNELS;

/// True when NVRTC is there; otherwise prints the skip line (or panics if it is required).
fn nvrtc_or_skip(test: &str) -> bool {
    if nvrtc_available() {
        return true;
    }
    if std::env::var("VELPRIOR_REQUIRE_NVRTC").as_deref() == Ok("1") {
        panic!("{test}: VELPRIOR_REQUIRE_NVRTC=1 but libnvrtc was not found (set LD_LIBRARY_PATH)");
    }
    println!("{test}: skipped: libnvrtc not found");
    false
}

#[test]
fn every_kernel_source_is_registered_and_embedded() {
    // Runs without NVRTC: every kernels/*.cu is compiled into the crate, none is forgotten.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kernels");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "cu").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    on_disk.sort();
    let mut registered: Vec<String> = KERNELS.iter().map(|k| k.name.to_string()).collect();
    registered.sort();
    assert_eq!(
        on_disk, registered,
        "kernels/*.cu vs velprior_kernels::ops::KERNELS"
    );
    for k in KERNELS {
        let file = std::fs::read_to_string(dir.join(format!("{}.cu", k.name))).unwrap();
        assert_eq!(
            file, k.src,
            "{}: embedded source differs from the file",
            k.name
        );
        assert!(
            k.src
                .contains(&format!("extern \"C\" __global__ void {}(", k.func)),
            "{}: no kernel named {}",
            k.name,
            k.func
        );
    }
}

#[test]
fn every_kernel_compiles_to_ptx() {
    if !nvrtc_or_skip("every_kernel_compiles_to_ptx") {
        return;
    }
    for k in KERNELS {
        let ptx = compile_ptx(k.name, k.src)
            .unwrap_or_else(|e| panic!("kernels/{}.cu does not compile: {e}", k.name));
        assert!(
            ptx.contains(&format!(".entry {}(", k.func)),
            "{}: PTX has no entry {}",
            k.name,
            k.func
        );
        println!("kernels/{}.cu: {} bytes of PTX", k.name, ptx.len());
    }
}

#[test]
fn a_broken_kernel_fails_to_compile() {
    if !nvrtc_or_skip("a_broken_kernel_fails_to_compile") {
        return;
    }
    // q_sample.cu with one identifier misspelt: the check must reject it, with NVRTC's log.
    let good = KERNELS.iter().find(|k| k.name == "q_sample").unwrap().src;
    let broken = good.replacen("coef[2 * n] * x0[i]", "coef[2 * n] * x_0[i]", 1);
    assert_ne!(broken, good, "the mutation must change the source");
    match compile_ptx("q_sample_broken", &broken) {
        Err(Error::KernelCompile { kernel, log }) => {
            assert_eq!(kernel, "q_sample_broken");
            assert!(
                log.contains("x_0"),
                "log should name the bad identifier: {log}"
            );
        }
        Ok(_) => panic!("a kernel with an undefined identifier compiled"),
        Err(e) => panic!("unexpected error: {e}"),
    }
    // A plain syntax error too.
    assert!(matches!(
        compile_ptx("syntax", "extern \"C\" __global__ void f( { }"),
        Err(Error::KernelCompile { .. })
    ));
}

#[test]
fn missing_nvrtc_is_an_error_not_a_panic() {
    if nvrtc_available() {
        println!("missing_nvrtc_is_an_error_not_a_panic: skipped: libnvrtc is present");
        return;
    }
    match compile_ptx("q_sample", KERNELS[0].src) {
        Err(Error::CudaUnavailable(msg)) => assert!(msg.contains("libnvrtc"), "{msg}"),
        other => panic!("expected CudaUnavailable, got {other:?}"),
    }
}
