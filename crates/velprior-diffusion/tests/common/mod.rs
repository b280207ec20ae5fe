//! The tiny training runs the trainer tests share (each test binary uses some of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use velprior_data::synth::{Family, SynthSpec, generate};
use velprior_data::write_corpus;
use velprior_diffusion::config::TrainConfig;

/// A training config for a tiny UNet (8/16 channels, two levels) on `corpus`, writing its run to
/// `out`. `rest` follows the `[model]` table's fixed keys: the time-embedding sizes and any other
/// `[model]` keys, then the `[diffusion]` and `[train]` tables.
pub fn tiny_unet_config(corpus: &Path, out: &Path, rest: &str) -> TrainConfig {
    let text = format!(
        r#"
output = "{out}"
[data]
corpus = "{corpus}"
vmin = 1500.0
vmax = 4500.0
[model]
base_channels = 8
channel_mult = [1, 2]
res_blocks_per_level = 1
groups = 4
{rest}
"#,
        out = out.display(),
        corpus = corpus.display()
    );
    TrainConfig::from_toml(&text, Path::new("test.toml")).unwrap()
}

/// `tiny_unet_config` with 8/16 time-embedding sizes on 8 CurveVel models of 12×12, written to
/// `dir/corpus.h5` on first use; the run writes to `dir/out`.
pub fn tiny_train_config(dir: &Path, out: &str, rest: &str) -> TrainConfig {
    tiny_unet_config(
        &tiny_corpus(dir),
        &dir.join(out),
        &format!("time_sinusoid_dim = 8\ntime_embed_dim = 16\n{rest}"),
    )
}

fn tiny_corpus(dir: &Path) -> PathBuf {
    let corpus = dir.join("corpus.h5");
    if !corpus.exists() {
        let c = generate(&SynthSpec {
            shape: Some([12, 12]),
            ..SynthSpec::new(Family::Curvevel, 8, 1)
        })
        .unwrap();
        write_corpus(&corpus, &c).unwrap();
    }
    corpus
}
