//! Benchmark (not a test): one DDPM training step of the `unet_bench.py` UNet in candle, batch
//! 16, 1×64×64, eps-MSE, AdamW(lr 2e-4, wd 0.01), linear betas 1e-4..0.02, T = 1000; then
//! inference at batch 64. Mirrors `bench/reference/unet_bench.py` for the speed comparison.
//!
//! ```text
//! cargo run --release -p velprior-nn --example bench_unet_train_step -- [--steps 10] [--attn]
//!     [--batch 16] [--infer-batch 64] [--infer-reps 7] [--candle-ops] [--system-malloc]
//!     [--device cpu|cuda|cuda:N] [--size 64] [--config TRAIN.toml]
//! ```
//! `--size` sets the square image side (70 for the shipped priors' 70×70 models).
//! `--config` takes the network (`[model]`) and batch (`[train] batch_size`) of a `velprior
//! train` config instead of unet_bench's, to set a whole training run's steps/s beside the bare
//! step of its network.
//! On a GPU (`--device cuda`, a `--features cuda` build) every timed call ends with a device
//! synchronise; the conv is im2col + cuBLAS (candle's own with `--candle-ops`) and AdamW three
//! fused passes per parameter (`velprior_kernels::adamw_step_fused`, as the trainer runs it).
//! `--candle-ops` runs candle's own conv / GroupNorm / SiLU instead of velprior-kernels' CPU
//! kernels (the "before" figures); `--system-malloc` leaves glibc's default thresholds instead
//! of `velprior_kernels::cpu::keep_freed_buffers` (as the velprior binary sets them).
//! The optimizer is velprior's fused AdamW (`velprior_kernels::cpu::adamw_step`, as the trainer
//! runs it; candle-nn's AdamW with `--candle-ops`).
//! Prints the CPU model and the vector path of the CPU kernels (`VELPRIOR_SIMD=avx512|avx2|portable`
//! forces a lower one), then the median of `--steps` timed steps (after 3 warm-ups) with a forward / backward /
//! optimizer breakdown, the cores other processes used meanwhile (as benchutil.py), and the
//! ratio to PyTorch's reference figures (bench README: 0.79–0.96 s/step, 1.8–2.0 s inference).

mod common;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use common::{arg, cpu_model, flag, loadavg, median, timed};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use velprior_kernels::cpu::{AdamWStep, adamw_step};
use velprior_kernels::{DeviceSpec, adamw_step_fused};
use velprior_nn::{UNet, UNetConfig, parameter_count, with_candle_ops};

const T_STEPS: usize = 1000;

/// Smooth layered "velocity-like" images in [-1, 1], as `synthetic_batch` of the script.
fn synthetic_batch(n: usize, hw: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * hw * hw);
    for _ in 0..n {
        let dip = (rng.random::<f32>() - 0.5) * 0.3;
        let phase = rng.random::<f32>();
        for iz in 0..hw {
            for ix in 0..hw {
                let z = iz as f32 / (hw - 1) as f32;
                let x = ix as f32 / (hw - 1) as f32;
                let img = z + dip * x;
                let img = img + 0.2 * (8.0 * std::f32::consts::PI * (img + phase)).sin();
                out.push(img * 2.0 - 1.0);
            }
        }
    }
    out
}

/// The optimizer: candle-nn's AdamW with `--candle-ops` (the "before" figures), else AdamW as
/// velprior's trainer runs it on the CPU, one fused pass per parameter.
enum Opt {
    Candle(AdamW),
    Fused(FusedAdamW),
}

impl Opt {
    fn step(&mut self, grads: &GradStore) -> anyhow::Result<()> {
        match self {
            Opt::Candle(o) => o.step(grads)?,
            Opt::Fused(o) => o.step(grads)?,
        }
        Ok(())
    }
}

/// AdamW through `velprior_kernels::cpu::adamw_step` (as velprior-diffusion's optimizer does on
/// the CPU, without its gradient clipping).
struct FusedAdamW {
    vars: Vec<Var>,
    moments: Vec<(Tensor, Tensor)>,
    steps: i32,
    params: ParamsAdamW,
}

impl FusedAdamW {
    fn new(vars: Vec<Var>, params: ParamsAdamW) -> anyhow::Result<Self> {
        let moments = vars
            .iter()
            .map(|v| Ok((v.zeros_like()?, v.zeros_like()?)))
            .collect::<candle_core::Result<_>>()?;
        Ok(Self {
            vars,
            moments,
            steps: 0,
            params,
        })
    }

    fn step(&mut self, grads: &GradStore) -> anyhow::Result<()> {
        self.steps += 1;
        let p = &self.params;
        let s = AdamWStep {
            lr: p.lr,
            beta1: p.beta1,
            beta2: p.beta2,
            eps: p.eps,
            weight_decay: p.weight_decay,
            bias_correction1: 1.0 - p.beta1.powi(self.steps),
            bias_correction2: 1.0 - p.beta2.powi(self.steps),
            grad_scale: 1.0,
        };
        for (var, (m, v)) in self.vars.iter().zip(&mut self.moments) {
            let Some(g) = grads.get(var) else { continue };
            let (p2, m2, v2) = if var.device().is_cpu() {
                adamw_step(var.as_tensor(), g, m, v, &s)?
            } else {
                adamw_step_fused(var.as_tensor(), g, m, v, &s)?
            };
            var.set(&p2)?;
            (*m, *v) = (m2, v2);
        }
        Ok(())
    }
}

