//! Data misfits and their derivative with respect to the modelled data (the adjoint source).

/// Data misfit f(d) between modelled data d and observed data d_obs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misfit {
    /// f = ½ Σ (d − d_obs)²; ∂f/∂d = d − d_obs.
    #[default]
    L2,
    /// f = Σ |d − d_obs|; ∂f/∂d = sign(d − d_obs) (0 where equal).
    L1,
}

impl Misfit {
    /// Misfit value (f64 accumulation) and ∂f/∂d.
    pub fn value_and_residual(&self, d: &[f32], d_obs: &[f32]) -> (f64, Vec<f32>) {
        let mut f = 0.0f64;
        let r = d
            .iter()
            .zip(d_obs)
            .map(|(a, b)| {
                let e = a - b;
                match self {
                    Misfit::L2 => {
                        f += 0.5 * f64::from(e) * f64::from(e);
                        e
                    }
                    Misfit::L1 => {
                        f += f64::from(e.abs());
                        if e > 0.0 {
                            1.0
                        } else if e < 0.0 {
                            -1.0
                        } else {
                            0.0
                        }
                    }
                }
            })
            .collect();
        (f, r)
    }
}
