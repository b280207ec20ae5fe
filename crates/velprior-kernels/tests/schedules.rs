//! Schedules, respacing and the VP-SDE against independent f64 formulas.

mod common;
use common::*;
use velprior_kernels::respacing::{
    LOG_SNR_MIN, log_snr_timesteps, quadratic_timesteps, uniform_timesteps,
};
use velprior_kernels::{BetaSchedule, Schedule, VpSde};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn tables_match_reference_formulas() {
    for kind in KINDS {
        for t_len in [1000, 50, 2] {
            let s = schedule(kind, t_len);
            let b = ref_betas(kind, t_len);
            let ab = ref_abar(&b);
            let abp: Vec<f64> = (0..t_len)
                .map(|i| if i == 0 { 1.0 } else { ab[i - 1] })
                .collect();
            let pv: Vec<f64> = (0..t_len)
                .map(|i| b[i] * (1.0 - abp[i]) / (1.0 - ab[i]))
                .collect();
            let want: Vec<(&str, Vec<f64>)> = vec![
                ("betas", b.clone()),
                ("alphas", b.iter().map(|x| 1.0 - x).collect()),
                ("alphas_cumprod", ab.clone()),
                ("alphas_cumprod_prev", abp.clone()),
                ("sqrt_alphas_cumprod", ab.iter().map(|x| x.sqrt()).collect()),
                (
                    "sqrt_one_minus",
                    ab.iter().map(|x| (1.0 - x).sqrt()).collect(),
                ),
                ("posterior_variance", pv.clone()),
                (
                    "posterior_log_variance_clipped",
                    (0..t_len)
                        .map(|i| pv[if i == 0 { 1 } else { i }].ln())
                        .collect(),
                ),
                (
                    "posterior_mean_coef1",
                    (0..t_len)
                        .map(|i| b[i] * abp[i].sqrt() / (1.0 - ab[i]))
                        .collect(),
                ),
                (
                    "posterior_mean_coef2",
                    (0..t_len)
                        .map(|i| (1.0 - abp[i]) * (1.0 - b[i]).sqrt() / (1.0 - ab[i]))
                        .collect(),
                ),
            ];
            let t32 = s.tables();
            let t64 = s.tables_f64();
            let got: Vec<(&[f32], &[f64])> = vec![
                (&t32.betas, &t64.betas),
                (&t32.alphas, &t64.alphas),
                (&t32.alphas_cumprod, &t64.alphas_cumprod),
                (&t32.alphas_cumprod_prev, &t64.alphas_cumprod_prev),
                (&t32.sqrt_alphas_cumprod, &t64.sqrt_alphas_cumprod),
                (
                    &t32.sqrt_one_minus_alphas_cumprod,
                    &t64.sqrt_one_minus_alphas_cumprod,
                ),
                (&t32.posterior_variance, &t64.posterior_variance),
                (
                    &t32.posterior_log_variance_clipped,
                    &t64.posterior_log_variance_clipped,
                ),
                (&t32.posterior_mean_coef1, &t64.posterior_mean_coef1),
                (&t32.posterior_mean_coef2, &t64.posterior_mean_coef2),
            ];
            for ((name, w), (g32, g64)) in want.iter().zip(got) {
                assert_eq!(g32.len(), t_len, "{kind} {name}");
                for i in 0..t_len {
                    if *name == "posterior_variance" && i == 0 {
                        assert_eq!(g64[0], 0.0, "{kind}: posterior variance at t = 0");
                        continue;
                    }
                    if *name == "posterior_log_variance_clipped" && t_len < 2 {
                        continue;
                    }
                    assert!(
                        rel(g64[i], w[i]) < 1e-9,
                        "{kind} T={t_len} {name}[{i}]: f64 {} vs reference {}",
                        g64[i],
                        w[i]
                    );
                    assert!(
                        rel(g32[i] as f64, w[i]) < 1e-6,
                        "{kind} T={t_len} {name}[{i}]: f32 {} vs reference {}",
                        g32[i],
                        w[i]
                    );
                }
            }
        }
    }
}

#[test]
fn alpha_bar_is_monotone_and_in_the_open_unit_interval() {
    for kind in KINDS {
        for t_len in [1, 10, 100, 1000, 4000] {
            let s = schedule(kind, t_len);
            let ab = &s.tables_f64().alphas_cumprod;
            let ab32 = s.alphas_cumprod();
            for i in 0..t_len {
                assert!(
                    ab[i] > 0.0 && ab[i] < 1.0,
                    "{kind} T={t_len}: abar[{i}] = {}",
                    ab[i]
                );
                assert!(
                    ab32[i] > 0.0 && ab32[i] < 1.0,
                    "{kind} T={t_len}: f32 abar[{i}]"
                );
                if i > 0 {
                    assert!(
                        ab[i] < ab[i - 1],
                        "{kind} T={t_len}: abar not decreasing at {i}"
                    );
                    assert!(ab32[i] <= ab32[i - 1], "{kind} T={t_len}: f32 abar at {i}");
                }
                let b = s.betas()[i];
                assert!(b > 0.0 && b <= 0.999, "{kind}: beta[{i}] = {b}");
            }
        }
    }
}

