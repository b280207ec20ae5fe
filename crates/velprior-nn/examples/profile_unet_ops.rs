//! Profile (not a test): where the time of a candle UNet training step goes. Walks the UNet
//! architecture of a config (default: `unet_bench.py`, batch 16, 64×64), collects every op
//! instance with its shape, times each distinct (op, shape) in isolation — forward, and the
//! backward exactly as candle's autograd computes it — and multiplies by its count.
//!
//! ```text
//! cargo run --release -p velprior-nn --example profile_unet_ops -- [--reps 5] [--batch 16] [--wall]
//!     [--kernels]
//! ```
//! `--kernels` times velprior-kernels' CPU ops instead (what the UNet runs on CPU): conv2d with
//! fused bias (backward = input + weight + bias gradients, in the "bwd" column) and
//! GroupNorm+SiLU fused (the SiLU rows are then 0: it is inside the GroupNorm rows).
//! Conv backward is split into the input gradient (candle: `conv_transpose2d`) and the weight
//! gradient (candle: `conv2d` on transposed tensors). Elementwise / norm ops are timed by
//! `backward()` through a Var input, minus the same harness on an identity op.

mod common;

use std::collections::BTreeMap;

use candle_core::{Device, Tensor, Var};
use candle_nn::{AdamW, GroupNorm, Module, Optimizer, ParamsAdamW};
use common::{arg, loadavg, median};
use velprior_kernels::cpu;
use velprior_nn::{UNet, UNetConfig};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    /// cin, cout, k, stride, input H (= W)
    Conv(usize, usize, usize, usize, usize),
    /// c, H
    GroupNorm(usize, usize),
    Silu(usize, usize),
    /// residual add / time-embedding broadcast add, c, H
    Add(usize, usize),
    Upsample(usize, usize),
    /// c1, c2, H
    Cat(usize, usize, usize),
}

fn walk(cfg: &UNetConfig, hw: usize) -> BTreeMap<Op, usize> {
    let mut ops = BTreeMap::new();
    let mut add = |o: Op| *ops.entry(o).or_insert(0) += 1;
    let res = |add: &mut dyn FnMut(Op), ci: usize, co: usize, h: usize| {
        add(Op::GroupNorm(ci, h));
        add(Op::Silu(ci, h));
        add(Op::Conv(ci, co, 3, 1, h));
        add(Op::Add(co, h)); // + time embedding (broadcast)
        add(Op::GroupNorm(co, h));
        add(Op::Silu(co, h));
        add(Op::Conv(co, co, 3, 1, h));
        if ci != co {
            add(Op::Conv(ci, co, 1, 1, h));
        }
        add(Op::Add(co, h)); // residual
    };
    let nl = cfg.levels();
    let c0 = cfg.level_channels(0);
    add(Op::Conv(cfg.in_channels, c0, 3, 1, hw));
    let mut cprev = c0;
    for l in 0..nl {
        let (c, h) = (cfg.level_channels(l), hw >> l);
        for i in 0..cfg.res_blocks_per_level {
            res(&mut add, if i == 0 { cprev } else { c }, c, h);
        }
        cprev = c;
        if l + 1 < nl {
            add(Op::Conv(c, c, 3, 2, h));
        }
    }
    let hm = hw >> (nl - 1);
    res(&mut add, cprev, cprev, hm);
    res(&mut add, cprev, cprev, hm);
    for l in (0..nl).rev() {
        let (c, h) = (cfg.level_channels(l), hw >> l);
        add(Op::Cat(cprev, c, h));
        for i in 0..cfg.res_blocks_per_level {
            res(&mut add, if i == 0 { cprev + c } else { c }, c, h);
        }
        cprev = c;
        if l > 0 {
            add(Op::Upsample(c, h));
            add(Op::Conv(c, c, 3, 1, 2 * h));
        }
    }
    add(Op::GroupNorm(c0, hw));
    add(Op::Silu(c0, hw));
    add(Op::Conv(c0, cfg.out_channels, 3, 1, hw));
    ops
}

fn randn(shape: &[usize]) -> Tensor {
    Tensor::randn(0f32, 1.0, shape, &Device::Cpu).unwrap()
}

/// Median over `reps` (after one warm-up) of the process CPU seconds (all threads) spent in
/// `f`, or of the wall seconds with `--wall`. CPU time is robust to other processes on a busy
/// machine; wall time is what a user waits.
fn time_reps(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let wall = common::flag("--wall");
    let mut v = Vec::new();
    for _ in 0..reps {
        let (_, rep) = common::timed(&mut f);
        v.push(if wall { rep.wall } else { rep.own_cpu });
    }
    median(&v)
}

