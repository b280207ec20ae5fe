//! The CPU kernels of `velprior_kernels::cpu` against candle's own ops (the reference): values
//! and gradients (through candle's autograd on a random linear functional of the output) on
//! random shapes with odd sizes, stride 1 and 2, padding 0 and 1, non-square kernels, several
//! row bands, and GroupNorm with and without SiLU. Also: bitwise equal results for 1 and 2 threads.

use candle_core::{D, DType, Device, Module, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use velprior_kernels::cpu;

mod common;
use common::against_candle::{assert_close, compare, randn};

/// (n, cin, h, w, cout, kh, kw, stride, padding).
type ConvCase = (
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

/// With stride 2, H and W have the same parity:
/// candle 0.11's conv2d backward takes the output padding of its input gradient from H alone.
/// The 3×3 stride-1 padding-1 cases are served by the direct kernel on AVX2 and AVX-512 CPUs
/// (the last four: partial blocks of output channels and 1-, 2- and 3-vector tiles), the
/// others by im2col; `simd_paths.rs` runs every vector level.
const CONV_CASES: [ConvCase; 13] = [
    (2, 3, 7, 5, 4, 3, 3, 1, 1),
    (3, 2, 9, 7, 5, 3, 3, 2, 1),
    (2, 3, 8, 8, 3, 3, 3, 2, 1),
    (1, 4, 6, 5, 3, 1, 1, 1, 0),
    (2, 3, 5, 8, 2, 3, 3, 1, 0),
    (2, 2, 7, 7, 3, 3, 3, 2, 0),
    (2, 3, 6, 7, 2, 2, 3, 1, 1),
    (1, 2, 5, 5, 2, 1, 1, 1, 1),
    // Several bands of output rows per sample (k · wo · rows > the band budget).
    (2, 16, 45, 41, 5, 3, 3, 1, 1),
    (2, 5, 3, 16, 11, 3, 3, 1, 1),
    (1, 3, 4, 32, 8, 3, 3, 1, 1),
    (2, 4, 5, 16, 17, 3, 3, 1, 1),
    (3, 2, 1, 16, 3, 3, 3, 1, 1),
];

#[test]
fn conv2d_matches_candle_values_and_gradients() {
    // One thread as well: every sample of a batch then reuses the same padded-input buffers.
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            for (n, cin, h, w, cout, kh, kw, s, p) in CONV_CASES {
                let x = randn(&mut rng, &[n, cin, h, w]);
                let wt = randn(&mut rng, &[cout, cin, kh, kw]);
                let b = randn(&mut rng, &[cout]);
                let (ho, wo) = ((h + 2 * p - kh) / s + 1, (w + 2 * p - kw) / s + 1);
                let r = randn(&mut rng, &[n, cout, ho, wo]);
                compare(
                    &format!("conv2d {:?}", (n, cin, h, w, cout, kh, kw, s, p)),
                    [x, wt, b],
                    &r,
                    |t| cpu::conv2d(t[0], t[1], Some(t[2]), s, p).unwrap(),
                    |t| {
                        let y = t[0].conv2d(t[1], p, s, 1, 1).unwrap();
                        y.broadcast_add(&t[2].reshape((1, cout, 1, 1)).unwrap())
                            .unwrap()
                    },
                    2e-5,
                );
            }
        });
    }
}

