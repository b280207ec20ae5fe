//! Every fused op on CPU against an f64 reference formula written here, for every schedule, on
//! random inputs with random per-sample timesteps (including t = 0 and t = T − 1): the error must
//! be ≤ 1e-6 relative to the scale Σ|c_k x_k| of the terms being combined.

mod common;
use candle_core::{DType, Device, Tensor};
use common::*;
use rand::Rng;
use velprior_kernels::respacing::uniform_timesteps;
use velprior_kernels::{
    DdimStep, DdpmStep, DdpmVariance, VpSde, ddim_step, ddpm_step, eps_from_v, euler_maruyama_step,
    guided_update, langevin_step, q_sample, tweedie_x0, v_target, x0_from_v,
};

const REL: f64 = 1e-6;
const T: usize = 1000;
/// (N, 1, H, W) small batch, and a batch whose samples straddle the CPU loop's blocks.
const SHAPES: [&[usize]; 2] = [&[6, 1, 9, 11], &[5, 1, 10007]];

/// Per-sample timesteps: t = 0, t = len − 1, then random.
fn timesteps(rng: &mut rand_chacha::ChaCha8Rng, n: usize, len: usize) -> Vec<usize> {
    (0..n)
        .map(|i| match i {
            0 => 0,
            1 => len - 1,
            _ => rng.random_range(0..len),
        })
        .collect()
}

/// Reference per-index ᾱ_t of a schedule and the derived ᾱ_{t−1}, β_t.
struct RefSched {
    ab: Vec<f64>,
}

impl RefSched {
    fn new(kind: &str) -> Self {
        RefSched {
            ab: ref_abar(&ref_betas(kind, T)),
        }
    }
    fn respaced(&self, keep: &[usize]) -> Self {
        RefSched {
            ab: keep.iter().map(|&k| self.ab[k]).collect(),
        }
    }
    fn ab(&self, t: usize) -> f64 {
        self.ab[t]
    }
    fn abp(&self, t: usize) -> f64 {
        if t == 0 { 1.0 } else { self.ab[t - 1] }
    }
    fn beta(&self, t: usize) -> f64 {
        1.0 - self.ab(t) / self.abp(t)
    }
}

/// Runs `reference(n, i)` for every element i of sample n.
fn reference(shape: &[usize], f: impl Fn(usize, usize) -> V) -> Vec<V> {
    let per = shape[1..].iter().product::<usize>();
    (0..shape[0] * per).map(|i| f(i / per, i)).collect()
}

#[test]
fn q_sample_tweedie_and_v_match_reference() {
    let mut rng = rng(1);
    for kind in KINDS {
        let s = schedule(kind, T);
        let r = RefSched::new(kind);
        for shape in SHAPES {
            let (a, at) = randn(&mut rng, shape);
            let (b, bt) = randn(&mut rng, shape);
            let ts = timesteps(&mut rng, shape[0], T);
            let sa = |n: usize| r.ab(ts[n]).sqrt();
            let so = |n: usize| (1.0 - r.ab(ts[n])).sqrt();
            let cases: Vec<(&str, Tensor, Vec<V>)> = vec![
                (
                    "q_sample",
                    q_sample(&at, &bt, &ts[..], &s).unwrap(),
                    reference(shape, |n, i| lin(&[(sa(n), inp(a[i])), (so(n), inp(b[i]))])),
                ),
                (
                    "tweedie_x0",
                    tweedie_x0(&at, &bt, &ts[..], &s).unwrap(),
                    reference(shape, |n, i| {
                        lin(&[(1.0 / sa(n), inp(a[i])), (-so(n) / sa(n), inp(b[i]))])
                    }),
                ),
                (
                    "v_target",
                    v_target(&at, &bt, &ts[..], &s).unwrap(),
                    reference(shape, |n, i| {
                        lin(&[(sa(n), inp(b[i])), (-so(n), inp(a[i]))])
                    }),
                ),
                (
                    "eps_from_v",
                    eps_from_v(&at, &bt, &ts[..], &s).unwrap(),
                    reference(shape, |n, i| lin(&[(so(n), inp(a[i])), (sa(n), inp(b[i]))])),
                ),
                (
                    "x0_from_v",
                    x0_from_v(&at, &bt, &ts[..], &s).unwrap(),
                    reference(shape, |n, i| {
                        lin(&[(sa(n), inp(a[i])), (-so(n), inp(b[i]))])
                    }),
                ),
            ];
            for (name, got, want) in cases {
                assert_eq!(got.dims(), shape, "{name}");
                assert_close(&format!("{kind} {name} {shape:?}"), &flat(&got), &want, REL);
            }
        }
    }
}