/// (forward, backward) seconds of `f` on a Var of `shape`, via `sum(f(x) * g).backward()`.
fn fwd_bwd(reps: usize, shape: &[usize], f: &dyn Fn(&Tensor) -> Tensor) -> (f64, f64) {
    let x = Var::from_tensor(&randn(shape)).unwrap();
    let y0 = f(x.as_tensor());
    let g = randn(y0.dims());
    let fwd = time_reps(reps, || {
        let _ = f(x.as_tensor());
    });
    let total = time_reps(reps, || {
        let y = f(x.as_tensor());
        let _ = (y * &g).unwrap().sum_all().unwrap().backward().unwrap();
    });
    (fwd, (total - fwd).max(0.0))
}

fn conv_name(k: usize, s: usize) -> &'static str {
    match (k, s) {
        (1, _) => "conv1x1",
        (_, 2) => "conv3x3 s2",
        _ => "conv3x3",
    }
}

fn main() -> anyhow::Result<()> {
    let reps: usize = arg("--reps", 5);
    let n: usize = arg("--batch", 16);
    let hw = 64;
    let cfg = UNetConfig::unet_bench();
    println!(
        "profile at batch {n}, {hw}x{hw}; {} per op (median of {reps}); candle threads {}; \
         loadavg {}",
        if common::flag("--wall") {
            "wall s"
        } else {
            "process CPU s"
        },
        candle_core::utils::get_num_threads(),
        loadavg()
    );
    let ops = walk(&cfg, hw);
    let kernels = common::flag("--kernels");

    // Identity harness overhead per shape (mul by g, sum, their backward).
    let mut overhead: BTreeMap<Vec<usize>, f64> = BTreeMap::new();
    let mut ov = |shape: Vec<usize>| -> f64 {
        *overhead
            .entry(shape.clone())
            .or_insert_with(|| fwd_bwd(reps, &shape, &|x| x.clone()).1)
    };

    let mut cat_tot: BTreeMap<&str, [f64; 3]> = BTreeMap::new();
    println!(
        "{:<34} {:>5} {:>9} {:>9} {:>9} {:>9}",
        "op (shape)", "count", "fwd ms", "bwd ms", "bwd-w ms", "total ms"
    );
    for (op, &count) in &ops {
        let (name, f, b, bw) = match *op {
            Op::Conv(ci, co, k, s, h) if kernels => {
                let w = Var::from_tensor(&randn(&[co, ci, k, k]))?;
                let b = Var::from_tensor(&randn(&[co]))?;
                let (f, bw) = fwd_bwd(reps, &[n, ci, h, h], &|x| {
                    cpu::conv2d(x, w.as_tensor(), Some(b.as_tensor()), s, k / 2).unwrap()
                });
                let ho = (h + 2 * (k / 2) - k) / s + 1;
                let name = conv_name(k, s);
                (name, f, (bw - ov(vec![n, co, ho, ho])).max(0.0), 0.0)
            }
            Op::Conv(ci, co, k, s, h) => {
                let x = randn(&[n, ci, h, h]);
                let w = randn(&[co, ci, k, k]);
                let bias = randn(&[1, co, 1, 1]);
                let p = k / 2;
                let y = x.conv2d(&w, p, s, 1, 1)?;
                let g = randn(y.dims());
                let fwd = time_reps(reps, || {
                    let _ = x
                        .conv2d(&w, p, s, 1, 1)
                        .unwrap()
                        .broadcast_add(&bias)
                        .unwrap();
                });
                // Exactly candle's backprop for Op::Conv2D:
                let gh = g.dim(2)?;
                let out_size = (gh - 1) * s + (k - 1) + 1 - 2 * p;
                let out_pad = h - out_size;
                let bwd_in = time_reps(reps, || {
                    let _ = g.conv_transpose2d(&w, p, out_pad, s, 1).unwrap();
                });
                let bwd_w = time_reps(reps, || {
                    let _ = x
                        .transpose(0, 1)
                        .unwrap()
                        .conv2d(&g.transpose(0, 1).unwrap(), p, 1, s, 1)
                        .unwrap()
                        .transpose(0, 1)
                        .unwrap();
                });
                (conv_name(k, s), fwd, bwd_in, bwd_w)
            }
            Op::GroupNorm(c, h) => {
                let gn = GroupNorm::new(
                    Tensor::ones(c, candle_core::DType::F32, &Device::Cpu)?,
                    Tensor::zeros(c, candle_core::DType::F32, &Device::Cpu)?,
                    c,
                    cfg.groups,
                    1e-5,
                )?;
                let (gamma, beta) = (randn(&[c]), randn(&[c]));
                let (f, b) = fwd_bwd(reps, &[n, c, h, h], &|x| {
                    if kernels {
                        cpu::group_norm(x, &gamma, &beta, cfg.groups, 1e-5, true).unwrap()
                    } else {
                        gn.forward(x).unwrap()
                    }
                });
                let name = if kernels {
                    "groupnorm+silu"
                } else {
                    "groupnorm"
                };
                (name, f, (b - ov(vec![n, c, h, h])).max(0.0), 0.0)
            }
            Op::Silu(..) if kernels => ("silu", 0.0, 0.0, 0.0),
            Op::Silu(c, h) => {
                let (f, b) = fwd_bwd(reps, &[n, c, h, h], &|x| x.silu().unwrap());
                ("silu", f, (b - ov(vec![n, c, h, h])).max(0.0), 0.0)
            }
            Op::Add(c, h) => {
                let other = randn(&[n, c, h, h]);
                let (f, b) = fwd_bwd(reps, &[n, c, h, h], &|x| (x + &other).unwrap());
                ("add", f, (b - ov(vec![n, c, h, h])).max(0.0), 0.0)
            }
            Op::Upsample(c, h) => {
                let (f, b) = fwd_bwd(reps, &[n, c, h, h], &|x| {
                    x.upsample_nearest2d(2 * h, 2 * h).unwrap()
                });
                (
                    "upsample nearest x2",
                    f,
                    (b - ov(vec![n, c, 2 * h, 2 * h])).max(0.0),
                    0.0,
                )
            }
            Op::Cat(c1, c2, h) => {
                let other = randn(&[n, c2, h, h]);
                let (f, b) = fwd_bwd(reps, &[n, c1, h, h], &|x| {
                    Tensor::cat(&[x, &other], 1).unwrap()
                });
                ("cat", f, (b - ov(vec![n, c1 + c2, h, h])).max(0.0), 0.0)
            }
        };
        let cf = count as f64;
        let tot = (f + b + bw) * cf;
        println!(
            "{:<34} {:>5} {:>9.2} {:>9.2} {:>9.2} {:>9.1}",
            format!("{name} {op:?}"),
            count,
            f * 1e3,
            b * 1e3,
            bw * 1e3,
            tot * 1e3
        );
        let e = cat_tot.entry(name).or_insert([0.0; 3]);
        e[0] += f * cf;
        e[1] += b * cf;
        e[2] += bw * cf;
    }

    // Attention-free bench net: AdamW step on 2.75 M params, and the loss / time MLP are tiny.
    let (net, vm) = UNet::new_seeded(&cfg, 0, &Device::Cpu)?;
    let x = randn(&[n, 1, hw, hw]);
    let t = Tensor::ones(n, candle_core::DType::F32, &Device::Cpu)?;
    let loss = net.forward(&x, &t, true)?.sqr()?.mean_all()?;
    let grads = loss.backward()?;
    let mut opt = AdamW::new(vm.all_vars(), ParamsAdamW::default())?;
    let vars = vm.all_vars();
    let moments: Vec<(Tensor, Tensor)> = (vars.iter())
        .map(|v| (v.zeros_like().unwrap(), v.zeros_like().unwrap()))
        .collect();
    let fused = cpu::AdamWStep {
        lr: 2e-4,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
        bias_correction1: 0.1,
        bias_correction2: 0.001,
        grad_scale: 1.0,
    };
    let adam = time_reps(reps, || {
        if kernels {
            // velprior-diffusion's AdamW on CPU: Σ g² for clipping, then one fused pass per var.
            let _: f64 = (vars.iter())
                .map(|v| cpu::sum_squares(grads.get(v).unwrap()).unwrap())
                .sum();
            for (v, (m, s)) in vars.iter().zip(&moments) {
                let g = grads.get(v).unwrap();
                let (p, _, _) = cpu::adamw_step(v.as_tensor(), g, m, s, &fused).unwrap();
                v.set(&p).unwrap();
            }
        } else {
            opt.step(&grads).unwrap()
        }
    });

    println!(
        "\nby op type (ms per training step; fwd / bwd-input(+elementwise bwd) / bwd-weight):"
    );
    let mut total = 0.0;
    let mut rows: Vec<_> = cat_tot.iter().collect();
    rows.sort_by(|a, b| (b.1[0] + b.1[1] + b.1[2]).total_cmp(&(a.1[0] + a.1[1] + a.1[2])));
    for (name, v) in rows {
        let s = v[0] + v[1] + v[2];
        total += s;
        println!(
            "  {:<22} {:>8.1} {:>8.1} {:>8.1}   sum {:>8.1}",
            name,
            v[0] * 1e3,
            v[1] * 1e3,
            v[2] * 1e3,
            s * 1e3
        );
    }
    println!("  {:<22} {:>44.1}", "AdamW step", adam * 1e3);
    total += adam;
    println!("  {:<22} {:>44.1}", "TOTAL (isolated ops)", total * 1e3);
    println!("loadavg at end {}", loadavg());
    Ok(())
}
