//! End-to-end: the baseline methods of `velprior posterior` (MALA and ULA with a Gaussian prior,
//! random-walk Metropolis in model space and in an autoencoder's latent space, Boomerang with a
//! diffusion prior) on a tiny 16x16 acoustic problem with priors trained by `velprior train`.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{flatvel_corpus, ok, one_error_line, s, velprior, write_npy};

const SIZE: usize = 16;

/// The tiny problem's files and the three priors, trained once per test.
struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let corpus = root.join("c.h5");
        flatvel_corpus(&corpus, 24, "16x16");
        let data = "[data]\ncorpus = \"CORPUS\"\nvmin = 1500.0\nvmax = 4500.0\n";
        let configs = [
            (
                "gaussian",
                "kind = \"gaussian\"\n[model]\nrank = 4\n[fit]\nsample_count = 0\nseed = 0\n",
            ),
            (
                "ae",
                "kind = \"autoencoder\"\n[model]\narch = \"mlp\"\nhidden = [32]\nlatent_dim = 2\n\
                 lambda = 0.01\n[train]\nepochs = 3\nbatch_size = 8\nseed = 0\nlog_every = 1\n\
                 checkpoint_every = 3\n[train.optimizer]\nlr = 1e-3\nweight_decay = 0.0\n",
            ),
            (
                "diffusion",
                "[model]\nbase_channels = 8\nchannel_mult = [1, 2]\nres_blocks_per_level = 1\n\
                 groups = 4\ntime_sinusoid_dim = 8\ntime_embed_dim = 16\n[diffusion]\n\
                 timesteps = 50\n[train]\nsteps = 2\nbatch_size = 2\nlog_every = 1\n\
                 checkpoint_every = 2\nsample_count = 0\n",
            ),
        ];
        for (name, body) in configs {
            // Top-level keys first, then the tables.
            let (top, tables) = body.split_at(body.find('[').unwrap());
            let text = format!(
                "{top}output = \"{}\"\n{}{tables}",
                s(&root.join(name)),
                data.replace("CORPUS", s(&corpus))
            );
            let cfg = root.join(format!("{name}.toml"));
            std::fs::write(&cfg, text).unwrap();
            ok(&velprior(&["train", "--config", s(&cfg)]));
        }
        let truth: Vec<f32> = (0..SIZE * SIZE)
            .map(|i| 2000.0 + 60.0 * (i / SIZE) as f32)
            .collect();
        let (nt, shots) = (60, 2);
        let observed: Vec<f32> = (0..shots * nt * SIZE)
            .map(|i| (i as f32 * 0.37).sin() * 1e-3)
            .collect();
        write_npy(&root.join("truth.npy"), &[SIZE, SIZE], &truth);
        write_npy(&root.join("data.npy"), &[shots, nt, SIZE], &observed);
        Setup { _dir: dir, root }
    }

    /// Runs `velprior posterior` with `prior` ("gaussian", "ae" or "diffusion"), the
    /// `[method]` table `method` and noise variance 1e-4; returns the command's output and the
    /// run folder.
    fn posterior(&self, name: &str, prior: &str, method: &str) -> (Output, PathBuf) {
        self.posterior_scaled(name, prior, method, 1e-4)
    }

    /// [`Setup::posterior`] with likelihood_scale `scale`.
    fn posterior_scaled(
        &self,
        name: &str,
        prior: &str,
        method: &str,
        scale: f64,
    ) -> (Output, PathBuf) {
        let config = self.root.join(format!("{name}.post.toml"));
        std::fs::write(
            &config,
            format!(
                "prior = \"{}\"\nsmooth_sigma = 2.0\nlikelihood_scale = {scale:e}\n[files]\n\
                 observed = \"{}\"\ntrue_model = \"{}\"\n\
                 [solver]\ndx = 10.0\ndt = 0.001\norder = 4\nfreq = 15.0\nfree_surface = false\n\
                 [solver.boundary]\nkind = \"cpml\"\nwidth = 8\nreflection = 0.001\n\
                 max_velocity = 4500.0\n[acquisition]\nn_sources = 2\ndepth = 1\nnt = 60\n\
                 wavelet = {{ kind = \"openfwi\", freq = 15.0 }}\n[method]\n{method}",
                s(&self.root.join(prior).join("checkpoint.safetensors")),
                s(&self.root.join("data.npy")),
                s(&self.root.join("truth.npy")),
            ),
        )
        .unwrap();
        let out = self.root.join(name);
        let output = velprior(&["posterior", "--config", s(&config), "--out", s(&out)]);
        (output, out)
    }

    /// Like [`Setup::posterior_scaled`], expecting success; returns metrics.json.
    fn metrics(&self, name: &str, prior: &str, method: &str, scale: f64) -> serde_json::Value {
        let (output, out) = self.posterior_scaled(name, prior, method, scale);
        ok(&output);
        for file in ["samples.h5", "mean.png", "std.png", "zscore.png"] {
            assert!(out.join(file).is_file(), "{name}: no {file}");
        }
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap()
    }
}

fn acceptance(m: &serde_json::Value) -> f64 {
    m["acceptance_rate"].as_f64().expect("acceptance_rate")
}

