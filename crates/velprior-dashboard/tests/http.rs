//! HTTP tests against a real dashboard server on loopback, over a fixture runs folder.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

/// Writes the fixture: a finished run, a half-written run, and a nested run.
fn fixture(root: &Path) {
    let good = root.join("train-good");
    std::fs::create_dir_all(&good).unwrap();
    std::fs::write(
        good.join("config.toml"),
        "kind = \"train\"\n[train]\nsteps = 3\n",
    )
    .unwrap();
    std::fs::write(
        good.join("metrics.jsonl"),
        "{\"step\":1,\"loss\":1.0}\n{\"step\":2,\"loss\":0.5}\n{\"step\":3,\"loss\":0.25}\n",
    )
    .unwrap();
    std::fs::write(good.join("summary.json"), "{\"ssim\": 0.61, \"mae\": 0.15}").unwrap();
    std::fs::write(good.join("samples.png"), b"\x89PNG\r\n\x1a\nfake").unwrap();
    std::fs::write(good.join("samples.h5"), b"HDF").unwrap();

    let half = root.join("fwi-half");
    std::fs::create_dir_all(&half).unwrap();
    std::fs::write(
        half.join("metrics.jsonl"),
        "{\"iteration\":0,\"loss\":2.0,\"ssim\":0.3}\n{\"iteration\":1,\"lo",
    )
    .unwrap();
    std::fs::write(half.join("summary.json"), "{\"ssim\": 0.").unwrap();
    std::fs::write(half.join("result.h5.tmp"), b"").unwrap();

    let nested = root.join("sweep/n16");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(nested.join("config.json"), "{\"kind\": \"memorization\"}").unwrap();
    std::fs::write(nested.join("summary.json"), "{\"memorised_fraction\": 0.5}").unwrap();
}

/// Starts a server on an ephemeral loopback port; it lives until the test process ends.
fn start(root: &Path) -> SocketAddr {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        rt.block_on(velprior_dashboard::serve_on(
            listener,
            &root,
            &candle_core::Device::Cpu,
        ))
    });
    addr
}

/// GET `path` with the raw request line as given (no client-side path normalisation).
fn get(addr: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

fn page(addr: SocketAddr, path: &str) -> String {
    let (status, _, body) = get(addr, path);
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[test]
fn every_page_answers_and_bad_requests_get_4xx() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let addr = start(dir.path());

    let index = page(addr, "/");
    for id in ["train-good", "fwi-half", "sweep/n16"] {
        assert!(index.contains(id), "index lists {id}");
    }
    assert!(index.contains("ssim = 0.61"));

    let good = page(addr, "/run/train-good");
    assert!(
        good.contains("<svg") && good.contains("loss"),
        "metric chart drawn"
    );
    assert!(good.contains("/files/train-good/samples.png"));
    assert!(good.contains("/files/train-good/samples.h5"));
    assert!(!good.contains("⚠"), "a complete run has no warnings");

    let half = page(addr, "/run/fwi-half");
    assert!(half.contains("metrics.jsonl line 2 unreadable"));
    assert!(half.contains("summary.json is not a readable JSON object"));
    assert!(half.contains("result.h5.tmp: a temporary file"));
    assert!(half.contains("no config.toml or config.json"));

    page(addr, "/run/sweep/n16");
    let cmp = page(addr, "/compare?run=train-good&run=fwi-half");
    assert!(cmp.contains("Comparison") && cmp.contains("0.61") && cmp.contains("Shared metrics"));

    let (status, head, body) = get(addr, "/files/train-good/samples.png");
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: image/png")
    );
    assert!(body.starts_with(b"\x89PNG"));

    for bad in [
        "/files/../../etc/passwd",
        "/files/train-good/../../etc/passwd",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/files/train-good/%2e%2e/%2e%2e/etc/hostname",
        "/run/..%2f..%2fetc",
        "/compare?run=train-good",
        "/compare?run=train-good&run=..%2Fetc",
    ] {
        let (status, _, body) = get(addr, bad);
        assert!(
            (400..500).contains(&status),
            "{bad} -> {status}: {}",
            String::from_utf8_lossy(&body)
        );
        assert!(!String::from_utf8_lossy(&body).contains("root:"));
    }
    assert_eq!(get(addr, "/run/no-such-run").0, 404);
    assert_eq!(get(addr, "/files/train-good/missing.png").0, 404);
}

#[test]
fn a_missing_runs_folder_is_a_clear_error() {
    let err = velprior_dashboard::router(Path::new("/no/such/runs"), &candle_core::Device::Cpu)
        .unwrap_err();
    assert!(err.to_string().contains("/no/such/runs"), "{err}");
}

