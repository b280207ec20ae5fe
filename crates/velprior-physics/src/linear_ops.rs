//! Linear forward operators (masking, Gaussian blurring) for fast, exactly solvable tests of
//! posterior methods.

use crate::error::{PhysicsError, Result, param};
use crate::geometry::ModelShape;
use crate::misfit::Misfit;
use crate::operator::ForwardOperator;

fn check_len(what: &'static str, expected: usize, x: &[f32]) -> Result<()> {
    if x.len() != expected {
        return Err(PhysicsError::Shape {
            what,
            expected,
            got: x.len(),
        });
    }
    Ok(())
}

/// Misfit and gradient Aᵀ∂f/∂d of a linear operator given A and Aᵀ.
fn linear_misfit(
    misfit: Misfit,
    d: &[f32],
    d_obs: &[f32],
    adjoint: impl Fn(&[f32]) -> Vec<f32>,
) -> (f64, Vec<f32>) {
    let (f, r) = misfit.value_and_residual(d, d_obs);
    (f, adjoint(&r))
}

/// Observe the model at the cells where `mask` is true (inpainting): d = m[mask].
#[derive(Debug, Clone)]
pub struct Mask {
    shape: ModelShape,
    idx: Vec<usize>,
    misfit: Misfit,
}

impl Mask {
    /// `mask` has shape (nz, nx); data are the kept values in row-major order.
    pub fn new(shape: ModelShape, mask: &[bool], misfit: Misfit) -> Result<Self> {
        if mask.len() != shape.len() {
            return Err(PhysicsError::Shape {
                what: "mask",
                expected: shape.len(),
                got: mask.len(),
            });
        }
        Ok(Self {
            shape,
            idx: (0..mask.len()).filter(|&i| mask[i]).collect(),
            misfit,
        })
    }

    /// Aᵀd: scatter data back onto the grid (zeros elsewhere).
    pub fn adjoint(&self, d: &[f32]) -> Vec<f32> {
        let mut m = vec![0.0; self.shape.len()];
        for (&i, &x) in self.idx.iter().zip(d) {
            m[i] = x;
        }
        m
    }
}

impl ForwardOperator for Mask {
    fn model_shape(&self) -> ModelShape {
        self.shape
    }
    fn data_len(&self) -> usize {
        self.idx.len()
    }
    fn forward(&self, m: &[f32]) -> Result<Vec<f32>> {
        check_len("model", self.shape.len(), m)?;
        Ok(self.idx.iter().map(|&i| m[i]).collect())
    }
    fn misfit_and_gradient(&self, m: &[f32], d_obs: &[f32]) -> Result<(f64, Vec<f32>)> {
        check_len("observed data", self.idx.len(), d_obs)?;
        let d = self.forward(m)?;
        Ok(linear_misfit(self.misfit, &d, d_obs, |r| self.adjoint(r)))
    }
    fn l2_misfit(&self) -> bool {
        self.misfit == Misfit::L2
    }
}

/// Separable Gaussian blur with standard deviation `sigma` (cells), kernel truncated at 4σ and
/// normalised, zero padding: a symmetric matrix, so Aᵀ = A. Data have the model's shape.
#[derive(Debug, Clone)]
pub struct GaussianBlur {
    shape: ModelShape,
    kernel: Vec<f32>,
    misfit: Misfit,
}

impl GaussianBlur {
    /// Blur of (nz, nx) maps with σ in cells (> 0).
    pub fn new(shape: ModelShape, sigma: f32, misfit: Misfit) -> Result<Self> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(param(
                "sigma",
                format!("blur width must be > 0 cells, got {sigma}"),
            ));
        }
        Ok(Self {
            shape,
            kernel: gaussian_kernel(sigma),
            misfit,
        })
    }

    /// A·m (= Aᵀ·m).
    pub fn apply(&self, m: &[f32]) -> Vec<f32> {
        convolve_separable(m, self.shape, &self.kernel)
    }
}

