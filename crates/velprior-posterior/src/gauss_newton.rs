//! A Gauss–Newton draw of x_0 ∝ N(x_0; a, r² I) · exp(−½‖F(x_0) − d‖² / s) with F linearised
//! at the anchor a (or at a fixed point m, F(x) ≈ F(m) + J_m (x − m), written below with
//! J = J_m and F(a) = F(m) + J_m (a − m)), by randomise-then-optimise (Bardsley et al. 2014):
//! the data perturbed by N(0, s I) and the anchor by N(0, r² I), then the linear least-squares
//! problem
//!
//!   (JᵀJ / s + I / r²) δ = Jᵀ(d + √s ε − F(a)) / s + ξ / r,   x_0 = a + δ.
//!
//! It is solved from the prior's draw δ = r ξ (its solution where the data say nothing):
//! δ = r ξ + δ' with (JᵀJ / s + I / r²) δ' = Jᵀ(d + √s ε − F(a) − r J ξ) / s, by conjugate
//! gradients from δ' = 0. The right-hand side lies in the range of Jᵀ, which A maps to itself,
//! so truncated CG corrects the draw only where the data constrain it and leaves the prior's
//! spread everywhere else; CG on the unshifted system from δ = 0 would keep ξ only in its few
//! Krylov directions and return draws far narrower than the posterior. Each iteration costs
//! one J u (a forward difference from the known F(a): one forward solve) and one Jᵀw (an
//! adjoint solve over the forward wavefields kept at the linearisation point). For a linear F a converged solve is an exact draw of that
//! Gaussian, and so is one of k iterations where J has rank k; truncated CG is otherwise a
//! regularised step, as in truncated-Newton FWI. The stiff seismic likelihood, whose
//! curvature keeps Langevin steps small, is what this step is for.
//!
//! Given an estimate h of diag(JᵀJ) / s ([`crate::illumination::data_precision`]), CG is
//! preconditioned by the diagonal h + 1 / r² (Jacobi): on surface seismic data h falls by two to
//! four orders of magnitude from the top of the model to its bottom, and plain CG spends its
//! few iterations on the shallow cells. The converged draw is the same; a truncated one fits
//! the deep cells' data too. The preconditioner keeps the correction where the data constrain
//! the model (it is zero where h is).

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::Result;
use crate::problem::Problem;

/// Relative size of the finite-difference step of J u: ‖h u‖_∞ = `FD_STEP` (normalised units,
/// where models span [−1, 1]).
const FD_STEP: f32 = 1e-3;