/// A bias per sample (N, cout) and the fused residual `conv2d_add`, on the direct-kernel
/// (stride 1) and im2col (stride 2) paths: values and the gradients of x, w, b and r against
/// candle.
#[test]
fn conv2d_epilogues_match_candle_values_and_gradients() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for (n, cin, h, w, cout, s) in [(2, 3, 4, 16, 11, 1), (3, 2, 5, 7, 4, 1), (2, 3, 8, 8, 5, 2)] {
        let (ho, wo) = ((h - 1) / s + 1, (w - 1) / s + 1);
        let vars: Vec<Var> = [
            vec![n, cin, h, w],
            vec![cout, cin, 3, 3],
            vec![cout],
            vec![n, cout],
            vec![n, cout, ho, wo],
        ]
        .iter()
        .map(|d| Var::from_tensor(&randn(&mut rng, d)).unwrap())
        .collect();
        let [x, wt, b, bn, res] = [0, 1, 2, 3, 4].map(|i| vars[i].as_tensor());
        let probe = randn(&mut rng, &[n, cout, ho, wo]);
        let conv = |x: &Tensor| x.conv2d(wt, 1, s, 1, 1).unwrap();
        let cases: [(&str, Tensor, Tensor); 2] = [
            (
                "per-sample bias",
                cpu::conv2d(x, wt, Some(bn), s, 1).unwrap(),
                conv(x)
                    .broadcast_add(&bn.reshape((n, cout, 1, 1)).unwrap())
                    .unwrap(),
            ),
            (
                "residual",
                cpu::conv2d_add(x, wt, b, res, s, 1).unwrap(),
                (conv(x)
                    .broadcast_add(&b.reshape((1, cout, 1, 1)).unwrap())
                    .unwrap()
                    + res)
                    .unwrap(),
            ),
        ];
        for (name, got, want) in cases {
            let what = format!("conv2d {name} {:?}", (n, cin, h, w, cout, s));
            assert_close(&what, &got, &want, 2e-5);
            let grads = |y: &Tensor| (y * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let (g, g_ref) = (grads(&got), grads(&want));
            for (v, vname) in vars.iter().zip(["x", "w", "b", "b per sample", "r"]) {
                match (g.get(v), g_ref.get(v)) {
                    (Some(a), Some(r)) => assert_close(&format!("{what} d/d{vname}"), a, r, 2e-5),
                    (None, None) => {}
                    _ => panic!("{what}: gradient of {vname} present on one side only"),
                }
            }
        }
    }
    let x = Tensor::zeros((2, 1, 4, 4), DType::F32, &Device::Cpu).unwrap();
    let wt = Tensor::zeros((3, 1, 3, 3), DType::F32, &Device::Cpu).unwrap();
    let bad_b = Tensor::zeros((3, 3), DType::F32, &Device::Cpu).unwrap();
    assert!(cpu::conv2d(&x, &wt, Some(&bad_b), 1, 1).is_err());
    let b = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
    let bad_r = Tensor::zeros((2, 3, 4, 3), DType::F32, &Device::Cpu).unwrap();
    assert!(cpu::conv2d_add(&x, &wt, &b, &bad_r, 1, 1).is_err());
}

#[test]
fn conv2d_backward_equals_the_autograd_gradients() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    for (n, cin, h, w, cout, kh, kw, s, p) in CONV_CASES {
        let x = Var::from_tensor(&randn(&mut rng, &[n, cin, h, w])).unwrap();
        let wt = Var::from_tensor(&randn(&mut rng, &[cout, cin, kh, kw])).unwrap();
        let b = Var::from_tensor(&randn(&mut rng, &[cout])).unwrap();
        let (ho, wo) = ((h + 2 * p - kh) / s + 1, (w + 2 * p - kw) / s + 1);
        let dy = randn(&mut rng, &[n, cout, ho, wo]);
        let y = cpu::conv2d(x.as_tensor(), wt.as_tensor(), Some(b.as_tensor()), s, p).unwrap();
        let grads = (&y * &dy).unwrap().sum_all().unwrap().backward().unwrap();
        let (dx, dw, db) = cpu::conv2d_backward(x.as_tensor(), wt.as_tensor(), &dy, s, p).unwrap();
        let what = format!("conv2d_backward {:?}", (n, cin, h, w, cout, kh, kw, s, p));
        assert_close(&format!("{what} dx"), &dx, grads.get(&x).unwrap(), 1e-6);
        assert_close(&format!("{what} dw"), &dw, grads.get(&wt).unwrap(), 1e-6);
        assert_close(&format!("{what} db"), &db, grads.get(&b).unwrap(), 1e-6);
    }
    let x = Tensor::zeros((1, 2, 5, 5), DType::F32, &Device::Cpu).unwrap();
    let wt = Tensor::zeros((3, 2, 3, 3), DType::F32, &Device::Cpu).unwrap();
    let wrong = Tensor::zeros((1, 3, 4, 4), DType::F32, &Device::Cpu).unwrap();
    assert!(cpu::conv2d_backward(&x, &wt, &wrong, 1, 1).is_err());
}

