//! Gaussian smoothing of models (the smoothed FWI starting model) and zero-phase low-pass
//! filtering of traces (multiscale FWI).

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
    let r = (4.0 * f64::from(sigma) + 0.5) as isize;
    let w: Vec<f64> = (-r..=r).map(|k| (-((k * k) as f64) / (2.0 * f64::from(sigma).powi(2))).exp()).collect();
    let s: f64 = w.iter().sum();
    let w: Vec<f64> = w.iter().map(|x| x / s).collect();
    let (nz, nx) = (shape.nz as isize, shape.nx as isize);
    let mut tmp = vec![0.0f64; v.len()];
    for i in 0..nz {
        for j in 0..nx {
            tmp[(i * nx + j) as usize] =
                (-r..=r).map(|k| w[(k + r) as usize] * f64::from(v[(i * nx) as usize + reflect(j + k, nx)])).sum();
        }
    }
    let mut out = vec![0.0f32; v.len()];
    for i in 0..nz {
        for j in 0..nx {
            let s: f64 = (-r..=r).map(|k| w[(k + r) as usize] * tmp[reflect(i + k, nz) * nx as usize + j as usize]).sum();
            out[(i * nx + j) as usize] = s as f32;
        }
    }
    out
}

/// Zero-phase low-pass of one trace sampled at `dt` (s): FFT, multiply by a cosine taper that
/// is 1 below 0.8·`fc` and 0 above `fc` (Hz), inverse FFT.
pub fn lowpass(trace: &mut [f32], dt: f32, fc: f32, fft: &FftPair) {
    use rustfft::num_complex::Complex;
    let n = trace.len();
    let mut buf: Vec<Complex<f32>> = trace.iter().map(|&x| Complex::new(x, 0.0)).collect();
    fft.fwd.process(&mut buf);
    for (k, b) in buf.iter_mut().enumerate() {
        let kk = k.min(n - k);
        let f = kk as f32 / (n as f32 * dt);
        let h = if f <= 0.8 * fc {
            1.0
        } else if f >= fc {
            0.0
        } else {
            0.5 * (1.0 + (std::f32::consts::PI * (f - 0.8 * fc) / (0.2 * fc)).cos())
        };
        *b *= h;
    }
    fft.inv.process(&mut buf);
    for (t, b) in trace.iter_mut().zip(&buf) {
        *t = b.re / n as f32;
    }
}

/// Forward and inverse FFT plans of one length.
pub struct FftPair {
    fwd: std::sync::Arc<dyn rustfft::Fft<f32>>,
    inv: std::sync::Arc<dyn rustfft::Fft<f32>>,
}

impl FftPair {
    pub fn new(n: usize) -> Self {
        let mut p = rustfft::FftPlanner::new();
        Self { fwd: p.plan_fft_forward(n), inv: p.plan_fft_inverse(n) }
    }
}

/// Low-pass every trace of data laid out as shots of (nt, n_rec) (time first).
pub fn lowpass_gathers(data: &mut [f32], nt: usize, dt: f32, fc: f32) {
    let fft = FftPair::new(nt);
    let mut trace = vec![0.0f32; nt];
    for gather in data.chunks_mut(nt * (data.len() / nt).max(1)) {
        let nrec = gather.len() / nt;
        for r in 0..nrec {
            for t in 0..nt {
                trace[t] = gather[t * nrec + r];
            }
            lowpass(&mut trace, dt, fc, &fft);
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
        let (n, dt) = (1000, 1e-3f32);
        let fft = FftPair::new(n);
        let sig = |f: f32| (0..n).map(|i| (2.0 * std::f32::consts::PI * f * i as f32 * dt).sin()).collect::<Vec<f32>>();
        let mut lo = sig(5.0);
        lowpass(&mut lo, dt, 10.0, &fft);
        assert!(lo.iter().zip(sig(5.0)).all(|(a, b)| (a - b).abs() < 1e-4));
        let mut hi = sig(30.0);
        lowpass(&mut hi, dt, 10.0, &fft);
        assert!(hi.iter().all(|a| a.abs() < 1e-4));
    }
}