/// Trains a tiny 2-D-latent autoencoder on two-layer profiles into `root/ae`.
fn autoencoder_run(root: &Path) {
    use velprior_data::synth::{Family, SynthSpec, generate_to_file};
    use velprior_diffusion::baselines::{AeTrainConfig, AeTrainer, QuietAe};
    let corpus = root.join("corpus.h5");
    generate_to_file(
        &SynthSpec::new(Family::TwoLayer, 32, 3),
        &corpus,
        32,
        |_| {},
    )
    .unwrap();
    let cfg: AeTrainConfig = toml::from_str(&format!(
        "output = {:?}\n[data]\ncorpus = {:?}\nvmin = 1000.0\nvmax = 5000.0\n\
         [model]\narch = \"mlp\"\nhidden = [16]\nlatent_dim = 2\nlambda = 0.01\n\
         [train]\nepochs = 5\nbatch_size = 16\nlog_every = 5\ncheckpoint_every = 5\n",
        root.join("ae"),
        corpus
    ))
    .unwrap();
    AeTrainer::new(cfg, &candle_core::Device::Cpu)
        .unwrap()
        .run(&mut QuietAe, None)
        .unwrap();
}

#[test]
fn playground_decodes_slider_positions_and_refuses_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    autoencoder_run(dir.path());
    let addr = start(dir.path());

    assert!(
        page(addr, "/run/ae").contains("/playground/ae"),
        "run page links the playground"
    );
    let html = page(addr, "/playground/ae");
    assert!(html.contains("id=\"z1\"") && html.contains("/api/playground?"));
    let view = |q: &str| {
        let body = page(addr, &format!("/api/playground?run=ae&{q}"));
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    let max: f64 = html
        .split("max=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let a = view("z1=0&z2=0");
    let b = view(&format!("z1={}&z2={}", 0.8 * max, -0.5 * max));
    for key in ["latent_svg", "velocity_svg", "profile_svg"] {
        assert!(a[key].as_str().unwrap().starts_with("<svg"), "{key}");
    }
    assert_ne!(
        a["profile_svg"], b["profile_svg"],
        "another latent decodes to another profile"
    );
    assert!(a["v1"].as_f64().unwrap() > 900.0 && a["v2"].as_f64().unwrap() < 5100.0);
    let (status, head, png) = get(
        addr,
        &format!("/api/playground.png?run=ae&z1={}&z2=0", 0.3 * max),
    );
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("image/png") && png.starts_with(b"\x89PNG"));

    for bad in [
        "/api/playground?run=ae&z1=abc&z2=0",
        "/api/playground?run=ae&z1=NaN&z2=0",
        "/api/playground?run=ae&z1=1e9&z2=0",
        "/api/playground?run=ae&z1=0",
        "/api/playground?run=ae&z1=0&z2=0&z3=1",
        "/api/playground?z1=0&z2=0",
        "/api/playground?run=train-good&z1=0&z2=0",
        "/api/playground?run=..%2F..%2Fetc&z1=0&z2=0",
        "/playground/train-good",
    ] {
        let (status, _, body) = get(addr, bad);
        assert!(
            (400..500).contains(&status),
            "{bad} -> {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}

/// Trains a tiny 2-D-latent GAN on 12×10 CurveFault models into `root/gan`.
fn gan_run(root: &Path) {
    use velprior_data::synth::{Family, SynthSpec, generate_to_file};
    use velprior_diffusion::baselines::{GanTrainConfig, GanTrainer, QuietGan};
    let corpus = root.join("gan-corpus.h5");
    let spec = SynthSpec {
        shape: Some([12, 10]),
        ..SynthSpec::new(Family::Curvefault, 16, 3)
    };
    generate_to_file(&spec, &corpus, 16, |_| {}).unwrap();
    let cfg: GanTrainConfig = toml::from_str(&format!(
        "output = {:?}\n[data]\ncorpus = {:?}\nvmin = 1500.0\nvmax = 4500.0\n\
         [model]\nchannels = [4, 8]\nlatent_dim = 2\n\
         [train]\nepochs = 2\nbatch_size = 8\nlog_every = 1\ncheckpoint_every = 2\n",
        root.join("gan"),
        corpus
    ))
    .unwrap();
    GanTrainer::new(cfg, &candle_core::Device::Cpu)
        .unwrap()
        .run(&mut QuietGan, None)
        .unwrap();
}

/// A GAN's generator drives the playground too: 2-D models as PNGs, the corpus only in the
/// velocity plane (a generator has no encoder). Catches: a playground that refuses
/// checkpoints without an encoder, or decodes every slider position to the same model.
#[test]
fn playground_shows_a_gans_decoded_models() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    gan_run(dir.path());
    let addr = start(dir.path());
    assert!(page(addr, "/run/gan").contains("/playground/gan"));
    assert!(page(addr, "/playground/gan").contains("no encoder"));
    let png = |z1: f64| {
        let (status, _, png) = get(addr, &format!("/api/playground.png?run=gan&z1={z1}&z2=0"));
        assert_eq!(status, 200);
        assert!(png.starts_with(b"\x89PNG"));
        png
    };
    assert_ne!(
        png(-2.0),
        png(2.0),
        "another latent decodes to another model"
    );
    let view: serde_json::Value =
        serde_json::from_str(&page(addr, "/api/playground?run=gan&z1=0.5&z2=-1")).unwrap();
    assert!(
        view["profile_svg"].is_null(),
        "2-D models are pictures, not profiles"
    );
    assert!(view["latent_svg"].as_str().unwrap().starts_with("<svg"));
}

/// A rank-2 flow's base variable drives the playground: its corpus is encoded into the
/// latent plane. Catches a playground that refuses flows or cannot encode their corpus.
#[test]
fn playground_shows_a_rank_two_flows_models() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    gan_run(dir.path());
    let text = format!(
        "kind = \"flow\"\noutput = {:?}\n[data]\ncorpus = {:?}\nvmin = 1500.0\n\
         vmax = 4500.0\n[model]\nrank = 2\nblocks = 2\nhidden = 8\nepochs = 2\n",
        dir.path().join("flow"),
        dir.path().join("gan-corpus.h5")
    );
    let cfg = velprior_diffusion::any_train_config::AnyTrainConfig::from_toml(
        &text,
        Path::new("flow.toml"),
    )
    .unwrap();
    let velprior_diffusion::any_train_config::AnyTrainConfig::Density(cfg) = cfg else {
        panic!("kind = flow")
    };
    velprior_diffusion::baselines::fit_density(&cfg).unwrap();
    // What `velprior train` keeps beside the checkpoint.
    std::fs::write(dir.path().join("flow/config.toml"), text).unwrap();
    let addr = start(dir.path());
    assert!(page(addr, "/run/flow").contains("/playground/flow"));
    assert!(!page(addr, "/playground/flow").contains("no encoder"));
    let view: serde_json::Value =
        serde_json::from_str(&page(addr, "/api/playground?run=flow&z1=0.5&z2=-1")).unwrap();
    assert!(view["latent_svg"].as_str().unwrap().contains("corpus"));
    let (status, _, png) = get(addr, "/api/playground.png?run=flow&z1=1&z2=0");
    assert_eq!(status, 200);
    assert!(png.starts_with(b"\x89PNG"));
}

/// Trains a tiny diffusion prior (12×12, 2 steps) into `root/diffusion`.
fn diffusion_run(root: &Path) {
    use velprior_data::synth::{Family, SynthSpec, generate_to_file};
    use velprior_diffusion::config::TrainConfig;
    use velprior_diffusion::trainer::{Silent, Trainer};
    let corpus = root.join("small.h5");
    let spec = SynthSpec {
        shape: Some([12, 12]),
        ..SynthSpec::new(Family::Curvevel, 4, 1)
    };
    generate_to_file(&spec, &corpus, 4, |_| {}).unwrap();
    let text = format!(
        "output = {:?}\n[data]\ncorpus = {:?}\nvmin = 1500.0\nvmax = 4500.0\n\
         [model]\nbase_channels = 8\nchannel_mult = [1, 2]\nres_blocks_per_level = 1\ngroups = 4\n\
         time_sinusoid_dim = 8\ntime_embed_dim = 16\n[diffusion]\ntimesteps = 100\n\
         [train]\nsteps = 2\nbatch_size = 2\nlog_every = 1\ncheckpoint_every = 2\n",
        root.join("diffusion"),
        corpus
    );
    let cfg = TrainConfig::from_toml(&text, Path::new("tiny.toml")).unwrap();
    Trainer::new(cfg, &candle_core::Device::Cpu)
        .unwrap()
        .run(&mut Silent, None)
        .unwrap();
}

#[test]
fn boomerang_resamples_around_a_model_and_refuses_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    diffusion_run(dir.path());
    let addr = start(dir.path());

    assert!(page(addr, "/run/diffusion").contains("/boomerang/diffusion"));
    let html = page(addr, "/boomerang/diffusion");
    assert!(
        html.contains("id=\"t\"") && html.contains("max=\"3\""),
        "4 corpus models"
    );
    let (status, head, png) = get(
        addr,
        "/api/boomerang.png?run=diffusion&model=1&t=0.3&seed=2",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&png));
    assert!(head.to_ascii_lowercase().contains("image/png") && png.starts_with(b"\x89PNG"));
    for bad in [
        "/api/boomerang.png?run=diffusion&model=4&t=0.3",
        "/api/boomerang.png?run=diffusion&model=0&t=0",
        "/api/boomerang.png?run=diffusion&model=0&t=1.5",
        "/api/boomerang.png?run=diffusion&model=0&t=0.3&seed=-1",
        "/api/boomerang.png?run=diffusion&model=0&t=0.3&x=1",
        "/api/boomerang.png?model=0&t=0.3",
    ] {
        let (status, _, body) = get(addr, bad);
        assert!(
            (400..500).contains(&status),
            "{bad} -> {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}
