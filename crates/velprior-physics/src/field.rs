//! Storage-grid buffers placed at chosen offsets modulo 4 KiB.
//!
//! Large allocations all start at the same offset within a page, so a loop that stores into one
//! full-grid array while loading from another at the same index suffers "4K aliasing" (the CPU
//! falsely matches loads against pending stores with equal low 12 address bits), which cost
//! the leapfrog kernel about half its speed. Each [`Field`] starts `skew` floats into its
//! allocation so that arrays used together differ by ≥ 1 KiB modulo 4 KiB.

use std::ops::{Deref, DerefMut};

/// A zero-initialised `f32` buffer of `len` floats starting `skew` floats into its allocation.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    buf: Vec<f32>,
    skew: usize,
}

/// Skews (floats) of the arrays the row kernel uses together: uⁿ⁻¹, uⁿ, v²dt².
pub(crate) const SKEW_PREV: usize = 0;
pub(crate) const SKEW_CUR: usize = 512;
pub(crate) const SKEW_COEF: usize = 256;

impl Field {
    /// `len` zeros starting `skew` floats into the allocation.
    pub fn zeros(len: usize, skew: usize) -> Self {
        Self {
            buf: vec![0.0; len + skew],
            skew,
        }
    }
}

impl Deref for Field {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[self.skew..]
    }
}

impl DerefMut for Field {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.skew..]
    }
}