#[test]
fn conv2d_rejects_bad_shapes() {
    let x = Tensor::zeros((1, 3, 4, 4), DType::F32, &Device::Cpu).unwrap();
    let w = Tensor::zeros((2, 2, 3, 3), DType::F32, &Device::Cpu).unwrap();
    let err = cpu::conv2d(&x, &w, None, 1, 1).unwrap_err().to_string();
    assert!(err.contains("3 channels"), "{err}");
    let w = Tensor::zeros((2, 3, 7, 7), DType::F32, &Device::Cpu).unwrap();
    assert!(cpu::conv2d(&x, &w, None, 1, 1).is_err());
}

/// (n, c, h, w, groups)
const GN_CASES: [(usize, usize, usize, usize, usize); 4] = [
    (2, 8, 5, 7, 4),
    (3, 6, 3, 3, 3),
    (1, 4, 9, 2, 1),
    (2, 16, 11, 13, 8),
];

#[test]
fn group_norm_matches_candle_values_and_gradients() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (n, c, h, w, g) in GN_CASES {
        for silu in [true, false] {
            // Offset and scaled input: the statistics must not rely on zero-mean data.
            let x = ((randn(&mut rng, &[n, c, h, w]) * 3.0).unwrap() + 1.5).unwrap();
            let gamma = (randn(&mut rng, &[c]) + 1.0).unwrap();
            let beta = randn(&mut rng, &[c]);
            let r = randn(&mut rng, &[n, c, h, w]);
            compare(
                &format!("group_norm silu={silu} {:?}", (n, c, h, w, g)),
                [x, gamma, beta],
                &r,
                |t| cpu::group_norm(t[0], t[1], t[2], g, 1e-5, silu).unwrap(),
                |t| {
                    let gn =
                        candle_nn::GroupNorm::new(t[1].clone(), t[2].clone(), c, g, 1e-5).unwrap();
                    let y = gn.forward(t[0]).unwrap();
                    if silu { y.silu().unwrap() } else { y }
                },
                2e-5,
            );
        }
    }
}

#[test]
fn upsample_nearest2x_matches_candle_values_and_gradients() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (n, c, h, w) in [(2, 3, 5, 7), (1, 1, 1, 1), (3, 2, 4, 16)] {
        let x = Var::from_tensor(&randn(&mut rng, &[n, c, h, w])).unwrap();
        let r = randn(&mut rng, &[n, c, 2 * h, 2 * w]);
        let y = cpu::upsample_nearest2x(x.as_tensor()).unwrap();
        let y_ref = x.upsample_nearest2d(2 * h, 2 * w).unwrap();
        let what = format!("upsample {:?}", (n, c, h, w));
        assert_close(&what, &y, &y_ref, 0.0);
        let grad = |y: &Tensor| {
            let g = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            g.get(&x).unwrap().clone()
        };
        assert_close(&format!("{what} d/dx"), &grad(&y), &grad(&y_ref), 1e-6);
    }
    let bad = Tensor::zeros((2, 3, 4), DType::F32, &Device::Cpu).unwrap();
    assert!(cpu::upsample_nearest2x(&bad).is_err());
}