/// A draw of x_0 as above (normalised units) about `anchor` with prior variance `r2`, after
/// `cg_iterations` conjugate-gradient iterations (preconditioned by `data_precision` + 1 / r²
/// where given: an estimate of diag(JᵀJ) / s), with F linearised at `at` (the anchor itself,
/// or a fixed point such as the posterior's mode): F(a + δ) ≈ F(m) + J_m (a − m) + J_m δ. The
/// anchor and `at` are first moved inside [−1 + h, 1 − h] (h the difference step), so that the
/// differences stay in the prior's range of velocities.
pub fn gauss_newton_draw(
    problem: &Problem,
    anchor: &[f32],
    at: &[f32],
    r2: f64,
    cg_iterations: usize,
    data_precision: Option<&[f32]>,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<f32>> {
    let s = problem.likelihood_scale;
    let inside = 1.0 - FD_STEP;
    let inside = |x: &[f32]| -> Vec<f32> { x.iter().map(|&v| v.clamp(-inside, inside)).collect() };
    let (anchor, at) = (inside(anchor), inside(at));
    let (anchor, at) = (&anchor[..], &at[..]);
    let linearised = problem.linearise(at)?;
    let f_at = linearised.data();
    let offset: Vec<f64> = anchor
        .iter()
        .zip(at)
        .map(|(&a, &m)| f64::from(a) - f64::from(m))
        .collect();
    let j_offset = jacobian_times(problem, at, f_at, &offset)?;
    let mut normal = || -> f64 { StandardNormal.sample(rng) };
    // d + √s ε − F(a), F(a) ≈ F(m) + J_m (a − m)
    let target: Vec<f32> = problem
        .observed
        .iter()
        .zip(f_at.iter().zip(&j_offset))
        .map(|(&d, (&f, &j))| {
            (f64::from(d) + s.sqrt() * normal() - f64::from(f) - f64::from(j)) as f32
        })
        .collect();
    let xi: Vec<f64> = (0..anchor.len()).map(|_| normal()).collect();
    let r = r2.sqrt();
    let prior_draw: Vec<f64> = xi.iter().map(|&z| r * z).collect();
    let j_prior = jacobian_times(problem, at, f_at, &prior_draw)?;
    let jt = |w: &[f32]| linearised.adjoint(w);
    // b' = Jᵀ(d + √s ε − F(a) − r J ξ) / s
    let shifted: Vec<f32> = target.iter().zip(&j_prior).map(|(t, j)| t - j).collect();
    let b: Vec<f64> = jt(&shifted)?.iter().map(|&g| f64::from(g) / s).collect();
    // A u = Jᵀ J u / s + u / r²
    let apply = |u: &[f64]| -> Result<Vec<f64>> {
        let ju = jacobian_times(problem, at, f_at, u)?;
        Ok(jt(&ju)?
            .iter()
            .zip(u)
            .map(|(&g, &u)| f64::from(g) / s + u / r2)
            .collect())
    };
    let inverse_diagonal: Option<Vec<f64>> = data_precision.map(|h| {
        h.iter()
            .map(|&h| 1.0 / (f64::from(h).max(0.0) + 1.0 / r2))
            .collect()
    });
    let correction = conjugate_gradients(apply, &b, cg_iterations, inverse_diagonal.as_deref())?;
    Ok(anchor
        .iter()
        .zip(prior_draw.iter().zip(&correction))
        .map(|(&a, (&p, &c))| (f64::from(a) + p + c) as f32)
        .collect())
}

/// J u at x by a forward difference of the forward operator from `fx` = F(x).
fn jacobian_times(problem: &Problem, x: &[f32], fx: &[f32], u: &[f64]) -> Result<Vec<f32>> {
    let size = u.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if size == 0.0 {
        return Ok(vec![0.0; problem.observed.len()]);
    }
    let h = f64::from(FD_STEP) / size;
    let shifted: Vec<f32> = x
        .iter()
        .zip(u)
        .map(|(&x, &u)| (f64::from(x) + h * u) as f32)
        .collect();
    Ok(problem
        .forward(&shifted)?
        .iter()
        .zip(fx)
        .map(|(&p, &f)| ((f64::from(p) - f64::from(f)) / h) as f32)
        .collect())
}

/// `iterations` steps of conjugate gradients on A δ = b from δ = 0 (A symmetric positive
/// definite, given as its product), preconditioned by the diagonal matrix whose inverse is
/// `inverse_diagonal` where given; stops early where the residual vanishes.
fn conjugate_gradients(
    apply: impl Fn(&[f64]) -> Result<Vec<f64>>,
    b: &[f64],
    iterations: usize,
    inverse_diagonal: Option<&[f64]>,
) -> Result<Vec<f64>> {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
    let precondition = |r: &[f64]| -> Vec<f64> {
        match inverse_diagonal {
            Some(d) => r.iter().zip(d).map(|(r, d)| r * d).collect(),
            None => r.to_vec(),
        }
    };
    let mut x = vec![0.0; b.len()];
    let mut r = b.to_vec();
    let mut z = precondition(&r);
    let mut p = z.clone();
    let mut rz = dot(&r, &z);
    for _ in 0..iterations {
        if rz == 0.0 {
            break;
        }
        let ap = apply(&p)?;
        let alpha = rz / dot(&p, &ap);
        x.iter_mut().zip(&p).for_each(|(x, p)| *x += alpha * p);
        r.iter_mut().zip(&ap).for_each(|(r, a)| *r -= alpha * a);
        z = precondition(&r);
        let rz_next = dot(&r, &z);
        let beta = rz_next / rz;
        p.iter_mut().zip(&z).for_each(|(p, z)| *p = z + beta * *p);
        rz = rz_next;
    }
    Ok(x)
}
