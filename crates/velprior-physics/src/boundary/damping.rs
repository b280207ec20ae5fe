//! The OpenFWI quadratic damping border (the `AbcCoef2D` profile of the OpenFWI generator).

use super::Padding;

/// 1-D damping profile (1/s) for `width` cells: d(i) = κ (i·dx/a)², i = 0..width, i = 0 next to
/// the model, a = (width−1)·dx, κ = 3·v_ref·ln(10⁷)/(2a).
pub fn damping_profile(width: usize, dx: f32, v_ref: f32) -> Vec<f32> {
    if width == 0 {
        return Vec::new();
    }
    let a = (width.max(2) - 1) as f64 * f64::from(dx);
    let kappa = 3.0 * f64::from(v_ref) * (1e7f64).ln() / (2.0 * a);
    (0..width)
        .map(|i| {
            let r = i as f64 * f64::from(dx) / a;
            (kappa * r * r) as f32
        })
        .collect()
}

/// Damping coefficient d·dt on the padded grid (nzp, nxp), row-major. Left and right borders
/// cover all rows; top and bottom only the model's columns (as OpenFWI, corners keep the lateral
/// profile).
pub fn damping_grid(pad: Padding, nz: usize, nx: usize, dx: f32, dt: f32, v_ref: f32) -> Vec<f32> {
    let (nzp, nxp) = (nz + pad.top + pad.bottom, nx + pad.left + pad.right);
    let mut k = vec![0.0f32; nzp * nxp];
    let pl = damping_profile(pad.left, dx, v_ref);
    let pr = damping_profile(pad.right, dx, v_ref);
    let pt = damping_profile(pad.top, dx, v_ref);
    let pb = damping_profile(pad.bottom, dx, v_ref);
    for i in 0..nzp {
        let row = &mut k[i * nxp..(i + 1) * nxp];
        for j in 0..pad.left {
            row[j] = pl[pad.left - 1 - j] * dt;
        }
        for j in 0..pad.right {
            row[pad.left + nx + j] = pr[j] * dt;
        }
        let zd = if i < pad.top {
            Some(pt[pad.top - 1 - i])
        } else if i >= pad.top + nz {
            Some(pb[i - pad.top - nz])
        } else {
            None
        };
        if let Some(d) = zd {
            for v in &mut row[pad.left..pad.left + nx] {
                *v = d * dt;
            }
        }
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_is_zero_at_model_and_kappa_at_edge() {
        let p = damping_profile(120, 10.0, 1500.0);
        assert_eq!(p[0], 0.0);
        let kappa = 3.0 * 1500.0 * (1e7f64).ln() / (2.0 * 1190.0);
        assert!((f64::from(p[119]) - kappa).abs() < 1e-3);
    }
}