/// GroupNorm + SiLU + conv (+ bias per sample, + residual) as one op, against candle's
/// GroupNorm, SiLU and conv: values and the gradients of x, γ, β, w, b and r, on the direct
/// kernel's (stride 1) and the im2col path's (stride 2) geometries.
#[test]
fn group_norm_conv2d_matches_candle_values_and_gradients() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for (n, cin, h, w, cout, s, groups) in [
        (2, 4, 3, 16, 11, 1, 2),
        (3, 6, 5, 7, 4, 1, 3),
        (2, 4, 8, 8, 5, 2, 1),
    ] {
        let (ho, wo) = ((h - 1) / s + 1, (w - 1) / s + 1);
        for (case, per_sample_bias, residual) in
            [(0, false, false), (1, true, false), (2, false, true)]
        {
            let x = ((randn(&mut rng, &[n, cin, h, w]) * 2.0).unwrap() + 0.7).unwrap();
            let bias_dims = if per_sample_bias {
                vec![n, cout]
            } else {
                vec![cout]
            };
            let vars: Vec<Var> = [
                x,
                (randn(&mut rng, &[cin]) + 1.0).unwrap(),
                randn(&mut rng, &[cin]),
                randn(&mut rng, &[cout, cin, 3, 3]),
                randn(&mut rng, &bias_dims),
                randn(&mut rng, &[n, cout, ho, wo]),
            ]
            .iter()
            .map(|t| Var::from_tensor(t).unwrap())
            .collect();
            let [x, gamma, beta, wt, b, r] = [0, 1, 2, 3, 4, 5].map(|i| vars[i].as_tensor());
            let spec = cpu::GroupNormSpec {
                gamma,
                beta,
                groups,
                eps: 1e-5,
                silu: true,
            };
            let got = cpu::group_norm_conv2d(x, &spec, wt, b, residual.then_some(r), s, 1).unwrap();
            let gn =
                candle_nn::GroupNorm::new(gamma.clone(), beta.clone(), cin, groups, 1e-5).unwrap();
            let y = gn
                .forward(x)
                .unwrap()
                .silu()
                .unwrap()
                .conv2d(wt, 1, s, 1, 1)
                .unwrap();
            let bias = match per_sample_bias {
                true => b.reshape((n, cout, 1, 1)).unwrap(),
                false => b.reshape((1, cout, 1, 1)).unwrap(),
            };
            let mut want = y.broadcast_add(&bias).unwrap();
            if residual {
                want = (want + r).unwrap();
            }
            let what = format!(
                "group_norm_conv2d case {case} {:?}",
                (n, cin, h, w, cout, s)
            );
            assert_close(&what, &got, &want, 2e-5);
            let probe = randn(&mut rng, &[n, cout, ho, wo]);
            let grads = |y: &Tensor| (y * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let (g, g_ref) = (grads(&got), grads(&want));
            for (v, name) in vars.iter().zip(["x", "γ", "β", "w", "b", "r"]) {
                match (g.get(v), g_ref.get(v)) {
                    (Some(a), Some(e)) => assert_close(&format!("{what} d/d{name}"), a, e, 5e-5),
                    (None, None) => {}
                    _ => panic!("{what}: gradient of {name} present on one side only"),
                }
            }
        }
    }
}

#[test]
fn group_norm_conv2d_rejects_bad_shapes() {
    let z = |d: &[usize]| Tensor::zeros(d, DType::F32, &Device::Cpu).unwrap();
    let (x, g, wt) = (z(&[2, 4, 5, 5]), z(&[4]), z(&[3, 4, 3, 3]));
    let spec = |groups| cpu::GroupNormSpec {
        gamma: &g,
        beta: &g,
        groups,
        eps: 1e-5,
        silu: true,
    };
    let ok = cpu::group_norm_conv2d(&x, &spec(2), &wt, &z(&[2, 3]), None, 1, 1);
    assert_eq!(ok.unwrap().dims(), [2, 3, 5, 5]);
    assert!(cpu::group_norm_conv2d(&x, &spec(3), &wt, &z(&[3]), None, 1, 1).is_err());
    assert!(cpu::group_norm_conv2d(&x, &spec(2), &wt, &z(&[4]), None, 1, 1).is_err());
    let bad_r = z(&[2, 3, 4, 5]);
    assert!(cpu::group_norm_conv2d(&x, &spec(2), &wt, &z(&[3]), Some(&bad_r), 1, 1).is_err());
}

