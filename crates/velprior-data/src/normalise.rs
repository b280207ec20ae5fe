//! The model-space normalisation x = 2 (v − vmin)/(vmax − vmin) − 1 and its inverse.
//!
//! vmin/vmax travel with every checkpoint; they are never constants in code.

use crate::error::{DataError, Result};

/// Affine map between velocities (m/s) and the network's [−1, 1] range.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalisation {
    /// Velocity mapped to −1, m/s.
    pub vmin: f32,
    /// Velocity mapped to +1, m/s.
    pub vmax: f32,
}

impl Normalisation {
    /// A normalisation with vmin < vmax.
    pub fn new(vmin: f32, vmax: f32) -> Result<Self> {
        if !(vmin.is_finite() && vmax.is_finite() && vmin < vmax) {
            return Err(DataError::invalid(format!(
                "normalisation range [{vmin}, {vmax}] m/s needs finite vmin < vmax"
            )));
        }
        Ok(Normalisation { vmin, vmax })
    }

    /// v (m/s) → x in [−1, 1].
    pub fn to_unit(&self, v: f32) -> f32 {
        2.0 * (v - self.vmin) / (self.vmax - self.vmin) - 1.0
    }

    /// x → v (m/s).
    pub fn to_velocity(&self, x: f32) -> f32 {
        (x + 1.0) * 0.5 * (self.vmax - self.vmin) + self.vmin
    }

    /// Normalises a slice in place.
    pub fn normalise(&self, values: &mut [f32]) {
        values.iter_mut().for_each(|v| *v = self.to_unit(*v));
    }

    /// Maps a normalised slice back to velocities in place.
    pub fn denormalise(&self, values: &mut [f32]) {
        values.iter_mut().for_each(|x| *x = self.to_velocity(*x));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_endpoints() {
        let n = Normalisation::new(1500.0, 4500.0).unwrap();
        assert_eq!(n.to_unit(1500.0), -1.0);
        assert_eq!(n.to_unit(4500.0), 1.0);
        assert_eq!(n.to_unit(3000.0), 0.0);
        assert!((n.to_velocity(n.to_unit(2345.0)) - 2345.0).abs() < 1e-3);
        assert!(Normalisation::new(4500.0, 1500.0).is_err());
    }
}
