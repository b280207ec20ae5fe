//! The UNet on CPU with velprior-kernels' conv / GroupNorm kernels against the same network
//! (same weights) run with candle's own ops (`with_candle_ops`): output, input gradient and
//! every parameter gradient agree to f32 tolerance, with attention and an odd input size.

use candle_core::{Device, Tensor, Var};
use velprior_nn::{UNet, UNetConfig, with_candle_ops};

fn tiny() -> UNetConfig {
    UNetConfig {
        base_channels: 8,
        channel_mult: vec![1, 2, 2],
        res_blocks_per_level: 1,
        attention_levels: vec![1],
        mid_attention: true,
        attention_heads: 2,
        groups: 4,
        time_sinusoid_dim: 8,
        time_embed_dim: 16,
        ..UNetConfig::unet_bench()
    }
}

fn wave(n: usize, c: usize, h: usize, w: usize, f: f32) -> Tensor {
    let v: Vec<f32> = (0..n * c * h * w).map(|i| (i as f32 * f).sin()).collect();
    Tensor::from_vec(v, (n, c, h, w), &Device::Cpu).unwrap()
}

/// max |a − b| ≤ tol · max |b| per tensor: relative to that tensor's own scale, so a zeroed
/// gradient of a parameter whose true gradient is small fails too.
fn assert_close(what: &str, a: &Tensor, b: &Tensor, tol: f32) {
    let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let scale = b.iter().fold(f32::MIN_POSITIVE, |m, v| m.max(v.abs()));
    let err = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(
        err <= tol * scale,
        "{what}: max error {err} > {tol} × {scale}"
    );
}

#[test]
fn unet_with_cpu_kernels_matches_candle_ops() {
    let (net, varmap) = UNet::new_seeded(&tiny(), 5, &Device::Cpu).unwrap();
    // 13×10: padded to 16×12 inside, so stride-2 convs see even sizes (candle's reference
    // conv backward needs H and W of one parity); 8×32: widths 32 and 16 take the direct
    // 3×3 kernel on AVX-512 CPUs.
    for (h, w) in [(13, 10), (8, 32)] {
        let x = Var::from_tensor(&wave(2, 1, h, w, 0.37)).unwrap();
        let t = Tensor::new(&[3f32, 870.0], &Device::Cpu).unwrap();
        let r = wave(2, 1, h, w, 0.11);
        let run = || {
            let y = net.forward(x.as_tensor(), &t, true).unwrap();
            let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let mut g = vec![("x".to_string(), grads.get(&x).unwrap().clone())];
            for (name, v) in varmap.data().lock().unwrap().iter() {
                g.push((name.clone(), grads.get(v).unwrap().clone()));
            }
            (y, g)
        };
        let (y, g) = run();
        let (y_ref, g_ref) = with_candle_ops(run);
        assert_close(&format!("{h}×{w} output"), &y, &y_ref, 1e-5);
        for ((name, a), (_, b)) in g.iter().zip(&g_ref) {
            assert_close(&format!("{h}×{w} gradient of {name}"), a, b, 1e-4);
        }
    }
}
