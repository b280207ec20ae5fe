//! Sums over long f32 slices for GroupNorm's statistics and gradients: 32 f32 lanes (four AVX
//! registers where the CPU has them, so that the adds overlap), totalled in f64. The lanes
//! and their order are the same on every path, so the results are too.

const LANES: usize = 32;

/// The summand of each element.
#[derive(Clone, Copy)]
enum Term {
    /// x
    Value,
    /// x · y
    Product,
    /// (x − m)²
    SquaredDeviation(f32),
}

/// Σ a, in f64.
pub(crate) fn sum(a: &[f32]) -> f64 {
    reduce(Term::Value, a, a)
}

/// (Σ a, Σ a · b) in one pass, in f64 (Σ a as [`sum`] gives it).
pub(crate) fn sum_and_dot(a: &[f32], b: &[f32]) -> (f64, f64) {
    assert_eq!(a.len(), b.len(), "lane sums: slices differ in length");
    let full = a.len() - a.len() % LANES;
    #[cfg(target_arch = "x86_64")]
    let (ls, ld) = if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX.
        unsafe { avx::lanes_sum_and_dot(&a[..full], &b[..full]) }
    } else {
        (
            lanes(Term::Value, &a[..full], &a[..full]),
            lanes(Term::Product, &a[..full], &b[..full]),
        )
    };
    #[cfg(not(target_arch = "x86_64"))]
    let (ls, ld) = (
        lanes(Term::Value, &a[..full], &a[..full]),
        lanes(Term::Product, &a[..full], &b[..full]),
    );
    let total = |l: [f32; LANES], term: Term| {
        let rest: f64 = (a[full..].iter().zip(&b[full..]))
            .map(|(&x, &y)| f64::from(apply(term, x, y)))
            .sum();
        l.iter().map(|&v| f64::from(v)).sum::<f64>() + rest
    };
    (total(ls, Term::Value), total(ld, Term::Product))
}

/// Σ (a − m)², in f64.
pub(crate) fn squared_deviations(a: &[f32], m: f32) -> f64 {
    reduce(Term::SquaredDeviation(m), a, a)
}

fn reduce(term: Term, a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "lane sums: slices differ in length");
    let full = a.len() - a.len() % LANES;
    #[cfg(target_arch = "x86_64")]
    let lanes = if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX.
        unsafe { avx::lanes(term, &a[..full], &b[..full]) }
    } else {
        lanes(term, &a[..full], &b[..full])
    };
    #[cfg(not(target_arch = "x86_64"))]
    let lanes = lanes(term, &a[..full], &b[..full]);
    let rest: f64 = (a[full..].iter().zip(&b[full..]))
        .map(|(&x, &y)| f64::from(apply(term, x, y)))
        .sum();
    lanes.iter().map(|&v| f64::from(v)).sum::<f64>() + rest
}

#[inline(always)]
fn apply(term: Term, x: f32, y: f32) -> f32 {
    match term {
        Term::Value => x,
        Term::Product => x * y,
        Term::SquaredDeviation(m) => (x - m) * (x - m),
    }
}

/// Lane totals of slices whose length is a multiple of LANES.
fn lanes(term: Term, a: &[f32], b: &[f32]) -> [f32; LANES] {
    let mut acc = [0f32; LANES];
    for (ca, cb) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for i in 0..LANES {
            acc[i] += apply(term, ca[i], cb[i]);
        }
    }
    acc
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps,
        _mm256_storeu_ps, _mm256_sub_ps,
    };

    use super::{LANES, Term};

    /// [`super::lanes`] in four AVX registers (no FMA: the same roundings).
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn lanes(term: Term, a: &[f32], b: &[f32]) -> [f32; LANES] {
        let mut acc = [_mm256_setzero_ps(); 4];
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        for c in (0..a.len()).step_by(LANES) {
            for (r, s) in acc.iter_mut().enumerate() {
                // SAFETY: c + 8r + 8 ≤ len, a multiple of LANES (the caller's slices).
                let (x, y) = unsafe {
                    (
                        _mm256_loadu_ps(pa.add(c + 8 * r)),
                        _mm256_loadu_ps(pb.add(c + 8 * r)),
                    )
                };
                let t: __m256 = match term {
                    Term::Value => x,
                    Term::Product => _mm256_mul_ps(x, y),
                    Term::SquaredDeviation(m) => {
                        let d = _mm256_sub_ps(x, _mm256_set1_ps(m));
                        _mm256_mul_ps(d, d)
                    }
                };
                *s = _mm256_add_ps(*s, t);
            }
        }
        spill(&acc)
    }

    /// The lanes of Σ a and of Σ a · b, in one pass.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn lanes_sum_and_dot(a: &[f32], b: &[f32]) -> ([f32; LANES], [f32; LANES]) {
        let (mut sa, mut sd) = ([_mm256_setzero_ps(); 4], [_mm256_setzero_ps(); 4]);
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        for c in (0..a.len()).step_by(LANES) {
            for r in 0..4 {
                // SAFETY: c + 8r + 8 ≤ len, a multiple of LANES (the caller's slices).
                let (x, y) = unsafe {
                    (
                        _mm256_loadu_ps(pa.add(c + 8 * r)),
                        _mm256_loadu_ps(pb.add(c + 8 * r)),
                    )
                };
                sa[r] = _mm256_add_ps(sa[r], x);
                sd[r] = _mm256_add_ps(sd[r], _mm256_mul_ps(x, y));
            }
        }
        (spill(&sa), spill(&sd))
    }

    #[target_feature(enable = "avx")]
    fn spill(acc: &[__m256; 4]) -> [f32; LANES] {
        let mut out = [0f32; LANES];
        for (r, s) in acc.iter().enumerate() {
            // SAFETY: out has 8 floats from 8r.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(8 * r), *s) };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_f64_references_and_the_portable_lanes() {
        let a: Vec<f32> = (0..1000)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013)
            .collect();
        let b: Vec<f32> = (0..1000)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) * 0.021)
            .collect();
        let want_sum: f64 = a.iter().map(|&v| f64::from(v)).sum();
        let want_dot: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        let m = 0.1f32;
        let want_sq: f64 = a
            .iter()
            .map(|&v| (f64::from(v) - f64::from(m)).powi(2))
            .sum();
        assert!((sum(&a) - want_sum).abs() < 1e-4);
        let (s, d) = sum_and_dot(&a, &b);
        assert_eq!(s, sum(&a));
        assert!((d - want_dot).abs() < 1e-4);
        assert!((squared_deviations(&a, m) - want_sq).abs() < 1e-4);
        let full = 992;
        let portable = lanes(Term::Product, &a[..full], &b[..full]);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            let simd = unsafe { avx::lanes(Term::Product, &a[..full], &b[..full]) };
            assert_eq!(portable, simd);
            let (ls, ld) = unsafe { avx::lanes_sum_and_dot(&a[..full], &b[..full]) };
            assert_eq!(
                (ls, ld),
                (lanes(Term::Value, &a[..full], &a[..full]), portable)
            );
        }
    }
}