#[test]
fn cosine_and_sigmoid_clip_beta_at_0_999() {
    for kind in ["cosine", "sigmoid"] {
        let s = schedule(kind, 1000);
        assert_eq!(s.tables_f64().betas[999], 0.999, "{kind}");
        assert!(s.tables_f64().betas[998] < 0.999, "{kind}");
    }
    // Linear endpoints as in Ho et al.
    let s = Schedule::linear(1000).unwrap();
    assert_eq!(s.tables_f64().betas[0], 1e-4);
    assert!(rel(s.tables_f64().betas[999], 0.02) < 1e-12);
}

#[test]
fn invalid_schedules_are_errors() {
    assert!(Schedule::linear(0).is_err());
    let bad = [
        BetaSchedule::Linear {
            beta_start: 0.0,
            beta_end: 0.02,
        },
        BetaSchedule::Linear {
            beta_start: 0.1,
            beta_end: 0.05,
        },
        BetaSchedule::Linear {
            beta_start: 0.1,
            beta_end: 1.0,
        },
        BetaSchedule::Cosine {
            s: 0.0,
            max_beta: 0.999,
        },
        BetaSchedule::Cosine {
            s: 0.008,
            max_beta: 1.0,
        },
        BetaSchedule::Sigmoid {
            start: 3.0,
            end: -3.0,
            tau: 1.0,
            max_beta: 0.999,
        },
    ];
    for b in bad {
        assert!(Schedule::new(b.clone(), 100).is_err(), "{b:?}");
    }
}

#[test]
fn schedule_kind_round_trips_through_json() {
    for b in [
        BetaSchedule::linear(),
        BetaSchedule::cosine(),
        BetaSchedule::sigmoid(),
    ] {
        let j = serde_json::to_string(&b).unwrap();
        let back: BetaSchedule = serde_json::from_str(&j).unwrap();
        assert_eq!(back, b, "{j}");
    }
    let j = serde_json::to_string(&BetaSchedule::linear()).unwrap();
    assert_eq!(
        j,
        r#"{"kind":"linear","beta_start":0.0001,"beta_end":0.02}"#
    );
}

#[test]
fn respacing_with_every_step_is_the_identity() {
    for kind in KINDS {
        let s = schedule(kind, 200);
        let all: Vec<usize> = (0..200).collect();
        let r = s.respace(&all).unwrap();
        let (a, b) = (s.tables_f64(), r.tables_f64());
        for i in 0..200 {
            assert!(rel(b.betas[i], a.betas[i]) < 1e-9, "{kind} beta {i}");
            assert!(
                rel(b.alphas_cumprod[i], a.alphas_cumprod[i]) < 1e-12,
                "{kind} abar {i}"
            );
            if i > 0 {
                assert!(rel(b.posterior_variance[i], a.posterior_variance[i]) < 1e-9);
            }
        }
        assert_eq!(r.model_timesteps(), &all[..]);
    }
}

#[test]
fn respacing_keeps_the_marginals_of_the_kept_steps() {
    let s = Schedule::linear(1000).unwrap();
    let ab = ref_abar(&ref_betas("linear", 1000));
    let keep = uniform_timesteps(1000, 50).unwrap();
    assert_eq!(keep.len(), 50);
    assert_eq!((keep[0], keep[49]), (0, 999));
    assert!(keep.windows(2).all(|w| w[0] < w[1]));
    let r = s.respace(&keep).unwrap();
    assert_eq!(r.len(), 50);
    for (i, &k) in keep.iter().enumerate() {
        assert!(rel(r.tables_f64().alphas_cumprod[i], ab[k]) < 1e-10);
        assert_eq!(r.model_timestep(i).unwrap(), k);
        let prev = if i == 0 { 1.0 } else { ab[keep[i - 1]] };
        assert!(rel(r.tables_f64().betas[i], 1.0 - ab[k] / prev) < 1e-9);
    }
    // Respacing a respaced schedule composes the maps.
    let rr = r.respace(&[0, 10, 49]).unwrap();
    assert_eq!(rr.model_timesteps(), &[keep[0], keep[10], keep[49]]);
    assert!(rel(rr.tables_f64().alphas_cumprod[2], ab[999]) < 1e-10);
    // Quadratic spacing: increasing, dense near 0.
    let q = quadratic_timesteps(1000, 50).unwrap();
    assert_eq!(q.len(), 50);
    assert!(q.windows(2).all(|w| w[0] < w[1]) && q[1] - q[0] < q[49] - q[48]);
    s.respace(&q).unwrap();
}