/// Normalised Gaussian kernel of σ cells, half-width ⌈4σ⌉.
pub fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let h = (4.0 * sigma).ceil() as isize;
    let w: Vec<f32> = (-h..=h)
        .map(|k| (-(k * k) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f32 = w.iter().sum();
    w.iter().map(|x| x / s).collect()
}

/// 'Same' separable convolution of an (nz, nx) map with zero padding.
pub fn convolve_separable(m: &[f32], shape: ModelShape, w: &[f32]) -> Vec<f32> {
    let (nz, nx, h) = (shape.nz, shape.nx, w.len() / 2);
    let mut tmp = vec![0.0f32; nz * nx];
    for i in 0..nz {
        for j in 0..nx {
            let lo = h.saturating_sub(j);
            let hi = (nx + h - j).min(w.len());
            tmp[i * nx + j] = (lo..hi).map(|k| w[k] * m[i * nx + j + k - h]).sum();
        }
    }
    let mut out = vec![0.0f32; nz * nx];
    for i in 0..nz {
        let lo = h.saturating_sub(i);
        let hi = (nz + h - i).min(w.len());
        for k in lo..hi {
            let src = &tmp[(i + k - h) * nx..(i + k - h + 1) * nx];
            for (o, s) in out[i * nx..(i + 1) * nx].iter_mut().zip(src) {
                *o += w[k] * s;
            }
        }
    }
    out
}

impl ForwardOperator for GaussianBlur {
    fn model_shape(&self) -> ModelShape {
        self.shape
    }
    fn data_len(&self) -> usize {
        self.shape.len()
    }
    fn forward(&self, m: &[f32]) -> Result<Vec<f32>> {
        check_len("model", self.shape.len(), m)?;
        Ok(self.apply(m))
    }
    fn misfit_and_gradient(&self, m: &[f32], d_obs: &[f32]) -> Result<(f64, Vec<f32>)> {
        check_len("observed data", self.shape.len(), d_obs)?;
        let d = self.forward(m)?;
        Ok(linear_misfit(self.misfit, &d, d_obs, |r| self.apply(r)))
    }
    fn l2_misfit(&self) -> bool {
        self.misfit == Misfit::L2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn rand_vec(n: usize, seed: u64) -> Vec<f32> {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| r.random_range(-1.0..1.0)).collect()
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    #[test]
    fn blur_is_self_adjoint_and_preserves_constants_inside() {
        let s = ModelShape::new(20, 31);
        let b = GaussianBlur::new(s, 2.0, Misfit::L2).unwrap();
        let (x, y) = (rand_vec(s.len(), 1), rand_vec(s.len(), 2));
        let (lhs, rhs) = (dot(&b.apply(&x), &y), dot(&x, &b.apply(&y)));
        assert!(
            (lhs - rhs).abs() < 1e-5 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
        let c = b.apply(&vec![1.0; s.len()]);
        assert!((c[10 * 31 + 15] - 1.0).abs() < 1e-5);
        assert!(c[0] < 0.5);
    }

    #[test]
    fn linear_gradients_match_finite_differences() {
        let s = ModelShape::new(9, 11);
        let mask: Vec<bool> = (0..s.len()).map(|i| i % 3 != 0).collect();
        let ops: Vec<Box<dyn ForwardOperator>> = vec![
            Box::new(Mask::new(s, &mask, Misfit::L2).unwrap()),
            Box::new(GaussianBlur::new(s, 1.3, Misfit::L2).unwrap()),
        ];
        for op in &ops {
            let m = rand_vec(s.len(), 3);
            let d_obs = rand_vec(op.data_len(), 4);
            let dir = rand_vec(s.len(), 5);
            let (_, g) = op.misfit_and_gradient(&m, &d_obs).unwrap();
            let h = 1e-2f32;
            let at = |t: f32| {
                let mm: Vec<f32> = m.iter().zip(&dir).map(|(a, b)| a + t * b).collect();
                op.misfit_and_gradient(&mm, &d_obs).unwrap().0
            };
            let fd = (at(h) - at(-h)) / (2.0 * f64::from(h));
            let an = dot(&g, &dir);
            assert!((fd - an).abs() < 1e-3 * an.abs(), "{fd} vs {an}");
        }
        assert!(ops[0].forward(&[0.0; 3]).is_err());
    }
}
