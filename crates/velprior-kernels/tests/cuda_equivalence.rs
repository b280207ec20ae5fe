//! CUDA against CPU for every op. Runs where the crate is built with `--features cuda` and a GPU
//! is present; prints why it was skipped otherwise.

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_matches_cpu() {
    println!("cuda_matches_cpu: skipped: built without the `cuda` feature");
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_matches_cpu() {
    use candle_core::{Device, Tensor};
    use velprior_kernels::respacing::uniform_timesteps;
    use velprior_kernels::*;

    if !cuda::driver_available() {
        println!("cuda_matches_cpu: skipped: no CUDA driver (libcuda) found");
        return;
    }
    let gpu = match Device::new_cuda(0) {
        Ok(d) => d,
        Err(e) => {
            println!("cuda_matches_cpu: skipped: no CUDA device ({e})");
            return;
        }
    };
    let cpu = Device::Cpu;
    let shape = (7usize, 1usize, 33usize, 65usize);
    let x = Tensor::randn(0f32, 1., shape, &cpu).unwrap();
    let e = Tensor::randn(0f32, 1., shape, &cpu).unwrap();
    let z = Tensor::randn(0f32, 1., shape, &cpu).unwrap();
    let (xg, eg, zg) = (
        x.to_device(&gpu).unwrap(),
        e.to_device(&gpu).unwrap(),
        z.to_device(&gpu).unwrap(),
    );
    let s = Schedule::cosine(1000).unwrap();
    let sp = s.respace(&uniform_timesteps(1000, 50).unwrap()).unwrap();
    let ts = [0usize, 999, 1, 500, 250, 750, 998];
    let tsp = [0usize, 49, 1, 20, 10, 30, 48];
    let t_gpu = Tensor::new(&[0u32, 999, 1, 500, 250, 750, 998], &gpu).unwrap();
    let sde = VpSde::default();
    let tc = [1.0, 0.5, 0.01, 0.2, 0.9, 0.3, 0.7];
    let clip = Some((-1.0f32, 1.0f32));

    type Op<'a> = Box<dyn Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor> + 'a>;
    let ops: Vec<(&str, Op)> = vec![
        ("q_sample", Box::new(|x, e, _| q_sample(x, e, &ts[..], &s))),
        (
            "q_sample (tensor t)",
            Box::new(|x, e, _| {
                let t = t_gpu.to_device(x.device())?;
                q_sample(x, e, &t, &s)
            }),
        ),
        (
            "tweedie_x0",
            Box::new(|x, e, _| tweedie_x0(x, e, &ts[..], &s)),
        ),
        ("v_target", Box::new(|x, e, _| v_target(x, e, &ts[..], &s))),
        (
            "eps_from_v",
            Box::new(|x, e, _| eps_from_v(x, e, &ts[..], &s)),
        ),
        (
            "x0_from_v",
            Box::new(|x, e, _| x0_from_v(x, e, &ts[..], &s)),
        ),
        (
            "ddpm_step",
            Box::new(|x, e, z| ddpm_step(x, e, Some(z), &ts[..], &s, &DdpmStep::default())),
        ),
        (
            "ddpm_step clip",
            Box::new(|x, e, z| {
                let o = DdpmStep {
                    variance: DdpmVariance::Beta,
                    clip_x0: clip,
                };
                ddpm_step(x, e, Some(z), &ts[..], &s, &o)
            }),
        ),
        (
            "ddpm_step t=0 no z",
            Box::new(|x, e, _| ddpm_step(x, e, None, &0usize, &s, &DdpmStep::default())),
        ),
        (
            "ddim_step eta=0",
            Box::new(|x, e, _| ddim_step(x, e, None, &tsp[..], &sp, &DdimStep::default())),
        ),
        (
            "ddim_step eta=1 clip",
            Box::new(|x, e, z| {
                ddim_step(
                    x,
                    e,
                    Some(z),
                    &tsp[..],
                    &sp,
                    &DdimStep {
                        eta: 1.0,
                        clip_x0: clip,
                    },
                )
            }),
        ),
        (
            "euler_maruyama",
            Box::new(|x, e, z| euler_maruyama_step(x, e, Some(z), &tc, 1e-3, &sde)),
        ),
        (
            "euler_maruyama no z",
            Box::new(|x, e, _| euler_maruyama_step(x, e, None, &tc, 1e-3, &sde)),
        ),
        (
            "langevin",
            Box::new(|x, e, z| langevin_step(x, e, z, &[0.3], &[1e-3])),
        ),
        (
            "guided_update",
            Box::new(|x, e, _| guided_update(x, e, 0.5, &[3.0, 1.0, 2.0, 4.0, 5.0, 6.0, 7.0])),
        ),
    ];
    for (name, op) in ops {
        let c = op(&x, &e, &z)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let g = op(&xg, &eg, &zg).unwrap_or_else(|err| panic!("{name} on CUDA: {err}"));
        assert!(g.device().is_cuda(), "{name}: result left the GPU");
        let g = g.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        // The GPU contracts a·x + b·y into FMAs: equal up to a few f32 roundings of the largest term.
        let scale = c.iter().fold(1f32, |m, v| m.max(v.abs()));
        let worst = c
            .iter()
            .zip(&g)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            worst <= 1e-5 * scale,
            "{name}: CPU and CUDA differ by {worst} (scale {scale})"
        );
        println!("{name}: CUDA == CPU (max difference {worst:e})");
    }
}
