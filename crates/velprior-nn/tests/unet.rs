//! UNet tests: architecture (parameter counts, names), shapes incl. odd sizes, gradients,
//! overfitting one batch, seeded determinism, config and shape errors.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use velprior_nn::{NnError, PadMode, UNet, UNetConfig, parameter_count, sinusoidal_embedding};

/// A small but complete network: 3 levels, attention at level 1 and in the middle, dropout.
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
        dropout: 0.0,
        ..UNetConfig::unet_bench()
    }
}

fn shapes(varmap: &VarMap) -> BTreeMap<String, Vec<usize>> {
    let data = varmap.data().lock().unwrap();
    data.iter()
        .map(|(k, v)| (k.clone(), v.dims().to_vec()))
        .collect()
}

fn ramp(n: usize, c: usize, h: usize, w: usize) -> Tensor {
    let v: Vec<f32> = (0..n * c * h * w)
        .map(|i| ((i as f32) * 0.37).sin())
        .collect();
    Tensor::from_vec(v, (n, c, h, w), &Device::Cpu).unwrap()
}

#[test]
fn bench_preset_has_the_scripts_parameter_count() {
    let (_, vm) = UNet::new_seeded(&UNetConfig::unet_bench(), 0, &Device::Cpu).unwrap();
    assert_eq!(parameter_count(&vm), 2_752_417);
    // --attn adds Attention(128): GN 2·128 + qkv 128·384 + 384 + proj 128·128 + 128 = 66,304.
    let (_, vm) = UNet::new_seeded(&UNetConfig::unet_bench_attn(), 0, &Device::Cpu).unwrap();
    assert_eq!(parameter_count(&vm), 2_752_417 + 66_304);
}

#[test]
fn bench_preset_tensor_names_and_shapes() {
    let (_, vm) = UNet::new_seeded(&UNetConfig::unet_bench(), 0, &Device::Cpu).unwrap();
    let s = shapes(&vm);
    let expect: &[(&str, &[usize])] = &[
        ("time_mlp.0.weight", &[128, 32]),
        ("time_mlp.2.weight", &[128, 128]),
        ("conv_in.weight", &[32, 1, 3, 3]),
        ("down.0.res.1.conv1.weight", &[32, 32, 3, 3]),
        ("down.1.res.0.skip.weight", &[64, 32, 1, 1]),
        ("down.1.res.0.time_proj.weight", &[64, 128]),
        ("down.0.downsample.conv.weight", &[32, 32, 3, 3]),
        ("down.1.downsample.conv.weight", &[64, 64, 3, 3]),
        ("mid.res.0.norm1.weight", &[128]),
        ("mid.res.1.conv2.bias", &[128]),
        ("up.2.res.0.conv1.weight", &[128, 256, 3, 3]),
        ("up.2.res.0.skip.weight", &[128, 256, 1, 1]),
        ("up.1.res.0.conv1.weight", &[64, 192, 3, 3]),
        ("up.0.res.0.norm1.weight", &[96]),
        ("up.2.upsample.conv.weight", &[128, 128, 3, 3]),
        ("up.1.upsample.conv.weight", &[64, 64, 3, 3]),
        ("norm_out.weight", &[32]),
        ("conv_out.weight", &[1, 32, 3, 3]),
    ];
    for (name, shape) in expect {
        assert_eq!(s.get(*name).map(|v| v.as_slice()), Some(*shape), "{name}");
    }
    for absent in [
        "down.2.downsample.conv.weight",
        "up.0.upsample.conv.weight",
        "down.0.res.0.skip.weight",
        "mid.attn.qkv.weight",
    ] {
        assert!(!s.contains_key(absent), "{absent} should not exist");
    }
    let (_, vm) = UNet::new_seeded(&UNetConfig::unet_bench_attn(), 0, &Device::Cpu).unwrap();
    assert_eq!(shapes(&vm)["mid.attn.qkv.weight"], vec![384, 128, 1, 1]);
}

#[test]
fn output_shape_equals_input_shape_for_odd_sizes() {
    for mode in [PadMode::Replicate, PadMode::Reflect] {
        let cfg = UNetConfig {
            pad_mode: mode,
            ..tiny()
        };
        let (net, _) = UNet::new_seeded(&cfg, 1, &Device::Cpu).unwrap();
        for (h, w) in [(70, 70), (37, 45), (16, 16), (5, 3)] {
            let x = ramp(2, 1, h, w);
            let t = Tensor::new(&[3f32, 900.0], &Device::Cpu).unwrap();
            let y = net.forward(&x, &t, false).unwrap();
            assert_eq!(y.dims(), &[2, 1, h, w], "{mode:?} {h}x{w}");
            let finite = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert!(finite.iter().all(|v| v.is_finite()));
        }
    }
}