/// Reference DDPM ancestral step.
fn ddpm_ref(r: &RefSched, t: usize, x: f32, e: f32, z: Option<f32>, o: &DdpmStep) -> V {
    let (ab, abp, beta) = (r.ab(t), r.abp(t), r.beta(t));
    let mut x0 = lin(&[
        (1.0 / ab.sqrt(), inp(x)),
        (-(1.0 - ab).sqrt() / ab.sqrt(), inp(e)),
    ]);
    if let Some((lo, hi)) = o.clip_x0 {
        x0 = clamp(x0, lo as f64, hi as f64);
    }
    let mean = lin(&[
        (beta * abp.sqrt() / (1.0 - ab), x0),
        ((1.0 - abp) * (1.0 - beta).sqrt() / (1.0 - ab), inp(x)),
    ]);
    let var = match o.variance {
        DdpmVariance::Posterior => beta * (1.0 - abp) / (1.0 - ab),
        DdpmVariance::Beta if t == 0 => 0.0,
        DdpmVariance::Beta => beta,
    };
    match z {
        Some(z) => lin(&[(1.0, mean), (var.sqrt(), inp(z))]),
        None => mean,
    }
}

/// Reference DDIM step (the paper's σ formula, eq. 16).
fn ddim_ref(r: &RefSched, t: usize, x: f32, e: f32, z: Option<f32>, o: &DdimStep) -> V {
    let (ab, abp) = (r.ab(t), r.abp(t));
    let mut x0 = lin(&[
        (1.0 / ab.sqrt(), inp(x)),
        (-(1.0 - ab).sqrt() / ab.sqrt(), inp(e)),
    ]);
    let mut eps = inp(e);
    if let Some((lo, hi)) = o.clip_x0 {
        x0 = clamp(x0, lo as f64, hi as f64);
        eps = lin(&[
            (1.0 / (1.0 - ab).sqrt(), inp(x)),
            (-ab.sqrt() / (1.0 - ab).sqrt(), x0),
        ]);
    }
    let sigma = o.eta * ((1.0 - abp) / (1.0 - ab)).sqrt() * (1.0 - ab / abp).sqrt();
    let dir = (1.0 - abp - sigma * sigma).max(0.0).sqrt();
    let mut terms = vec![(abp.sqrt(), x0), (dir, eps)];
    if let Some(z) = z {
        terms.push((sigma, inp(z)));
    }
    lin(&terms)
}

#[test]
fn ddpm_step_matches_reference() {
    let mut rng = rng(2);
    for kind in KINDS {
        let s = schedule(kind, T);
        let r = RefSched::new(kind);
        for shape in SHAPES {
            let (x, xt) = randn(&mut rng, shape);
            let (e, et) = randn(&mut rng, shape);
            let (z, zt) = randn(&mut rng, shape);
            let ts = timesteps(&mut rng, shape[0], T);
            for variance in [DdpmVariance::Posterior, DdpmVariance::Beta] {
                for clip_x0 in [None, Some((-1.0, 1.0))] {
                    let o = DdpmStep { variance, clip_x0 };
                    let got = ddpm_step(&xt, &et, Some(&zt), &ts[..], &s, &o).unwrap();
                    let want = reference(shape, |n, i| {
                        ddpm_ref(&r, ts[n], x[i], e[i], Some(z[i]), &o)
                    });
                    assert_close(&format!("{kind} ddpm {o:?}"), &flat(&got), &want, REL);
                }
            }
            // Last step (t = 0) needs no noise.
            let o = DdpmStep::default();
            let got = ddpm_step(&xt, &et, None, &0usize, &s, &o).unwrap();
            let want = reference(shape, |_, i| ddpm_ref(&r, 0, x[i], e[i], None, &o));
            assert_close(&format!("{kind} ddpm t=0"), &flat(&got), &want, REL);
        }
    }
}

