//! Model grid shape and acquisition geometry (sources, receivers, wavelet).

use crate::error::{PhysicsError, Result};

/// Shape of a 2-D velocity model stored row-major with depth first: `v[iz * nx + ix]`, m/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelShape {
    /// Number of depth samples (rows).
    pub nz: usize,
    /// Number of lateral samples (columns).
    pub nx: usize,
}

impl ModelShape {
    /// Shape (nz, nx).
    pub fn new(nz: usize, nx: usize) -> Self {
        Self { nz, nx }
    }

    /// Number of cells nz·nx.
    pub fn len(&self) -> usize {
        self.nz * self.nx
    }

    /// True when the grid has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Check that `v` has nz·nx finite, positive values (m/s).
    pub fn check_velocity(&self, v: &[f32]) -> Result<()> {
        if self.is_empty() {
            return Err(crate::error::param("model shape", "nz and nx must be > 0"));
        }
        if v.len() != self.len() {
            return Err(PhysicsError::Shape {
                what: "velocity model",
                expected: self.len(),
                got: v.len(),
            });
        }
        if let Some(i) = v.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
            return Err(PhysicsError::BadVelocity {
                iz: i / self.nx,
                ix: i % self.nx,
                value: v[i],
            });
        }
        Ok(())
    }
}

/// One shot: a point source and its receivers, as grid indices (iz, ix) into the model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shot {
    /// Source cell (iz, ix).
    pub source: (usize, usize),
    /// Receiver cells (iz, ix); the recorded trace order is this order.
    pub receivers: Vec<(usize, usize)>,
}

/// Sources, receivers and the common source wavelet (one sample per time step).
#[derive(Debug, Clone, PartialEq)]
pub struct Acquisition {
    /// Shots, modelled independently.
    pub shots: Vec<Shot>,
    /// Source time function, `nt` samples at the modelling dt (dimensionless).
    pub wavelet: Vec<f32>,
}

impl Acquisition {
    /// Surface acquisition as OpenFWI: `n_sources` sources spread evenly over columns 0..nx−1
    /// (positions `round_half_even(i·(nx−1)/(n_sources−1))`, i.e. 0, 17, 34, 52, 69 for nx = 70),
    /// all at depth index `depth`, and a receiver in every column at the same depth.
    pub fn surface(nx: usize, n_sources: usize, depth: usize, wavelet: Vec<f32>) -> Self {
        let shots = (0..n_sources)
            .map(|i| {
                let ix = if n_sources == 1 {
                    (nx - 1) / 2
                } else {
                    (i as f64 * (nx - 1) as f64 / (n_sources - 1) as f64).round_ties_even() as usize
                };
                Shot {
                    source: (depth, ix),
                    receivers: (0..nx).map(|j| (depth, j)).collect(),
                }
            })
            .collect();
        Self { shots, wavelet }
    }

    /// Number of time steps (length of the wavelet).
    pub fn nt(&self) -> usize {
        self.wavelet.len()
    }

    /// Total number of recorded samples Σ_shots nt·n_receivers.
    pub fn data_len(&self) -> usize {
        self.shots.iter().map(|s| s.receivers.len()).sum::<usize>() * self.nt()
    }

    /// Offsets of each shot's gather in the flat data vector (layout per shot: (nt, n_rec)).
    pub fn data_offsets(&self) -> Vec<usize> {
        let mut off = 0;
        self.shots
            .iter()
            .map(|s| {
                let o = off;
                off += s.receivers.len() * self.nt();
                o
            })
            .collect()
    }

    /// Check that every source and receiver lies inside `shape` and the wavelet is non-empty.
    pub fn check(&self, shape: ModelShape) -> Result<()> {
        if self.wavelet.is_empty() {
            return Err(crate::error::param(
                "wavelet",
                "needs at least one time sample (nt > 0)",
            ));
        }
        if self.shots.is_empty() {
            return Err(crate::error::param("shots", "acquisition has no shots"));
        }
        let inside = |what, (iz, ix): (usize, usize)| {
            if iz >= shape.nz || ix >= shape.nx {
                Err(PhysicsError::OutsideGrid {
                    what,
                    iz,
                    ix,
                    nz: shape.nz,
                    nx: shape.nx,
                })
            } else {
                Ok(())
            }
        };
        for s in &self.shots {
            inside("source", s.source)?;
            for &r in &s.receivers {
                inside("receiver", r)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openfwi_source_columns() {
        let a = Acquisition::surface(70, 5, 1, vec![0.0; 4]);
        let xs: Vec<usize> = a.shots.iter().map(|s| s.source.1).collect();
        assert_eq!(xs, vec![0, 17, 34, 52, 69]);
        assert_eq!(a.data_len(), 5 * 70 * 4);
        assert!(a.check(ModelShape::new(2, 70)).is_ok());
        assert!(matches!(
            a.check(ModelShape::new(1, 70)),
            Err(PhysicsError::OutsideGrid { .. })
        ));
    }

    #[test]
    fn bad_velocity_is_an_error() {
        let s = ModelShape::new(2, 2);
        assert!(s.check_velocity(&[1.0, 2.0, f32::NAN, 1.0]).is_err());
        assert!(s.check_velocity(&[1.0, -2.0, 1.0, 1.0]).is_err());
        assert!(s.check_velocity(&[1.0, 2.0, 1.0]).is_err());
        assert!(s.check_velocity(&[1.0, 2.0, 1.0, 3.0]).is_ok());
    }
}
