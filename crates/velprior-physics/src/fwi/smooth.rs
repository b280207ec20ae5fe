//! Gaussian smoothing of models (the smoothed FWI starting model) and causal Butterworth
//! low-pass filtering of traces (multiscale FWI).

use crate::geometry::ModelShape;

/// Index into 0..n of `i` under half-sample symmetric reflection (d c b a | a b c d | d c ...),
/// repeated as often as needed (scipy.ndimage mode 'reflect').
fn reflect(mut i: isize, n: isize) -> usize {
    let period = 2 * n;
    i = i.rem_euclid(period);
    (if i < n { i } else { period - 1 - i }) as usize
}

/// Gaussian smoothing with σ in cells, kernel radius ⌊4σ + 0.5⌋, half-sample symmetric
/// boundaries — `scipy.ndimage.gaussian_filter(v, σ)` as RED-DiffEq builds its start model.
pub fn gaussian_smooth(v: &[f32], shape: ModelShape, sigma: f32) -> Vec<f32> {
    if sigma <= 0.0 {
        return v.to_vec();
    }
    let w = gaussian_kernel(sigma);
    let r = (w.len() / 2) as isize;
    let (nz, nx) = (shape.nz as isize, shape.nx as isize);
    let mut tmp = vec![0.0f64; v.len()];
    for i in 0..nz {
        for j in 0..nx {
            tmp[(i * nx + j) as usize] = (-r..=r)
                .map(|k| w[(k + r) as usize] * f64::from(v[(i * nx) as usize + reflect(j + k, nx)]))
                .sum();
        }
    }
    let mut out = vec![0.0f32; v.len()];
    for i in 0..nz {
        for j in 0..nx {
            let s: f64 = (-r..=r)
                .map(|k| w[(k + r) as usize] * tmp[reflect(i + k, nz) * nx as usize + j as usize])
                .sum();
            out[(i * nx + j) as usize] = s as f32;
        }
    }
    out
}

/// The normalised 1-D Gaussian kernel of [`gaussian_smooth`] (σ > 0 cells): weights at
/// offsets −r..=r, r = ⌊4σ + 0.5⌋, summing to 1.
pub fn gaussian_kernel(sigma: f32) -> Vec<f64> {
    let r = (4.0 * f64::from(sigma) + 0.5) as isize;
    let w: Vec<f64> = (-r..=r)
        .map(|k| (-((k * k) as f64) / (2.0 * f64::from(sigma).powi(2))).exp())
        .collect();
    let s: f64 = w.iter().sum();
    w.iter().map(|x| x / s).collect()
}

/// Causal 4th-order Butterworth low-pass of one trace sampled at `dt` (s), corner `fc` (Hz):
/// two cascaded biquads (bilinear transform, Q = 0.5412 and 1.3066). Being causal and time
/// invariant, filtering the observed data equals modelling with the filtered wavelet exactly.
pub fn lowpass(trace: &mut [f32], dt: f32, fc: f32) {
    for q in [0.541_196_1f64, 1.306_563f64] {
        let w0 = 2.0 * std::f64::consts::PI * f64::from(fc) * f64::from(dt);
        let (sn, cs) = w0.sin_cos();
        let alpha = sn / (2.0 * q);
        let a0 = 1.0 + alpha;
        let (b0, b1, b2) = (
            (1.0 - cs) / 2.0 / a0,
            (1.0 - cs) / a0,
            (1.0 - cs) / 2.0 / a0,
        );
        let (a1, a2) = (-2.0 * cs / a0, (1.0 - alpha) / a0);
        let (mut x1, mut x2, mut y1, mut y2) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for t in trace.iter_mut() {
            let x0 = f64::from(*t);
            let y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
            (x2, x1, y2, y1) = (x1, x0, y1, y0);
            *t = y0 as f32;
        }
    }
}

/// Low-pass every trace of data laid out as shots of (nt, n_rec) (time first); `n_rec` gives
/// the receivers of each shot.
pub fn lowpass_gathers(data: &mut [f32], nt: usize, n_rec: &[usize], dt: f32, fc: f32) {
    let mut trace = vec![0.0f32; nt];
    let mut rest = data;
    for &nrec in n_rec {
        let (gather, tail) = rest.split_at_mut(nt * nrec);
        rest = tail;
        for r in 0..nrec {
            for t in 0..nt {
                trace[t] = gather[t * nrec + r];
            }
            lowpass(&mut trace, dt, fc);
            for t in 0..nt {
                gather[t * nrec + r] = trace[t];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_matches_scipy_convention() {
        let idx: Vec<usize> = (-4..8).map(|i| reflect(i, 4)).collect();
        assert_eq!(idx, vec![3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0]);
    }

    #[test]
    fn lowpass_keeps_low_and_removes_high_frequencies() {
        let (n, dt) = (2000, 1e-3f32);
        let sig = |f: f32| {
            (0..n)
                .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 * dt).sin())
                .collect::<Vec<f32>>()
        };
        let amp = |x: &[f32]| x[1000..].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let mut lo = sig(3.0);
        lowpass(&mut lo, dt, 10.0);
        assert!((amp(&lo) - 1.0).abs() < 0.02, "{}", amp(&lo));
        let mut hi = sig(40.0);
        lowpass(&mut hi, dt, 10.0);
        assert!(amp(&hi) < 0.005, "{}", amp(&hi));
    }
}