#[test]
fn ddim_step_matches_reference_on_full_and_respaced_schedules() {
    let mut rng = rng(3);
    for kind in KINDS {
        let full = schedule(kind, T);
        let keep = uniform_timesteps(T, 50).unwrap();
        let rfull = RefSched::new(kind);
        let rsp = rfull.respaced(&keep);
        let sp = full.respace(&keep).unwrap();
        for (s, r, len) in [(&full, &rfull, T), (&sp, &rsp, 50)] {
            let shape = SHAPES[0];
            let (x, xt) = randn(&mut rng, shape);
            let (e, et) = randn(&mut rng, shape);
            let (z, zt) = randn(&mut rng, shape);
            let ts = timesteps(&mut rng, shape[0], len);
            for eta in [0.0, 0.5, 1.0] {
                for clip_x0 in [None, Some((-1.0, 1.0))] {
                    let o = DdimStep { eta, clip_x0 };
                    let got = ddim_step(&xt, &et, Some(&zt), &ts[..], s, &o).unwrap();
                    let want =
                        reference(shape, |n, i| ddim_ref(r, ts[n], x[i], e[i], Some(z[i]), &o));
                    assert_close(
                        &format!("{kind} T={len} ddim {o:?}"),
                        &flat(&got),
                        &want,
                        REL,
                    );
                }
            }
            // η = 0 is deterministic: no noise needed, and z would be ignored.
            let o = DdimStep {
                eta: 0.0,
                clip_x0: None,
            };
            let a = ddim_step(&xt, &et, None, &ts[..], s, &o).unwrap();
            let want = reference(shape, |n, i| ddim_ref(r, ts[n], x[i], e[i], None, &o));
            assert_close(&format!("{kind} ddim eta=0 no z"), &flat(&a), &want, REL);
        }
    }
}

#[test]
fn ddim_with_eta_one_on_every_step_is_ddpm() {
    // DDIM (η = 1) on the respacing that keeps every step is DDPM with σ² = β̃ (Song et al. 2021,
    // §4.1): the same sample for the same z, and the same mean (z = 0, DDPM's deterministic limit).
    let mut rng = rng(4);
    for kind in KINDS {
        let s = schedule(kind, T);
        let all: Vec<usize> = (0..T).collect();
        let sp = s.respace(&all).unwrap();
        let shape = SHAPES[0];
        let (_, xt) = randn(&mut rng, shape);
        let (_, et) = randn(&mut rng, shape);
        let (_, zt) = randn(&mut rng, shape);
        let zero = zt.zeros_like().unwrap();
        let ts = timesteps(&mut rng, shape[0], T);
        for clip_x0 in [None, Some((-1.0, 1.0))] {
            let ddpm = DdpmStep {
                variance: DdpmVariance::Posterior,
                clip_x0,
            };
            let ddim = DdimStep { eta: 1.0, clip_x0 };
            for z in [&zt, &zero] {
                let a = flat(&ddpm_step(&xt, &et, Some(z), &ts[..], &s, &ddpm).unwrap());
                let b = flat(&ddim_step(&xt, &et, Some(z), &ts[..], &sp, &ddim).unwrap());
                let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
                for (i, (p, q)) in a.iter().zip(&b).enumerate() {
                    assert!(
                        ((p - q).abs() as f64) <= 1e-5 * scale,
                        "{kind} clip {clip_x0:?} element {i}: ddpm {p} vs ddim(eta=1) {q}"
                    );
                }
            }
        }
        // ... and η = 0 is not (the test can tell the two apart).
        let a = flat(&ddpm_step(&xt, &et, Some(&zero), &ts[..], &s, &DdpmStep::default()).unwrap());
        let b = flat(&ddim_step(&xt, &et, None, &ts[..], &sp, &DdimStep::default()).unwrap());
        assert!(
            a.iter().zip(&b).any(|(p, q)| (p - q).abs() > 1e-3),
            "{kind}"
        );
    }
}

