//! Absorbing boundaries: the OpenFWI quadratic damping border and C-PML.

pub mod cpml;
pub mod cpml_adjoint;
pub mod cpml_forward;
pub mod cpml_fused;
pub mod damping;

/// Which absorbing border surrounds the model. The velocity is replicate-padded into it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Boundary {
    /// Quadratic damping border as in the OpenFWI generator: damping
    /// d(i) = κ (i·dx/a)², a = (width−1)·dx, κ = 3·v_ref·ln(10⁷)/(2a), i cells into the border;
    /// the update subtracts d·dt·(uⁿ − uⁿ⁻¹). Corners are damped by the lateral profile only.
    Damping {
        /// Border width in cells (OpenFWI: 120).
        width: usize,
        /// Velocity κ is built from (m/s); `None` = the minimum of the model (OpenFWI).
        /// The gradient treats the damping profile as fixed.
        #[serde(default)]
        reference_velocity: Option<f32>,
    },
    /// Convolutional PML for the second-order wave equation (Pasalic & McGarry 2010), profile
    /// σ(d) = σmax·d², σmax = −3·vmax·ln(R)/(2·width·dx), α(d) = π·f·(1 − d), d ∈ (0, 1].
    Cpml {
        /// Border width in cells (20 is a good default).
        width: usize,
        /// Target reflection coefficient R (default 1e-3).
        #[serde(default = "default_reflection")]
        reflection: f32,
        /// Velocity σmax is built from (m/s); `None` = the maximum of the model. Set it for
        /// inversions: the gradient treats the profile as fixed.
        #[serde(default)]
        max_velocity: Option<f32>,
    },
}

fn default_reflection() -> f32 {
    1e-3
}

impl Boundary {
    /// Border width in cells.
    pub fn width(&self) -> usize {
        match self {
            Boundary::Damping { width, .. } | Boundary::Cpml { width, .. } => *width,
        }
    }
}

/// Cells of padding on each side of the model (top is 0 with a free surface).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Padding {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}