#[test]
fn mcmc_baselines_run_from_the_cli_and_report_acceptance() {
    let setup = Setup::new();

    let mala = setup.metrics(
        "mala",
        "gaussian",
        "kind = \"mala\"\nstep = 1e-5\nsamples = 3\nburn_in = 2\nchains = 2\n",
        1e-4,
    );
    assert_eq!(mala["method"], "mala");
    assert_eq!(mala["samples"], 6, "2 chains x 3 kept states");
    assert_eq!(mala["acceptance_rates"].as_array().unwrap().len(), 2);
    // Under a flat likelihood, Langevin proposals of a tiny step are (almost) always accepted
    // (MALA's rejection rate is O(h^{3/2})): catches a chain that rejects what it should take
    // (a spurious term in the log acceptance ratio, a NaN). ("Tiny" as for random-walk
    // Metropolis below: the Gaussian prior's residual variance is tiny.)
    let tiny = setup.metrics(
        "mala-tiny",
        "gaussian",
        "kind = \"mala\"\nstep = 1e-12\nsamples = 8\n",
        1e6,
    );
    assert!(acceptance(&tiny) >= 0.75, "{tiny}");

    let ula = setup.metrics(
        "ula",
        "gaussian",
        "kind = \"ula\"\nstep = 1e-5\nsamples = 2\n",
        1e-4,
    );
    assert_eq!(ula["samples"], 2);
    assert!(
        ula.get("acceptance_rate").is_none(),
        "ULA accepts every move"
    );

    // Random-walk Metropolis under a flat likelihood: a tiny step is (almost) always accepted,
    // a huge one never. (The Gaussian prior of 24 flat-layer models has a tiny residual
    // variance, so "tiny" is smaller in model space.)
    let rwm = |space: &str, step: f64| {
        let prior = if space == "model" { "gaussian" } else { "ae" };
        acceptance(&setup.metrics(
            &format!("rwm-{space}-{step}"),
            prior,
            &format!("kind = \"metropolis\"\nspace = \"{space}\"\nstep = {step}\nsamples = 8\n"),
            1e6,
        ))
    };
    for (space, tiny) in [("model", 1e-12), ("latent", 1e-7)] {
        let (small, large) = (rwm(space, tiny), rwm(space, 1e3));
        assert!(small >= 0.75, "{space}: step {tiny} accepted {small}");
        assert_eq!(large, 0.0, "{space}: step 1e3 accepted {large}");
    }

    // MALA in the latent space follows the gradient through the decoder.
    let latent_mala = setup.metrics(
        "mala-latent",
        "ae",
        "kind = \"mala\"\nspace = \"latent\"\nstep = 1e-6\nsamples = 4\n",
        1e6,
    );
    assert!(acceptance(&latent_mala) >= 0.75, "{latent_mala}");
}

#[test]
fn boomerang_stays_near_its_start_for_a_small_t_star() {
    let setup = Setup::new();
    let near = setup.metrics(
        "boomerang-near",
        "diffusion",
        "kind = \"boomerang\"\nt_star = 0.02\nsteps = 50\nsamples = 2\n",
        1e-4,
    );
    let far = setup.metrics(
        "boomerang-far",
        "diffusion",
        "kind = \"boomerang\"\nt_star = 1.0\nsteps = 10\nsamples = 2\n",
        1e-4,
    );
    assert_eq!(near["samples"], 2);
    // The start is the smoothed truth: a sample noised only slightly and denoised back stays
    // about as close to the truth as the start; one drawn from the (untrained) prior does not.
    let mae = |m: &serde_json::Value| m["truth"]["mean_metrics"]["mae"].as_f64().unwrap();
    let start = near["start_metrics"]["mae"].as_f64().unwrap();
    assert!(
        mae(&near) <= start + 0.05,
        "near {} vs start {start}",
        mae(&near)
    );
    assert!(
        mae(&far) > mae(&near) + 0.05,
        "far {} near {}",
        mae(&far),
        mae(&near)
    );
}

#[test]
fn a_method_with_the_wrong_prior_kind_is_a_one_line_error() {
    let setup = Setup::new();
    for (prior, method, needle) in [
        (
            "diffusion",
            "kind = \"mala\"\nstep = 1e-5\nsamples = 1\n",
            "of kind density (gaussian, gmm, gp or flow)",
        ),
        (
            "gaussian",
            "kind = \"metropolis\"\nspace = \"latent\"\nstep = 0.1\nsamples = 1\n",
            "of kind latent-variable (autoencoder, vae or gan)",
        ),
        (
            "ae",
            "kind = \"boomerang\"\nt_star = 0.5\nsteps = 5\nsamples = 1\n",
            "of kind diffusion",
        ),
    ] {
        let (out, dir) = setup.posterior("wrong", prior, method);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains(needle), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!dir.join("metrics.json").exists());
    }
    // A model wider than a Gaussian prior's (16x24 against 16x16): only a diffusion prior
    // covers it, by windows.
    let wide = 24;
    let truth: Vec<f32> = (0..SIZE * wide)
        .map(|i| 2000.0 + 60.0 * (i / wide) as f32)
        .collect();
    write_npy(&setup.root.join("truth.npy"), &[SIZE, wide], &truth);
    write_npy(
        &setup.root.join("data.npy"),
        &[2, 60, wide],
        &vec![0.0; 2 * 60 * wide],
    );
    let (out, _) = setup.posterior(
        "wide",
        "gaussian",
        "kind = \"mala\"\nstep = 1e-5\nsamples = 1\n",
    );
    one_error_line(&out, "only a diffusion prior covers a larger model");
}