#[test]
fn reflect_padding_of_a_too_small_input_is_an_error_not_a_panic() {
    let cfg = UNetConfig {
        pad_mode: PadMode::Reflect,
        channel_mult: vec![1, 1, 1, 1],
        ..tiny()
    };
    let (net, _) = UNet::new_seeded(&cfg, 1, &Device::Cpu).unwrap();
    // 2 → 8 needs a pad of 6 ≥ 2.
    let r = net.forward(
        &ramp(1, 1, 2, 2),
        &Tensor::new(&[1f32], &Device::Cpu).unwrap(),
        false,
    );
    assert!(matches!(r, Err(NnError::Shape(_))), "{r:?}");
}

#[test]
fn gradients_reach_every_parameter() {
    let cfg = UNetConfig {
        dropout: 0.1,
        ..tiny()
    };
    let (net, vm) = UNet::new_seeded(&cfg, 2, &Device::Cpu).unwrap();
    let x = ramp(2, 1, 12, 10);
    let t = Tensor::new(&[10f32, 500.0], &Device::Cpu).unwrap();
    let y = net.forward(&x, &t, true).unwrap();
    let loss = y.sqr().unwrap().mean_all().unwrap();
    let grads = loss.backward().unwrap();
    let data = vm.data().lock().unwrap();
    assert!(data.len() > 50);
    for (name, var) in data.iter() {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        let norm = g
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(norm > 0.0 && norm.is_finite(), "{name}: |grad|² = {norm}");
    }
}

#[test]
fn tiny_network_overfits_one_batch() {
    let cfg = UNetConfig {
        attention_levels: vec![],
        mid_attention: false,
        channel_mult: vec![1, 2],
        ..tiny()
    };
    let dev = Device::Cpu;
    let (net, vm) = UNet::new_seeded(&cfg, 3, &dev).unwrap();
    let x = ramp(4, 1, 16, 16);
    let t = Tensor::new(&[1f32, 250.0, 500.0, 999.0], &dev).unwrap();
    let target = (ramp(4, 1, 16, 16) * 0.5).unwrap().cos().unwrap();
    let params = ParamsAdamW {
        lr: 1e-2,
        ..Default::default()
    };
    let mut opt = AdamW::new(vm.all_vars(), params).unwrap();
    let mut first = 0f32;
    let mut last = 0f32;
    for step in 0..50 {
        let y = net.forward(&x, &t, true).unwrap();
        let loss = (y - &target).unwrap().sqr().unwrap().mean_all().unwrap();
        let l = loss.to_scalar::<f32>().unwrap();
        if step == 0 {
            first = l;
        }
        last = l;
        opt.backward_step(&loss).unwrap();
    }
    assert!(last < first / 20.0, "loss {first} -> {last}");
}

