//! Planar faults as coordinate maps: a point on the hanging-wall side takes the value found
//! `throw` cells back along the fault's dip direction.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A planar fault through `(x0, z0)` (grid cells) in the (x, z) plane, z pointing down.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Fault {
    /// Lateral position of a point on the fault, cells.
    pub x0: f64,
    /// Depth of that point, cells.
    pub z0: f64,
    /// Dip from the horizontal, degrees (90 = vertical).
    pub dip_deg: f64,
    /// +1 when the fault dips towards +x, −1 towards −x.
    pub dip_direction: f64,
    /// Displacement along the dip, cells; positive = normal (hanging wall down), negative =
    /// reverse.
    pub throw: f64,
}

/// Ranges to draw faults from (grid cells and degrees).
#[derive(Debug, Clone, Copy)]
pub struct FaultRanges {
    /// Lateral range of the fault's anchor point.
    pub x0: (f64, f64),
    /// Depth range of the anchor point.
    pub z0: (f64, f64),
    /// Dip range, degrees from horizontal.
    pub dip_deg: (f64, f64),
    /// Throw magnitude range, cells.
    pub throw: (f64, f64),
}

impl Fault {
    /// Draws a fault: uniform anchor, dip and throw magnitude; random dip direction and
    /// normal/reverse sense.
    pub fn random(rng: &mut ChaCha8Rng, r: &FaultRanges) -> Fault {
        let dip_direction = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let sense = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        Fault {
            x0: rng.random_range(r.x0.0..=r.x0.1),
            z0: rng.random_range(r.z0.0..=r.z0.1),
            dip_deg: rng.random_range(r.dip_deg.0..=r.dip_deg.1),
            dip_direction,
            throw: sense * rng.random_range(r.throw.0..=r.throw.1),
        }
    }

    /// Where the material now at `(x, z)` came from before faulting.
    ///
    /// The dip direction is d = (±cos θ, sin θ); points with (p − p0) × d > 0 lie on the
    /// hanging-wall side (above the fault plane) and moved by `throw`·d, so they map back to
    /// p − throw·d. The footwall is unchanged.
    pub fn source_of(&self, x: f64, z: f64) -> (f64, f64) {
        let theta = self.dip_deg.to_radians();
        let (dx, dz) = (self.dip_direction * theta.cos(), theta.sin());
        let cross = (x - self.x0) * dz - (z - self.z0) * dx;
        let hanging = cross * self.dip_direction > 0.0;
        if hanging {
            (x - self.throw * dx, z - self.throw * dz)
        } else {
            (x, z)
        }
    }
}

/// Maps a point through a sequence of faults applied in order (the last fault cuts all the
/// earlier ones), returning where the material came from in the unfaulted medium.
pub fn unfault(faults: &[Fault], x: f64, z: f64) -> (f64, f64) {
    faults
        .iter()
        .rev()
        .fold((x, z), |(x, z), f| f.source_of(x, z))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footwall_is_fixed_and_hanging_wall_moves_along_dip() {
        // Vertical-ish fault at x = 10 dipping towards +x: the hanging wall is at larger x.
        let f = Fault {
            x0: 10.0,
            z0: 10.0,
            dip_deg: 90.0,
            dip_direction: 1.0,
            throw: 3.0,
        };
        assert_eq!(f.source_of(5.0, 10.0), (5.0, 10.0));
        let (x, z) = f.source_of(15.0, 10.0);
        assert!((x - 15.0).abs() < 1e-9 && (z - 7.0).abs() < 1e-9);
    }
}
