//! The in-memory corpus: a stack of 2-D velocity models with their grid spacing.

use crate::error::{DataError, Result};

/// Grid spacing and provenance of a corpus (the HDF5 attributes `dx`, `dz`, `source`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CorpusMeta {
    /// Lateral spacing in m.
    pub dx: f64,
    /// Depth spacing in m.
    pub dz: f64,
    /// Where the models come from (generator and seed, or the imported file).
    pub source: String,
}

impl Default for CorpusMeta {
    fn default() -> Self {
        CorpusMeta {
            dx: 10.0,
            dz: 10.0,
            source: String::from("unknown"),
        }
    }
}

/// Per-model scalar parameters stored beside the velocities (e.g. `v1, v2, depth` of the
/// two-layer teaching corpus): `values` is row-major (N, names.len()).
#[derive(Debug, Clone, PartialEq)]
pub struct Parameters {
    /// Column names.
    pub names: Vec<String>,
    /// Values, row-major (N, P).
    pub values: Vec<f32>,
}

/// N velocity models in m/s, shape (N, H, W), H = depth samples (z), W = lateral (x),
/// row-major, z first.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    velocity: Vec<f32>,
    n: usize,
    h: usize,
    w: usize,
    /// Spacing and provenance.
    pub meta: CorpusMeta,
    /// Optional per-model parameters.
    pub parameters: Option<Parameters>,
}

impl Corpus {
    /// Wraps `velocity` (length N·H·W) as a corpus of shape (N, H, W).
    pub fn new(velocity: Vec<f32>, shape: [usize; 3], meta: CorpusMeta) -> Result<Self> {
        let [n, h, w] = shape;
        if n * h * w != velocity.len() {
            return Err(DataError::invalid(format!(
                "corpus shape ({n}, {h}, {w}) needs {} values, got {}",
                n * h * w,
                velocity.len()
            )));
        }
        if h == 0 || w == 0 {
            return Err(DataError::invalid(format!(
                "corpus models have an empty shape ({h}, {w})"
            )));
        }
        Ok(Corpus {
            velocity,
            n,
            h,
            w,
            meta,
            parameters: None,
        })
    }

    /// Attaches per-model parameters; their row count must equal N.
    pub fn with_parameters(mut self, parameters: Parameters) -> Result<Self> {
        let p = parameters.names.len();
        if p == 0 || parameters.values.len() != self.n * p {
            return Err(DataError::invalid(format!(
                "parameters: expected {} rows of {p} values, got {} values",
                self.n,
                parameters.values.len()
            )));
        }
        self.parameters = Some(parameters);
        Ok(self)
    }

    /// Number of models N.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the corpus holds no model.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Shape (N, H, W).
    pub fn shape(&self) -> [usize; 3] {
        [self.n, self.h, self.w]
    }

    /// Model size (H, W): depth samples, lateral samples.
    pub fn model_shape(&self) -> [usize; 2] {
        [self.h, self.w]
    }

    /// All velocities, row-major (N, H, W), m/s.
    pub fn velocity(&self) -> &[f32] {
        &self.velocity
    }

    /// Consumes the corpus, returning its velocities.
    pub fn into_velocity(self) -> Vec<f32> {
        self.velocity
    }

    /// Model `i` as a row-major (H, W) slice.
    pub fn model(&self, i: usize) -> &[f32] {
        let size = self.h * self.w;
        &self.velocity[i * size..(i + 1) * size]
    }

    /// A new corpus of the models at `indices` (in that order), with their parameters.
    pub fn select(&self, indices: &[usize]) -> Result<Corpus> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.n) {
            return Err(DataError::invalid(format!(
                "model index {bad} out of range: the corpus holds {} models",
                self.n
            )));
        }
        let size = self.h * self.w;
        let mut velocity = Vec::with_capacity(indices.len() * size);
        for &i in indices {
            velocity.extend_from_slice(self.model(i));
        }
        let mut out = Corpus::new(velocity, [indices.len(), self.h, self.w], self.meta.clone())?;
        if let Some(params) = &self.parameters {
            let p = params.names.len();
            let values = indices
                .iter()
                .flat_map(|&i| params.values[i * p..(i + 1) * p].to_vec());
            out.parameters = Some(Parameters {
                names: params.names.clone(),
                values: values.collect(),
            });
        }
        Ok(out)
    }

    /// Checks that every velocity is finite and positive; `context` names the data in the error.
    pub fn validate(&self, context: &str) -> Result<()> {
        validate_velocities(&self.velocity, [self.n, self.h, self.w], context)
    }
}

/// Checks that `velocity` (row-major (N, H, W)) is non-empty, finite and positive.
///
/// The error names the first bad model and pixel so the user can find it.
pub fn validate_velocities(velocity: &[f32], shape: [usize; 3], context: &str) -> Result<()> {
    let [n, h, w] = shape;
    if n == 0 {
        return Err(DataError::BadValues {
            context: context.to_string(),
            message: "holds no model (N = 0); give a non-empty corpus".into(),
        });
    }
    let bad = velocity.iter().position(|v| !v.is_finite() || *v <= 0.0);
    if let Some(k) = bad {
        let (i, z, x) = (k / (h * w), (k / w) % h, k % w);
        let v = velocity[k];
        let what = if v.is_nan() {
            "NaN"
        } else if v.is_infinite() {
            "infinite"
        } else {
            "non-positive"
        };
        return Err(DataError::BadValues {
            context: context.to_string(),
            message: format!(
                "{what} velocity {v} at model {i}, z {z}, x {x}; velocities must be finite and \
                 > 0 m/s (clean the data, or clip it with `velprior data import --clip`)"
            ),
        });
    }
    Ok(())
}
