//! Salt bodies: the convex hull of random points, filled with a high velocity.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A convex polygon in grid cells (x, z), counter-clockwise in (x, z) axes.
#[derive(Debug, Clone, PartialEq)]
pub struct SaltBody {
    hull: Vec<(f64, f64)>,
    /// Salt velocity, m/s.
    pub velocity: f32,
}

impl SaltBody {
    /// Scatters `points` random points in the box centred at (`cx`, `cz`) with half-sizes
    /// (`hx`, `hz`) cells and takes their convex hull.
    pub fn random(
        rng: &mut ChaCha8Rng,
        centre: (f64, f64),
        half: (f64, f64),
        points: usize,
        velocity: f32,
    ) -> SaltBody {
        let pts: Vec<(f64, f64)> = (0..points.max(3))
            .map(|_| {
                (
                    centre.0 + rng.random_range(-half.0..=half.0),
                    centre.1 + rng.random_range(-half.1..=half.1),
                )
            })
            .collect();
        SaltBody {
            hull: convex_hull(pts),
            velocity,
        }
    }

    /// True when the cell centre (x, z) lies inside the body.
    pub fn contains(&self, x: f64, z: f64) -> bool {
        let n = self.hull.len();
        if n < 3 {
            return false;
        }
        (0..n).all(|i| {
            let (ax, az) = self.hull[i];
            let (bx, bz) = self.hull[(i + 1) % n];
            (bx - ax) * (z - az) - (bz - az) * (x - ax) >= 0.0
        })
    }
}

/// Andrew's monotone-chain convex hull, counter-clockwise, without collinear points.
fn convex_hull(mut pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    pts.sort_by(|a, b| a.partial_cmp(b).expect("finite points"));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: (f64, f64), a: (f64, f64), b: (f64, f64)| {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    };
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(2 * pts.len());
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &(f64, f64)>> = if pass == 0 {
            Box::new(pts.iter())
        } else {
            Box::new(pts.iter().rev())
        };
        for &p in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hull_of_square_with_interior_point() {
        let h = convex_hull(vec![
            (0.0, 0.0),
            (2.0, 0.0),
            (2.0, 2.0),
            (0.0, 2.0),
            (1.0, 1.0),
        ]);
        assert_eq!(h.len(), 4);
        let body = SaltBody {
            hull: h,
            velocity: 4500.0,
        };
        assert!(body.contains(1.0, 1.5));
        assert!(!body.contains(2.5, 1.0));
    }
}
