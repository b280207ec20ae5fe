//! A known Gaussian mixture on a 2-D subspace of R⁵ (with an isotropic residual), written out
//! densely: its checkpoint tensors, log-density and an independent sampler.

#![allow(dead_code)] // each test file uses part of it

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

pub const D: usize = 5;
pub const K: usize = 2;

/// A known mixture: 3 components in a 2-D subspace of R⁵ plus an isotropic residual.
pub struct Truth {
    pub mean: DVector<f64>,
    /// (K × D), orthonormal rows.
    pub basis: DMatrix<f64>,
    pub residual: f64,
    pub weights: Vec<f64>,
    pub means: Vec<DVector<f64>>,
    pub covs: Vec<DMatrix<f64>>,
}

/// Three components far apart (≥ 6 std).
pub fn truth() -> Truth {
    with_components(
        vec![0.5, 0.3, 0.2],
        vec![
            DVector::from_vec(vec![-4.0, 0.0]),
            DVector::from_vec(vec![4.0, 2.0]),
            DVector::from_vec(vec![0.0, -5.0]),
        ],
        vec![
            DMatrix::from_row_slice(2, 2, &[0.5, 0.2, 0.2, 0.3]),
            DMatrix::from_row_slice(2, 2, &[0.2, -0.05, -0.05, 0.4]),
            DMatrix::from_row_slice(2, 2, &[0.3, 0.0, 0.0, 0.1]),
        ],
    )
}

/// Two overlapping components: one bimodal, skewed density.
pub fn overlapping() -> Truth {
    with_components(
        vec![0.6, 0.4],
        vec![
            DVector::from_vec(vec![-1.2, 0.0]),
            DVector::from_vec(vec![1.2, 0.6]),
        ],
        vec![
            DMatrix::from_row_slice(2, 2, &[0.4, 0.15, 0.15, 0.3]),
            DMatrix::from_row_slice(2, 2, &[0.3, -0.1, -0.1, 0.5]),
        ],
    )
}

/// The components on a fixed random 2-D subspace of R⁵, residual variance 0.01.
fn with_components(weights: Vec<f64>, means: Vec<DVector<f64>>, covs: Vec<DMatrix<f64>>) -> Truth {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let g = DMatrix::from_fn(D, K, |_, _| StandardNormal.sample(&mut rng));
    let q = g.qr().q();
    Truth {
        mean: DVector::from_vec(vec![0.3, -0.2, 0.1, 0.0, 0.5]),
        basis: q.transpose(),
        residual: 0.01,
        weights,
        means,
        covs,
    }
}

impl Truth {
    /// The mixture's checkpoint tensors (the format of `gmm.rs`).
    pub fn tensors(&self) -> HashMap<String, Tensor> {
        let dev = Device::Cpu; // host: test tensors
        let f = |v: &f64| *v as f32;
        let mut t = HashMap::new();
        let mut put = |name: &str, v: Vec<f32>, shape: Vec<usize>| {
            t.insert(name.to_string(), Tensor::from_vec(v, shape, &dev).unwrap());
        };
        put("gmm.mean", self.mean.iter().map(f).collect(), vec![D]);
        put(
            "gmm.components",
            self.basis.transpose().iter().map(f).collect(),
            vec![K, D],
        );
        put("gmm.residual_variance", vec![self.residual as f32], vec![1]);
        let kk = self.weights.len();
        put(
            "gmm.weights",
            self.weights.iter().map(f).collect(),
            vec![kk],
        );
        put(
            "gmm.means",
            self.means.iter().flat_map(|m| m.iter().map(f)).collect(),
            vec![kk, K],
        );
        put(
            "gmm.covariances",
            self.covs
                .iter()
                .flat_map(|c| c.transpose().iter().map(f).collect::<Vec<_>>())
                .collect(),
            vec![kk, K, K],
        );
        t
    }

    /// Component j as a dense D-dimensional Gaussian: mean μ + Uᵀmⱼ, covariance
    /// UᵀCⱼU + σ²(I − UᵀU).
    pub fn dense(&self, j: usize) -> (DVector<f64>, DMatrix<f64>) {
        let ut = self.basis.transpose();
        let mean = &self.mean + &ut * &self.means[j];
        let off = DMatrix::identity(D, D) - &ut * &self.basis;
        (
            mean,
            &ut * &self.covs[j] * &self.basis + off * self.residual,
        )
    }

    /// log Σⱼ πⱼ N(x; ·) by dense Cholesky factorisations (log-sum-exp).
    pub fn log_density(&self, x: &DVector<f64>) -> f64 {
        let logs: Vec<f64> = (0..self.weights.len())
            .map(|j| {
                let (m, c) = self.dense(j);
                let chol = c.cholesky().unwrap();
                let r = x - m;
                let quad = r.dot(&chol.solve(&r));
                let log_det = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
                self.weights[j].ln()
                    - 0.5 * (quad + log_det + D as f64 * (2.0 * std::f64::consts::PI).ln())
            })
            .collect();
        let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        top + logs.iter().map(|l| (l - top).exp()).sum::<f64>().ln()
    }

    /// `n` draws by ancestral sampling with dense factorisations (independent of the crate).
    pub fn sample(&self, n: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let factors: Vec<_> = (0..self.weights.len())
            .map(|j| {
                let (m, c) = self.dense(j);
                (m, c.cholesky().unwrap().l())
            })
            .collect();
        let mut out = Vec::with_capacity(n * D);
        for _ in 0..n {
            let mut u: f64 = rng.random();
            let j = (0..self.weights.len())
                .find(|&j| {
                    u -= self.weights[j];
                    u < 0.0
                })
                .unwrap_or(self.weights.len() - 1);
            let e = DVector::from_fn(D, |_, _| StandardNormal.sample(&mut rng));
            let x = &factors[j].0 + &factors[j].1 * e;
            out.extend(x.iter().map(|&v| v as f32));
        }
        out
    }
}

pub fn as_vector(x: &[f32]) -> DVector<f64> {
    DVector::from_iterator(x.len(), x.iter().map(|&v| v as f64))
}