/// The UNet (`[model]`, every key optional) and batch size (`[train] batch_size`, default 16)
/// of the velprior training config at `path`.
fn training_network(path: &str) -> anyhow::Result<(UNetConfig, usize)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--config {path}: {e}; give a velprior train config"))?;
    let table: toml::Table = toml::from_str(&text)?;
    let model = match table.get("model") {
        Some(m) => m.clone().try_into()?,
        None => UNetConfig::default(),
    };
    let batch = table
        .get("train")
        .and_then(|t| t.get("batch_size"))
        .and_then(|b| b.as_integer())
        .map_or(Ok(16), usize::try_from)?;
    Ok((model, batch))
}

fn main() -> anyhow::Result<()> {
    if !flag("--system-malloc") {
        velprior_kernels::cpu::keep_freed_buffers();
    }
    if flag("--candle-ops") {
        with_candle_ops(run)
    } else {
        run()
    }
}

fn run() -> anyhow::Result<()> {
    let steps: usize = arg("--steps", 10);
    let batch: usize = arg("--batch", 16);
    let infer_batch: usize = arg("--infer-batch", 64);
    let infer_reps: usize = arg("--infer-reps", 7);
    let hw: usize = arg("--size", 64);
    let config: String = arg("--config", String::new());
    let (cfg, batch, name) = if !config.is_empty() {
        let (cfg, batch) = training_network(&config)?;
        (cfg, batch, config.clone())
    } else if flag("--attn") {
        (
            UNetConfig::unet_bench_attn(),
            batch,
            "unet_bench --attn".into(),
        )
    } else {
        (UNetConfig::unet_bench(), batch, "unet_bench".into())
    };
    let device: String = arg("--device", "cpu".to_string());
    let dev = device.parse::<DeviceSpec>()?.open()?;
    let (net, varmap) = UNet::new_seeded(&cfg, 0, &dev)?;
    println!(
        "{name} at {hw}x{hw} in candle on {device} ({}): {} params, threads = {}, loadavg at start: {}",
        if flag("--candle-ops") {
            "candle's ops"
        } else {
            "velprior-kernels ops"
        },
        parameter_count(&varmap),
        candle_core::utils::get_num_threads(),
        loadavg()
    );
    println!(
        "CPU: {}; velprior-kernels path: {} (VELPRIOR_SIMD; the CPU runs {}), Winograd 3×3 convs {} (VELPRIOR_WINOGRAD)",
        cpu_model(),
        velprior_kernels::cpu::simd().name(),
        velprior_kernels::cpu::detected_simd().name(),
        if velprior_kernels::cpu::winograd_enabled() {
            "on"
        } else {
            "off"
        }
    );

    // DDPM linear schedule, computed inline (velprior-kernels will own this).
    let mut abar = Vec::with_capacity(T_STEPS);
    let mut prod = 1f64;
    for i in 0..T_STEPS {
        let beta = 1e-4 + (0.02 - 1e-4) * i as f64 / (T_STEPS - 1) as f64;
        prod *= 1.0 - beta;
        abar.push(prod);
    }
    let params = ParamsAdamW {
        lr: 2e-4,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    let mut opt = if flag("--candle-ops") {
        Opt::Candle(AdamW::new(varmap.all_vars(), params.clone())?)
    } else {
        Opt::Fused(FusedAdamW::new(varmap.all_vars(), params)?)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);

    // One step; returns (data, forward+loss, backward, optimizer) seconds and the loss.
    let mut step = |rng: &mut ChaCha8Rng| -> anyhow::Result<([f64; 4], f32)> {
        let t0 = std::time::Instant::now();
        let x0 = synthetic_batch(batch, hw, rng);
        let ts: Vec<usize> = (0..batch).map(|_| rng.random_range(0..T_STEPS)).collect();
        let eps: Vec<f32> = (0..batch * hw * hw)
            .map(|_| StandardNormal.sample(&mut *rng))
            .collect();
        let mut xt = Vec::with_capacity(x0.len());
        for (b, &t) in ts.iter().enumerate() {
            let (sa, sb) = (abar[t].sqrt() as f32, (1.0 - abar[t]).sqrt() as f32);
            for i in b * hw * hw..(b + 1) * hw * hw {
                xt.push(sa * x0[i] + sb * eps[i]);
            }
        }
        let xt = Tensor::from_vec(xt, (batch, 1, hw, hw), &dev)?;
        let eps = Tensor::from_vec(eps, (batch, 1, hw, hw), &dev)?;
        let tt = Tensor::from_vec(
            ts.iter().map(|&t| t as f32).collect::<Vec<_>>(),
            batch,
            &dev,
        )?;
        let t1 = std::time::Instant::now();
        let loss = (net.forward(&xt, &tt, true)? - &eps)?.sqr()?.mean_all()?;
        let l = loss.to_scalar::<f32>()?;
        let t2 = std::time::Instant::now();
        let grads = loss.backward()?;
        let t3 = std::time::Instant::now();
        opt.step(&grads)?;
        drop(grads);
        dev.synchronize()?;
        let t4 = std::time::Instant::now();
        let d = |a: std::time::Instant, b: std::time::Instant| (b - a).as_secs_f64();
        Ok(([d(t0, t1), d(t1, t2), d(t2, t3), d(t3, t4)], l))
    };

    // `--steps 0` skips training entirely (inference timing only).
    for i in 0..if steps == 0 { 0 } else { 3 } {
        let (_, l) = step(&mut rng)?;
        println!("warm-up {i}: loss {l:.4}");
    }
    let mut walls = Vec::new();
    let mut parts: [Vec<f64>; 4] = Default::default();
    let mut others = Vec::new();
    let mut cpus = Vec::new();
    for i in 0..steps {
        let (res, rep) = timed(|| step(&mut rng));
        let (p, l) = res?;
        for k in 0..4 {
            parts[k].push(p[k]);
        }
        walls.push(rep.wall);
        others.push(rep.other_cores);
        cpus.push(rep.own_cpu);
        println!(
            "step {i}: {:.3} s (data {:.3}, fwd {:.3}, bwd {:.3}, opt {:.3}) loss {l:.4}, \
             own CPU {:.3} s, other processes {:.2} cores",
            rep.wall, p[0], p[1], p[2], p[3], rep.own_cpu, rep.other_cores
        );
    }
    // The PyTorch reference figures are unet_bench's on a CPU.
    let pytorch_reference = dev.is_cpu() && config.is_empty();
    if steps > 0 {
        let med = median(&walls);
        let clean: Vec<f64> = walls
            .iter()
            .zip(&others)
            .filter(|(_, o)| **o < 0.10)
            .map(|(w, _)| *w)
            .collect();
        println!(
            "\nTRAIN batch {batch}: median {med:.3} s/step over {steps} steps (min {:.3}); \
             clean reps {} (median {:.3}); mean other cores {:.2}",
            walls.iter().cloned().fold(f64::INFINITY, f64::min),
            clean.len(),
            median(&clean),
            others.iter().sum::<f64>() / others.len().max(1) as f64
        );
        println!(
            "  own CPU (user+sys, all threads): median {:.3} s/step; PyTorch 2 threads ≈ 2 × wall",
            median(&cpus)
        );
        println!(
            "  breakdown (medians): data {:.3}  forward+loss {:.3}  backward {:.3}  AdamW {:.3}",
            median(&parts[0]),
            median(&parts[1]),
            median(&parts[2]),
            median(&parts[3])
        );
        if pytorch_reference {
            println!(
                "  ratio to PyTorch reference 0.79–0.96 s/step (bench README, not measured here): \
                 {:.2}–{:.2}x slower",
                med / 0.96,
                med / 0.79
            );
        }
    }

    // Inference: batch 64, 1 warm-up + `infer_reps` timed, median.
    let mut irng = ChaCha8Rng::seed_from_u64(1);
    let xin: Vec<f32> = (0..infer_batch * hw * hw)
        .map(|_| StandardNormal.sample(&mut irng))
        .collect();
    let xin = Tensor::from_vec(xin, (infer_batch, 1, hw, hw), &dev)?;
    let tin: Vec<f32> = (0..infer_batch)
        .map(|_| irng.random_range(0..T_STEPS) as f32)
        .collect();
    let tin = Tensor::from_vec(tin, infer_batch, &dev)?;
    let _ = net.forward(&xin, &tin, false)?.to_dtype(DType::F32)?;
    let mut iw = Vec::new();
    let mut io = Vec::new();
    let mut ic = Vec::new();
    for _ in 0..infer_reps {
        let (r, rep) = timed(|| {
            let y = net.forward(&xin, &tin, false)?;
            dev.synchronize()?;
            anyhow::Ok(y)
        });
        r?;
        iw.push(rep.wall);
        io.push(rep.other_cores);
        ic.push(rep.own_cpu);
    }
    let imed = median(&iw);
    println!(
        "INFER batch {infer_batch}: median {imed:.3} s over {infer_reps} (walls {:?}); \
         own CPU median {:.3} s; mean other cores {:.2}",
        iw.iter()
            .map(|w| (w * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>(),
        median(&ic),
        io.iter().sum::<f64>() / io.len().max(1) as f64
    );
    if pytorch_reference {
        println!(
            "  ratio to PyTorch reference 1.8–2.0 s (bench README, not measured here): {:.2}–{:.2}x",
            imed / 2.0,
            imed / 1.8
        );
    }
    println!("loadavg at end: {}", loadavg());
    Ok(())
}
