//! Built-in synthetic corpora, seeded and deterministic: model `i` of seed `s` is drawn
//! from its own ChaCha8 stream, so corpora are bit-identical for any thread count or
//! block size. Recipes are documented in `datasets/synthetic.md`.

pub mod fault;
pub mod marmousi;
pub mod openfwi;
pub mod salt;
pub mod two_layer;

use std::path::Path;
use std::str::FromStr;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::corpus::{Corpus, CorpusMeta, Parameters};
use crate::error::{DataError, Result};
use crate::hdf5_io::CorpusWriter;
use openfwi::Interfaces;

/// A family of synthetic velocity models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// OpenFWI FlatVel-A style: horizontal layers.
    Flatvel,
    /// OpenFWI CurveVel-A style: folded (sine-curved) layers.
    Curvevel,
    /// OpenFWI FlatFault-A style: horizontal layers cut by 1–2 faults.
    Flatfault,
    /// OpenFWI CurveFault-A style: curved layers cut by 1–2 faults.
    Curvefault,
    /// The four OpenFWI-style families mixed in equal parts: model `i` is drawn from
    /// [`Family::OPENFWI`]`[i % 4]`, so every prefix of a corpus is balanced.
    Openfwi,
    /// Marmousi style: fine layering, folding, 2–8 faults, optional salt.
    Marmousi,
    /// Two-layer 1-D profiles with v2 ≈ 2·v1 (the AE teaching corpus).
    TwoLayer,
}

impl Family {
    /// Every family, in documentation order.
    pub const ALL: [Family; 7] = [
        Family::Flatvel,
        Family::Curvevel,
        Family::Flatfault,
        Family::Curvefault,
        Family::Openfwi,
        Family::Marmousi,
        Family::TwoLayer,
    ];

    /// The four OpenFWI-style families, in the order [`Family::Openfwi`] cycles through them.
    pub const OPENFWI: [Family; 4] = [
        Family::Flatvel,
        Family::Curvevel,
        Family::Flatfault,
        Family::Curvefault,
    ];

    /// The family's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Flatvel => "flatvel",
            Family::Curvevel => "curvevel",
            Family::Flatfault => "flatfault",
            Family::Curvefault => "curvefault",
            Family::Openfwi => "openfwi",
            Family::Marmousi => "marmousi",
            Family::TwoLayer => "two-layer",
        }
    }

    /// Default model size (H, W): 70×70 for OpenFWI families, 128×128 for Marmousi,
    /// 64×1 for two-layer profiles.
    pub fn default_shape(self) -> [usize; 2] {
        match self {
            Family::Marmousi => [128, 128],
            Family::TwoLayer => [64, 1],
            _ => [70, 70],
        }
    }
}

impl FromStr for Family {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Family> {
        Family::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
                DataError::invalid(format!(
                    "unknown family '{s}'; choose one of {}",
                    names.join(", ")
                ))
            })
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    /// Model family.
    pub family: Family,
    /// Number of models.
    pub n: usize,
    /// Seed of the whole corpus.
    pub seed: u64,
    /// Model size (H, W); the family's default when `None`.
    pub shape: Option<[usize; 2]>,
    /// Grid spacing dx = dz, m.
    pub spacing: f64,
    /// Two-layer family only: the interface at this fraction of the depth, in (0, 1);
    /// `None` draws it uniformly in the middle half.
    pub interface: Option<f64>,
}

impl SynthSpec {
    /// A spec with the family's default size and 10 m spacing.
    pub fn new(family: Family, n: usize, seed: u64) -> SynthSpec {
        SynthSpec {
            family,
            n,
            seed,
            shape: None,
            spacing: 10.0,
            interface: None,
        }
    }

    /// The model size (H, W) that will be generated.
    pub fn model_shape(&self) -> [usize; 2] {
        self.shape.unwrap_or(self.family.default_shape())
    }

    fn meta(&self) -> CorpusMeta {
        CorpusMeta {
            dx: self.spacing,
            dz: self.spacing,
            source: format!("velprior synth {} seed {}", self.family, self.seed),
        }
    }

