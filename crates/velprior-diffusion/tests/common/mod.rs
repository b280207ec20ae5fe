//! The tiny training run the trainer tests share.

use std::path::Path;

use velprior_data::synth::{Family, SynthSpec, generate};
use velprior_data::write_corpus;
use velprior_diffusion::config::TrainConfig;

/// A training config for a tiny UNet (8/16 channels) on 8 CurveVel models of 12×12, written to
/// `dir/corpus.h5` on first use; the run writes to `dir/out`. `rest` follows the `[model]`
/// table's fixed keys: more `[model]` keys, then the `[diffusion]` and `[train]` tables.
pub fn tiny_train_config(dir: &Path, out: &str, rest: &str) -> TrainConfig {
    let corpus = dir.join("corpus.h5");
    if !corpus.exists() {
        let c = generate(&SynthSpec {
            shape: Some([12, 12]),
            ..SynthSpec::new(Family::Curvevel, 8, 1)
        })
        .unwrap();
        write_corpus(&corpus, &c).unwrap();
    }
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
time_sinusoid_dim = 8
time_embed_dim = 16
{rest}
"#,
        out = dir.join(out).display(),
        corpus = corpus.display()
    );
    TrainConfig::from_toml(&text, Path::new("test.toml")).unwrap()
}