/// Catches a log-SNR grid that is not the nearest timestep to each evenly spaced λ (a search on
/// the wrong side, λ of the wrong sign, the clip at λ = −5.1 lost, ends dropped) or that repeats
/// a timestep.
#[test]
fn log_snr_timesteps_are_nearest_to_evenly_spaced_log_snr() {
    for schedule in [
        Schedule::linear(1000).unwrap(),
        Schedule::cosine(1000).unwrap(),
    ] {
        let lambda: Vec<f64> = schedule
            .tables_f64()
            .alphas_cumprod
            .iter()
            .map(|&ab| 0.5 * (ab / (1.0 - ab)).ln())
            .collect();
        let steps = 12;
        let ts = log_snr_timesteps(&schedule, steps).unwrap();
        assert_eq!((ts.len(), ts[0], ts[steps - 1]), (steps, 0, 999));
        assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");
        let lo = lambda[999].max(LOG_SNR_MIN);
        for (i, &t) in ts.iter().enumerate().take(steps - 1) {
            let target = lambda[0] + (lo - lambda[0]) * i as f64 / (steps - 1) as f64;
            for other in [t.saturating_sub(1), (t + 1).min(999)] {
                assert!(
                    (lambda[t] - target).abs() <= (lambda[other] - target).abs(),
                    "step {i}: timestep {t} is not the nearest to λ = {target}"
                );
            }
        }
    }
    // Every timestep when all are asked for; the ends when two are.
    let s = Schedule::cosine(50).unwrap();
    assert_eq!(
        log_snr_timesteps(&s, 50).unwrap(),
        (0..50).collect::<Vec<_>>()
    );
    assert_eq!(log_snr_timesteps(&s, 2).unwrap(), vec![0, 49]);
    assert!(log_snr_timesteps(&s, 51).is_err());
}

#[test]
fn invalid_respacings_are_errors() {
    let s = Schedule::linear(100).unwrap();
    assert!(s.respace(&[]).is_err());
    assert!(s.respace(&[0, 5, 5]).is_err());
    assert!(s.respace(&[3, 1]).is_err());
    assert!(s.respace(&[0, 100]).is_err());
    assert!(uniform_timesteps(100, 0).is_err());
    assert!(uniform_timesteps(100, 101).is_err());
    assert!(s.model_timestep(100).is_err());
}

#[test]
fn vp_sde_matches_its_closed_forms_and_discretisation() {
    let sde = VpSde::default();
    for &t in &[1e-6, 1e-3, 0.1, 0.5, 1.0] {
        let int = 0.1 * t + 0.5 * 19.9 * t * t;
        assert!(rel(sde.beta(t), 0.1 + 19.9 * t) < 1e-14);
        assert!(rel(sde.alpha_bar(t), (-int).exp()) < 1e-13);
        assert!(rel(sde.marginal_mean_coef(t), (-int / 2.0).exp()) < 1e-13);
        // σ(t) = √(1 − e^{−∫β}) ≈ √∫β for small t: check against a series, not 1 − exp.
        let want = (int - int * int / 2.0 + int.powi(3) / 6.0 - int.powi(4) / 24.0).sqrt();
        if int < 1e-2 {
            assert!(rel(sde.marginal_std(t), want) < 1e-8, "t = {t}");
        } else {
            assert!(rel(sde.marginal_std(t), (1.0 - (-int).exp()).sqrt()) < 1e-12);
        }
    }
    // The T = 1000 discretisation is the linear 1e-4 → 0.02 schedule ...
    let d = sde.discretize(1000).unwrap();
    let lin = Schedule::linear(1000).unwrap();
    for i in 0..1000 {
        assert!(rel(d.tables_f64().betas[i], lin.tables_f64().betas[i]) < 1e-12);
    }
    // ... whose ᾱ approaches the continuous one (first order in 1/T).
    for i in [99usize, 499, 999] {
        let t = (i + 1) as f64 / 1000.0;
        let a = d.tables_f64().alphas_cumprod[i].ln();
        let b = sde.alpha_bar(t).ln();
        assert!(rel(a, b) < 2e-2, "log abar at {t}: {a} vs {b}");
    }
    assert!(VpSde::new(0.0, 20.0).is_err());
    assert!(VpSde::new(5.0, 1.0).is_err());
}