#[test]
fn euler_maruyama_langevin_and_guided_update_match_reference() {
    let mut rng = rng(5);
    let sde = VpSde::default();
    for shape in SHAPES {
        let nb = shape[0];
        let (x, xt) = randn(&mut rng, shape);
        let (e, et) = randn(&mut rng, shape);
        let (z, zt) = randn(&mut rng, shape);
        // Euler–Maruyama, per-sample t including t = 1 and a tiny t.
        let tc: Vec<f64> = (0..nb)
            .map(|i| match i {
                0 => 1.0,
                1 => 2e-3,
                _ => rng.random_range(0.01..1.0),
            })
            .collect();
        let dt = 1e-3;
        let em_ref = |n: usize, i: usize, with_z: bool| {
            let t = tc[n];
            let beta = 0.1 + 19.9 * t;
            let sigma = (1.0 - (-(0.1 * t + 0.5 * 19.9 * t * t)).exp()).sqrt();
            let mut terms = vec![
                (1.0, inp(x[i])),
                (0.5 * beta * dt, inp(x[i])),
                (-beta * dt / sigma, inp(e[i])),
            ];
            if with_z {
                terms.push(((beta * dt).sqrt(), inp(z[i])));
            }
            lin(&terms)
        };
        let got = euler_maruyama_step(&xt, &et, Some(&zt), &tc, dt, &sde).unwrap();
        assert_close(
            "euler_maruyama",
            &flat(&got),
            &reference(shape, |n, i| em_ref(n, i, true)),
            REL,
        );
        let got = euler_maruyama_step(&xt, &et, None, &tc, dt, &sde).unwrap();
        assert_close(
            "euler_maruyama no z",
            &flat(&got),
            &reference(shape, |n, i| em_ref(n, i, false)),
            REL,
        );

        // Langevin corrector with per-sample σ and δ.
        let sig: Vec<f64> = (0..nb).map(|_| rng.random_range(0.01..1.0)).collect();
        let del: Vec<f64> = (0..nb).map(|_| rng.random_range(0.0..0.01)).collect();
        let got = langevin_step(&xt, &et, &zt, &sig, &del).unwrap();
        let want = reference(shape, |n, i| {
            lin(&[
                (1.0, inp(x[i])),
                (-del[n] / sig[n], inp(e[i])),
                ((2.0 * del[n]).sqrt(), inp(z[i])),
            ])
        });
        assert_close("langevin", &flat(&got), &want, REL);

        // Guided update with per-sample residual norms.
        let rn: Vec<f64> = (0..nb).map(|_| rng.random_range(0.1..50.0)).collect();
        let zeta = 0.7;
        let got = guided_update(&xt, &et, zeta, &rn).unwrap();
        let want = reference(shape, |n, i| {
            lin(&[(1.0, inp(x[i])), (-zeta / rn[n], inp(e[i]))])
        });
        assert_close("guided_update", &flat(&got), &want, REL);
    }
}

#[test]
fn noising_round_trips() {
    // Tweedie inverts q_sample given the true ε; v round-trips through x0_from_v / eps_from_v.
    let mut rng = rng(6);
    let s = schedule("cosine", T);
    let shape = SHAPES[0];
    let (x0, x0t) = randn(&mut rng, shape);
    let (e, et) = randn(&mut rng, shape);
    let ts = timesteps(&mut rng, shape[0], T);
    let xt = q_sample(&x0t, &et, &ts[..], &s).unwrap();
    let per = x0.len() / shape[0];
    let ab = ref_abar(&ref_betas("cosine", T));
    let check = |name: &str, got: &Tensor, want: &[f32]| {
        for (i, (g, w)) in flat(got).iter().zip(want).enumerate() {
            // x_t has magnitude ~1, and recovering x0 divides by √ᾱ_t.
            let tol = 1e-6 * (1.0 + 1.0 / ab[ts[i / per]].sqrt()) * 4.0;
            assert!(
                ((g - w).abs() as f64) < tol.max(1e-6),
                "{name}[{i}]: {g} vs {w}"
            );
        }
    };
    check(
        "tweedie(q_sample)",
        &tweedie_x0(&xt, &et, &ts[..], &s).unwrap(),
        &x0,
    );
    let v = v_target(&x0t, &et, &ts[..], &s).unwrap();
    check("x0_from_v", &x0_from_v(&xt, &v, &ts[..], &s).unwrap(), &x0);
    check("eps_from_v", &eps_from_v(&xt, &v, &ts[..], &s).unwrap(), &e);
}