    fn check(&self) -> Result<()> {
        let [h, w] = self.model_shape();
        let min = if self.family == Family::TwoLayer {
            [4, 1]
        } else {
            [8, 8]
        };
        if self.n == 0 || h < min[0] || w < min[1] || self.spacing <= 0.0 || self.spacing.is_nan() {
            return Err(DataError::invalid(format!(
                "cannot generate {} {h}x{w} '{}' models at {} m: need n >= 1, size >= {}x{} and \
                 spacing > 0",
                self.n, self.family, self.spacing, min[0], min[1]
            )));
        }
        match self.interface {
            Some(f) if self.family != Family::TwoLayer => Err(DataError::invalid(format!(
                "an interface fraction ({f}) applies to the two-layer family only, not '{}'",
                self.family
            ))),
            Some(f) if f.is_nan() || f <= 0.0 || f >= 1.0 => Err(DataError::invalid(format!(
                "interface fraction {f} is outside (0, 1): give the interface depth as a \
                 fraction of the profile, e.g. 0.5"
            ))),
            _ => Ok(()),
        }
    }
}

/// The RNG of model `index` in a corpus of seed `seed`: its own ChaCha8 stream.
pub fn model_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    rng
}

/// Model `i` of `spec` drawn as `family` (the spec's own, or one of the mix's): its
/// row-major velocities and, for a two-layer profile, its parameters.
fn draw_model(
    spec: &SynthSpec,
    family: Family,
    i: usize,
    h: usize,
    w: usize,
) -> (Vec<f32>, Vec<f32>) {
    let rng = &mut model_rng(spec.seed, i);
    match family {
        Family::Flatvel => (
            openfwi::generate(rng, h, w, Interfaces::Flat, false),
            vec![],
        ),
        Family::Curvevel => (
            openfwi::generate(rng, h, w, Interfaces::Curved, false),
            vec![],
        ),
        Family::Flatfault => (openfwi::generate(rng, h, w, Interfaces::Flat, true), vec![]),
        Family::Curvefault => (
            openfwi::generate(rng, h, w, Interfaces::Curved, true),
            vec![],
        ),
        Family::Openfwi => draw_model(spec, Family::OPENFWI[i % 4], i, h, w),
        Family::Marmousi => (marmousi::generate(rng, h, w), vec![]),
        Family::TwoLayer => {
            let (profile, params) = two_layer::generate(rng, h, spec.spacing, spec.interface);
            let column: Vec<f32> = profile
                .iter()
                .flat_map(|&v| std::iter::repeat_n(v, w))
                .collect();
            (column, params.to_vec())
        }
    }
}

/// Generates models `start..start + count` of `spec` in parallel: row-major velocities and,
/// for two-layer profiles, their parameters.
fn generate_block(spec: &SynthSpec, start: usize, count: usize) -> (Vec<f32>, Vec<f32>) {
    let [h, w] = spec.model_shape();
    let drawn: Vec<(Vec<f32>, Vec<f32>)> = (start..start + count)
        .into_par_iter()
        .map(|i| draw_model(spec, spec.family, i, h, w))
        .collect();
    let mut velocity = Vec::with_capacity(count * h * w);
    let mut params = Vec::new();
    for (v, p) in drawn {
        velocity.extend(v);
        params.extend(p);
    }
    (velocity, params)
}

fn parameters_of(spec: &SynthSpec, values: Vec<f32>) -> Option<Parameters> {
    (spec.family == Family::TwoLayer).then(|| Parameters {
        names: two_layer::PARAMETER_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        values,
    })
}

/// Generates the whole corpus in memory.
pub fn generate(spec: &SynthSpec) -> Result<Corpus> {
    spec.check()?;
    let [h, w] = spec.model_shape();
    crate::memory::check_models_fit(
        "synthetic corpus",
        spec.n,
        h,
        w,
        "generate fewer or smaller models (or straight to a file, as `velprior data synth` does)",
    )?;
    let (velocity, params) = generate_block(spec, 0, spec.n);
    let corpus = Corpus::new(velocity, [spec.n, h, w], spec.meta())?;
    match parameters_of(spec, params) {
        Some(p) => corpus.with_parameters(p),
        None => Ok(corpus),
    }
}

/// Generates the corpus straight into an HDF5 file in blocks of `block` models (bounded
/// memory for any N), calling `progress(done)` after each block. The file appears only
/// when complete.
pub fn generate_to_file(
    spec: &SynthSpec,
    path: &Path,
    block: usize,
    progress: impl Fn(usize),
) -> Result<()> {
    spec.check()?;
    let [h, w] = spec.model_shape();
    let mut writer = CorpusWriter::create(path, [spec.n, h, w], &spec.meta())?;
    let mut all_params = Vec::new();
    let mut done = 0;
    while done < spec.n {
        let count = block.max(1).min(spec.n - done);
        let (velocity, params) = generate_block(spec, done, count);
        writer.write_models(&velocity)?;
        all_params.extend(params);
        done += count;
        progress(done);
    }
    if let Some(p) = parameters_of(spec, all_params) {
        writer.write_parameters(&p)?;
    }
    writer.finish()
}
