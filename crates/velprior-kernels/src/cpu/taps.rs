//! The weights of a 3×3 conv as the kernels that consume them read them: per (output channel,
//! input channel, tap), either the conv's own kernel or the kernel of its input gradient.

/// Weights `w` (cout, cin, 3, 3) seen as a 3×3 kernel from [`Taps::cin`] to [`Taps::cout`]
/// channels, taps numbered 3·i + j.
#[derive(Clone, Copy)]
pub(crate) struct Taps<'a> {
    w: &'a [f32],
    /// Output and input channels of `w` itself.
    w_cout: usize,
    w_cin: usize,
    transposed_flipped: bool,
}

impl<'a> Taps<'a> {
    /// The conv's own kernel.
    pub(crate) fn of(w: &'a [f32], cout: usize, cin: usize) -> Self {
        Taps {
            w,
            w_cout: cout,
            w_cin: cin,
            transposed_flipped: false,
        }
    }

    /// The kernel of the input gradient of a conv with `w` (cout, cin, 3, 3):
    /// w'[ci][co][i][j] = w[co][ci][2 − i][2 − j], a conv from cout to cin channels.
    pub(crate) fn transposed_flipped(w: &'a [f32], cout: usize, cin: usize) -> Self {
        Taps {
            w,
            w_cout: cout,
            w_cin: cin,
            transposed_flipped: true,
        }
    }

    /// Output channels of the kernel.
    pub(crate) fn cout(&self) -> usize {
        if self.transposed_flipped {
            self.w_cin
        } else {
            self.w_cout
        }
    }

    /// Input channels of the kernel.
    pub(crate) fn cin(&self) -> usize {
        if self.transposed_flipped {
            self.w_cout
        } else {
            self.w_cin
        }
    }

    /// The kernel's tap `tap` from input channel `ci` to output channel `co`.
    pub(crate) fn get(&self, co: usize, ci: usize, tap: usize) -> f32 {
        if self.transposed_flipped {
            self.w[(ci * self.w_cin + co) * 9 + 8 - tap]
        } else {
            self.w[(co * self.w_cin + ci) * 9 + tap]
        }
    }
}