#[test]
fn timesteps_from_tensors_scalars_and_broadcast() {
    let mut rng = rng(7);
    let s = schedule("linear", T);
    let (_, x) = randn(&mut rng, &[3, 4, 4]);
    let (_, e) = randn(&mut rng, &[3, 4, 4]);
    let want = flat(&q_sample(&x, &e, &[5usize, 500, 999][..], &s).unwrap());
    let t_u32 = Tensor::new(&[5u32, 500, 999], &Device::Cpu).unwrap();
    let t_i64 = Tensor::new(&[5i64, 500, 999], &Device::Cpu).unwrap();
    assert_eq!(flat(&q_sample(&x, &e, &t_u32, &s).unwrap()), want);
    assert_eq!(flat(&q_sample(&x, &e, &t_i64, &s).unwrap()), want);
    assert_eq!(
        flat(&q_sample(&x, &e, &vec![5usize, 500, 999], &s).unwrap()),
        want
    );
    let one = flat(&q_sample(&x, &e, &[500usize], &s).unwrap());
    assert_eq!(one, flat(&q_sample(&x, &e, &500usize, &s).unwrap()));
    assert_ne!(one, want);
    // A non-contiguous input gives the same result as its contiguous copy.
    let xt = x.transpose(1, 2).unwrap();
    let a = flat(&q_sample(&xt, &e, &7usize, &s).unwrap());
    let b = flat(&q_sample(&xt.contiguous().unwrap(), &e, &7usize, &s).unwrap());
    assert_eq!(a, b);
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    let mut rng = rng(8);
    let s = schedule("linear", 100);
    let (_, x) = randn(&mut rng, &[2, 3, 3]);
    let (_, e) = randn(&mut rng, &[2, 3, 3]);
    let (_, other) = randn(&mut rng, &[2, 3, 4]);
    let x64 = x.to_dtype(DType::F64).unwrap();
    assert!(q_sample(&x, &other, &0usize, &s).is_err(), "shape mismatch");
    assert!(q_sample(&x64, &e, &0usize, &s).is_err(), "f64 input");
    assert!(q_sample(&x, &e, &100usize, &s).is_err(), "t out of range");
    assert!(
        q_sample(&x, &e, &[1usize, 2, 3][..], &s).is_err(),
        "3 timesteps for 2 samples"
    );
    let bad_t = Tensor::new(&[-1i64, 3], &Device::Cpu).unwrap();
    assert!(q_sample(&x, &e, &bad_t, &s).is_err(), "negative t");
    let f_t = Tensor::new(&[1f32, 3.], &Device::Cpu).unwrap();
    assert!(q_sample(&x, &e, &f_t, &s).is_err(), "float t");
    let scalar = Tensor::new(1f32, &Device::Cpu).unwrap();
    assert!(
        q_sample(&scalar, &scalar, &0usize, &s).is_err(),
        "no batch dim"
    );
    assert!(
        ddpm_step(&x, &e, None, &5usize, &s, &DdpmStep::default()).is_err(),
        "missing z"
    );
    let eta2 = DdimStep {
        eta: 1.5,
        clip_x0: None,
    };
    assert!(
        ddim_step(&x, &e, Some(&x), &5usize, &s, &eta2).is_err(),
        "eta > 1"
    );
    let half = DdimStep {
        eta: 0.5,
        clip_x0: None,
    };
    assert!(
        ddim_step(&x, &e, None, &5usize, &s, &half).is_err(),
        "eta > 0 without z"
    );
    let clip = DdpmStep {
        clip_x0: Some((1.0, -1.0)),
        ..Default::default()
    };
    assert!(
        ddpm_step(&x, &e, Some(&x), &5usize, &s, &clip).is_err(),
        "lo > hi"
    );
    assert!(guided_update(&x, &e, 1.0, &[0.0]).is_err(), "zero residual");
    assert!(guided_update(&x, &e, f64::NAN, &[1.0]).is_err(), "nan zeta");
    let sde = VpSde::default();
    assert!(
        euler_maruyama_step(&x, &e, None, &[0.0], 1e-3, &sde).is_err(),
        "t = 0"
    );
    assert!(
        euler_maruyama_step(&x, &e, None, &[0.5], -1e-3, &sde).is_err(),
        "dt < 0"
    );
    assert!(
        langevin_step(&x, &e, &x, &[0.0], &[0.1]).is_err(),
        "sigma = 0"
    );
    // Empty batch: an empty result, not a panic.
    let empty = Tensor::zeros((0, 3, 3), DType::F32, &Device::Cpu).unwrap();
    assert_eq!(
        q_sample(&empty, &empty, &[0usize; 0][..], &s)
            .unwrap()
            .dims(),
        &[0, 3, 3]
    );
}
