//! Regularisers on the (normalised) model: Tikhonov (squared first differences) and total
//! variation (isotropic, smoothed), each as a mean over cells, with their gradients.

use crate::geometry::ModelShape;

/// Forward differences (∂z x, ∂x x) with zero at the last row/column.
fn diffs(x: &[f32], s: ModelShape, i: usize, j: usize) -> (f32, f32) {
    let k = i * s.nx + j;
    let dz = if i + 1 < s.nz {
        x[k + s.nx] - x[k]
    } else {
        0.0
    };
    let dx = if j + 1 < s.nx { x[k + 1] - x[k] } else { 0.0 };
    (dz, dx)
}

/// Apply Dᵀ to per-cell (pz, px) weights, accumulating into `g`.
fn scatter(g: &mut [f32], s: ModelShape, i: usize, j: usize, pz: f32, px: f32) {
    let k = i * s.nx + j;
    if i + 1 < s.nz {
        g[k + s.nx] += pz;
        g[k] -= pz;
    }
    if j + 1 < s.nx {
        g[k + 1] += px;
        g[k] -= px;
    }
}

/// Tikhonov R = mean(|∇x|²) and ∂R/∂x.
pub fn tikhonov(x: &[f32], s: ModelShape) -> (f64, Vec<f32>) {
    let n = s.len() as f64;
    let mut g = vec![0.0f32; x.len()];
    let mut r = 0.0f64;
    for i in 0..s.nz {
        for j in 0..s.nx {
            let (dz, dx) = diffs(x, s, i, j);
            r += f64::from(dz * dz + dx * dx);
            scatter(
                &mut g,
                s,
                i,
                j,
                (2.0 * f64::from(dz) / n) as f32,
                (2.0 * f64::from(dx) / n) as f32,
            );
        }
    }
    (r / n, g)
}

/// Total variation R = mean(sqrt(|∇x|² + ε²)) with ε = 1e-4, and ∂R/∂x.
pub fn total_variation(x: &[f32], s: ModelShape) -> (f64, Vec<f32>) {
    let eps2 = 1e-8f32;
    let n = s.len() as f64;
    let mut g = vec![0.0f32; x.len()];
    let mut r = 0.0f64;
    for i in 0..s.nz {
        for j in 0..s.nx {
            let (dz, dx) = diffs(x, s, i, j);
            let m = (dz * dz + dx * dx + eps2).sqrt();
            r += f64::from(m);
            scatter(
                &mut g,
                s,
                i,
                j,
                (f64::from(dz / m) / n) as f32,
                (f64::from(dx / m) / n) as f32,
            );
        }
    }
    (r / n, g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn regulariser_gradients_match_finite_differences() {
        let s = ModelShape::new(7, 9);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let x: Vec<f32> = (0..s.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
        let d: Vec<f32> = (0..s.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
        for f in [tikhonov, total_variation] {
            let (_, g) = f(&x, s);
            let h = 1e-3f32;
            let at = |t: f32| {
                f(
                    &x.iter().zip(&d).map(|(a, b)| a + t * b).collect::<Vec<_>>(),
                    s,
                )
                .0
            };
            let fd = (at(h) - at(-h)) / (2.0 * f64::from(h));
            let an: f64 = g
                .iter()
                .zip(&d)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum();
            assert!((fd - an).abs() < 1e-3 * an.abs().max(1e-3), "{fd} vs {an}");
        }
    }
}
