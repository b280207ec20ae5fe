//! Error type of the physics crate: every bad input is an `Err` with a one-line message.

use thiserror::Error;

/// Errors returned by modelling, gradients, operators and the FWI driver.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PhysicsError {
    /// The time step violates the CFL condition of the chosen stencil.
    #[error(
        "unstable time step: dt = {dt} s with vmax = {vmax} m/s and dx = {dx} m exceeds the largest stable dt = {dt_max:.6e} s for this stencil; reduce dt or dx"
    )]
    Unstable {
        dt: f32,
        vmax: f32,
        dx: f32,
        dt_max: f32,
    },
    /// The slowest velocity has fewer than 3 grid points per minimum wavelength at twice the
    /// peak frequency: the wavefield would be dispersed beyond use.
    #[error(
        "invalid parameter dx: only {points:.1} grid points per minimum wavelength (vmin {vmin} m/s, 2×{freq} Hz, dx {dx} m): the wavefield would be dispersed beyond use; use dx <= {dx_max:.2} m (5 points) or a lower freq"
    )]
    Dispersive {
        points: f32,
        vmin: f32,
        freq: f32,
        dx: f32,
        dx_max: f32,
    },
    /// A velocity is NaN, infinite, zero or negative.
    #[error(
        "invalid velocity {value} m/s at (iz = {iz}, ix = {ix}): velocities must be finite and > 0"
    )]
    BadVelocity { iz: usize, ix: usize, value: f32 },
    /// An array does not have the expected number of elements.
    #[error("shape mismatch for {what}: expected {expected} values, got {got}")]
    Shape {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A source or receiver lies outside the model grid.
    #[error("{what} at (iz = {iz}, ix = {ix}) is outside the {nz}x{nx} model grid")]
    OutsideGrid {
        what: &'static str,
        iz: usize,
        ix: usize,
        nz: usize,
        nx: usize,
    },
    /// A parameter is out of range (non-positive dx, nt = 0, unsupported order, ...).
    #[error("invalid parameter {name}: {reason}")]
    Parameter { name: &'static str, reason: String },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, PhysicsError>;

/// Shorthand for a [`PhysicsError::Parameter`].
pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> PhysicsError {
    PhysicsError::Parameter {
        name,
        reason: reason.into(),
    }
}
