//! Source wavelets (Ricker), sampled on the modelling time axis.

use std::f64::consts::PI;

/// Ricker wavelet w(t) = (1 − 2π²f²(t−t0)²) exp(−π²f²(t−t0)²) sampled at t = n·dt, n = 0..nt.
///
/// `freq` in Hz, `dt` and `delay` (t0) in s. Returns `nt` samples (dimensionless, peak 1).
pub fn ricker(freq: f32, dt: f32, nt: usize, delay: f32) -> Vec<f32> {
    (0..nt)
        .map(|n| {
            let a = PI * f64::from(freq) * (n as f64 * f64::from(dt) - f64::from(delay));
            let b = a * a;
            ((1.0 - 2.0 * b) * (-b).exp()) as f32
        })
        .collect()
}

/// The Ricker wavelet exactly as the OpenFWI generator builds it: a window of
/// `nw = 2·⌊⌊2.2/(f·dt)⌋/2⌋ + 1` samples centred on sample `nw/2` (0-based), zero afterwards.
///
/// For f = 15 Hz, dt = 1 ms this is 147 samples with the peak at sample 73 (t0 = 73 ms).
pub fn ricker_openfwi(freq: f32, dt: f32, nt: usize) -> Vec<f32> {
    let nw = (2.2 / f64::from(freq) / f64::from(dt)) as usize;
    let nw = 2 * (nw / 2) + 1;
    let nc = (nw / 2) as f64;
    (0..nt)
        .map(|n| {
            if n >= nw {
                return 0.0;
            }
            let a = (nc - n as f64) * f64::from(freq) * f64::from(dt) * PI;
            let b = a * a;
            ((1.0 - 2.0 * b) * (-b).exp()) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openfwi_ricker_peaks_at_73_ms() {
        let w = ricker_openfwi(15.0, 1e-3, 1000);
        let imax = (0..w.len()).max_by(|&a, &b| w[a].total_cmp(&w[b])).unwrap();
        assert_eq!(imax, 73);
        assert!((w[73] - 1.0).abs() < 1e-6);
        assert_eq!(w[147], 0.0);
        let r = ricker(15.0, 1e-3, 1000, 0.073);
        assert!((r[60] - w[60]).abs() < 1e-6);
    }
}