#[test]
fn same_seed_same_weights_different_seed_different_weights() {
    let dump = |seed| {
        let (_, vm) = UNet::new_seeded(&tiny(), seed, &Device::Cpu).unwrap();
        let data = vm.data().lock().unwrap();
        data.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let (a, b, c) = (dump(7), dump(7), dump(8));
    assert_eq!(a, b);
    assert_ne!(a["conv_in.weight"], c["conv_in.weight"]);
    // PyTorch-default bounds: conv_in fan_in = 1·3·3 → |w| ≤ 1/3; GroupNorm weight = 1.
    assert!(a["conv_in.weight"].iter().all(|v| v.abs() <= 1.0 / 3.0));
    assert!(a["down.0.res.0.norm1.weight"].iter().all(|&v| v == 1.0));
    assert!(a["down.0.res.0.norm1.bias"].iter().all(|&v| v == 0.0));
}

#[test]
fn sinusoidal_embedding_matches_the_formula() {
    let t = Tensor::new(&[0f32, 10.0], &Device::Cpu).unwrap();
    let e = sinusoidal_embedding(&t, 8)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    assert_eq!(e[0], vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
    for i in 0..4 {
        let f = (-(10000f64.ln()) * i as f64 / 4.0).exp();
        assert!((e[1][i] as f64 - (10.0 * f).sin()).abs() < 1e-5);
        assert!((e[1][i + 4] as f64 - (10.0 * f).cos()).abs() < 1e-5);
    }
    assert!(sinusoidal_embedding(&t, 7).is_err());
    assert!(sinusoidal_embedding(&t.unsqueeze(0).unwrap(), 8).is_err());
}

#[test]
fn bad_configs_name_the_key() {
    let cases: Vec<(UNetConfig, &str)> = vec![
        (
            UNetConfig {
                groups: 5,
                ..UNetConfig::unet_bench()
            },
            "`groups`",
        ),
        (
            UNetConfig {
                channel_mult: vec![],
                ..UNetConfig::unet_bench()
            },
            "`channel_mult`",
        ),
        (
            UNetConfig {
                time_sinusoid_dim: 31,
                ..UNetConfig::unet_bench()
            },
            "`time_sinusoid_dim`",
        ),
        (
            UNetConfig {
                attention_levels: vec![3],
                ..UNetConfig::unet_bench()
            },
            "`attention_levels`",
        ),
        (
            UNetConfig {
                dropout: 1.0,
                ..UNetConfig::unet_bench()
            },
            "`dropout`",
        ),
        (
            UNetConfig {
                mid_attention: true,
                attention_heads: 3,
                ..UNetConfig::unet_bench()
            },
            "`attention_heads`",
        ),
    ];
    for (cfg, key) in cases {
        let err = match UNet::new_seeded(&cfg, 0, &Device::Cpu) {
            Ok(_) => panic!("config should be rejected: {cfg:?}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(key), "{err}");
        assert!(!err.contains('\n'), "one-line message: {err}");
    }
}

#[test]
fn toml_config_round_trips_and_rejects_unknown_keys() {
    let cfg = UNetConfig::from_toml_str(
        "base_channels = 16\nchannel_mult = [1, 2]\npad_mode = \"reflect\"\nmid_attention = true\n",
    )
    .unwrap();
    assert_eq!(cfg.base_channels, 16);
    assert_eq!(cfg.pad_mode, PadMode::Reflect);
    assert_eq!(cfg.groups, 8, "missing keys take the bench preset");
    let back = UNetConfig::from_toml_str(&toml::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
    let err = UNetConfig::from_toml_str("base_chanels = 16\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("base_chanels"), "{err}");
    let err = UNetConfig::from_toml_str("groups = 7\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`groups`"), "{err}");
}

#[test]
fn bad_input_shapes_are_errors_not_panics() {
    let (net, _) = UNet::new_seeded(&tiny(), 0, &Device::Cpu).unwrap();
    let t2 = Tensor::new(&[1f32, 2.0], &Device::Cpu).unwrap();
    let cases = [
        (ramp(2, 3, 8, 8), t2.clone()), // wrong channels
        (ramp(1, 2, 8, 8).reshape((2, 8, 8)).unwrap(), t2.clone()), // rank 3
        (
            ramp(2, 1, 8, 8),
            Tensor::new(&[1f32], &Device::Cpu).unwrap(),
        ), // t length
        (ramp(2, 1, 8, 8).to_dtype(DType::F64).unwrap(), t2.clone()), // dtype
        (
            Tensor::zeros((2, 1, 0, 8), DType::F32, &Device::Cpu).unwrap(),
            t2,
        ),
    ];
    for (x, t) in cases {
        let r = net.forward(&x, &t, false);
        assert!(matches!(r, Err(NnError::Shape(_))), "{:?}: {r:?}", x.dims());
    }
}

#[test]
fn forward_is_deterministic_and_uses_t() {
    let (net, _) = UNet::new_seeded(&tiny(), 4, &Device::Cpu).unwrap();
    let x = ramp(2, 1, 16, 16);
    let t = Tensor::new(&[5f32, 5.0], &Device::Cpu).unwrap();
    let y1 = net.forward(&x, &t, false).unwrap();
    let y2 = net.forward(&x, &t, false).unwrap();
    let d = (&y1 - &y2).unwrap().abs().unwrap().max_all().unwrap();
    assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
    let t3 = Tensor::new(&[5f32, 700.0], &Device::Cpu).unwrap();
    let y3 = net.forward(&x, &t3, false).unwrap();
    let diff = (&y1 - &y3)
        .unwrap()
        .abs()
        .unwrap()
        .sum_keepdim((1, 2, 3))
        .unwrap();
    let diff = diff.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(diff[0], 0.0, "sample 0 has the same t");
    assert!(diff[1] > 0.0, "sample 1 has a different t");
}
