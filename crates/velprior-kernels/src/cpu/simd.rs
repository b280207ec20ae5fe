//! Which vector instructions the CPU kernels use: AVX-512 or AVX2 + FMA where the CPU has them,
//! the portable path (im2col on the `gemm` crate, scalar loops) everywhere. Detected once;
//! `VELPRIOR_SIMD=avx512|avx2|portable` (or [`force_simd`]) picks a lower level, so that tests
//! and benchmarks run every path the CPU can execute.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::{Error, Result};

/// A level of vector instructions, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    /// No hand-written vector code: im2col + gemm, scalar loops.
    Portable,
    /// AVX2 and FMA (8 f32 lanes).
    Avx2,
    /// AVX-512F (16 f32 lanes).
    Avx512,
}

impl Simd {
    /// The name `VELPRIOR_SIMD` takes.
    pub fn name(self) -> &'static str {
        match self {
            Simd::Portable => "portable",
            Simd::Avx2 => "avx2",
            Simd::Avx512 => "avx512",
        }
    }

    /// Every level, lowest first.
    pub const ALL: [Simd; 3] = [Simd::Portable, Simd::Avx2, Simd::Avx512];

    fn from_u8(v: u8) -> Simd {
        Simd::ALL[usize::from(v)]
    }
}

impl std::str::FromStr for Simd {
    type Err = Error;

    fn from_str(s: &str) -> Result<Simd> {
        Simd::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                Error::arg(
                    "VELPRIOR_SIMD",
                    format!("{s:?}: use avx512, avx2 or portable"),
                )
            })
    }
}

/// The highest level this CPU runs.
pub fn detected_simd() -> Simd {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Simd::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Simd::Avx2;
        }
    }
    Simd::Portable
}

/// No override: the level of the CPU (or of `VELPRIOR_SIMD`).
const UNSET: u8 = u8::MAX;

static FORCED: AtomicU8 = AtomicU8::new(UNSET);

/// The level of `VELPRIOR_SIMD`, capped at the CPU's; the CPU's when unset or unreadable (a
/// warning says which).
fn from_env() -> Simd {
    static LEVEL: OnceLock<Simd> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cpu = detected_simd();
        match std::env::var("VELPRIOR_SIMD") {
            Err(_) => cpu,
            Ok(s) => match s.parse::<Simd>() {
                Ok(level) if level <= cpu => level,
                Ok(level) => {
                    tracing::warn!(
                        "VELPRIOR_SIMD={}: this CPU runs at most {}",
                        level.name(),
                        cpu.name()
                    );
                    cpu
                }
                Err(e) => {
                    tracing::warn!("{e}; using {}", cpu.name());
                    cpu
                }
            },
        }
    })
}

/// The level the CPU kernels use now.
pub fn simd() -> Simd {
    match FORCED.load(Ordering::Relaxed) {
        UNSET => from_env(),
        v => Simd::from_u8(v),
    }
}

/// Makes the CPU kernels use `level` from now on in this process (`None`: back to the CPU's or
/// `VELPRIOR_SIMD`'s); for tests and benchmarks that compare paths. A level above the CPU's is
/// an error.
pub fn force_simd(level: Option<Simd>) -> Result<()> {
    match level {
        None => FORCED.store(UNSET, Ordering::Relaxed),
        Some(l) if l <= detected_simd() => FORCED.store(l as u8, Ordering::Relaxed),
        Some(l) => {
            return Err(Error::arg(
                "force_simd",
                format!(
                    "this CPU cannot run {}; it runs at most {}",
                    l.name(),
                    detected_simd().name()
                ),
            ));
        }
    }
    Ok(())
}