#[test]
fn group_norm_rejects_bad_groups() {
    let x = Tensor::zeros((1, 6, 2, 2), DType::F32, &Device::Cpu).unwrap();
    let g = Tensor::ones(6, DType::F32, &Device::Cpu).unwrap();
    let err = cpu::group_norm(&x, &g, &g, 4, 1e-5, true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("6 channels"), "{err}");
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = randn(&mut rng, &[5, 6, 13, 11]);
    let w = randn(&mut rng, &[4, 6, 3, 3]);
    let b = randn(&mut rng, &[4]);
    let gamma = randn(&mut rng, &[4]);
    let run = |threads: usize| -> Vec<Vec<f32>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let (xv, wv, bv) = (
                Var::from_tensor(&x).unwrap(),
                Var::from_tensor(&w).unwrap(),
                Var::from_tensor(&b).unwrap(),
            );
            let y =
                cpu::conv2d(xv.as_tensor(), wv.as_tensor(), Some(bv.as_tensor()), 2, 1).unwrap();
            let y = cpu::group_norm(&y, &gamma, &b, 2, 1e-5, true).unwrap();
            let loss = y.sqr().unwrap().sum(D::Minus1).unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            [
                y,
                grads.get(&xv).unwrap().clone(),
                grads.get(&wv).unwrap().clone(),
                grads.get(&bv).unwrap().clone(),
            ]
            .iter()
            .map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            .collect()
        })
    };
    assert_eq!(run(1), run(2));
    assert_eq!(run(1), run(3));
}

#[test]
fn adamw_step_matches_the_f64_formula_over_steps() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let len = 40_000; // several parallel blocks
    let mut p = randn(&mut rng, &[len]);
    let (mut m, mut v) = (p.zeros_like().unwrap(), p.zeros_like().unwrap());
    let mut pr: Vec<f64> = p
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|&x| x as f64)
        .collect();
    let (mut mr, mut vr) = (vec![0f64; len], vec![0f64; len]);
    let (b1, b2, eps, lr, wd, scale) = (0.9, 0.999, 1e-8, 1e-2, 0.1, 0.5);
    for t in 1..=3 {
        let g = randn(&mut rng, &[len]);
        let s = cpu::AdamWStep {
            lr,
            beta1: b1,
            beta2: b2,
            eps,
            weight_decay: wd,
            bias_correction1: 1.0 - b1.powi(t),
            bias_correction2: 1.0 - b2.powi(t),
            grad_scale: scale,
        };
        (p, m, v) = cpu::adamw_step(&p, &g, &m, &v, &s).unwrap();
        for (i, &gi) in g.to_vec1::<f32>().unwrap().iter().enumerate() {
            let gi = scale * gi as f64;
            mr[i] = b1 * mr[i] + (1.0 - b1) * gi;
            vr[i] = b2 * vr[i] + (1.0 - b2) * gi * gi;
            let upd = (mr[i] / s.bias_correction1) / ((vr[i] / s.bias_correction2).sqrt() + eps);
            pr[i] = pr[i] * (1.0 - lr * wd) - lr * upd;
        }
    }
    let got = p.to_vec1::<f32>().unwrap();
    let err = got
        .iter()
        .zip(&pr)
        .fold(0f64, |e, (&a, &b)| e.max((a as f64 - b).abs()));
    assert!(err < 1e-5, "parameter error {err}");
    let sq = cpu::sum_squares(&p).unwrap();
    let sq_ref: f64 = got.iter().map(|&x| (x as f64).powi(2)).sum();
    assert!((sq - sq_ref).abs() <= 1e-6 * sq_ref, "{sq} vs {sq_ref}");
}
