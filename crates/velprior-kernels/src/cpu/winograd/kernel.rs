//! The transformed kernel U = G g Gᵀ.

use super::COUT_BLOCK;
use crate::cpu::taps::Taps;

/// A 3×3 kernel in the transform domain, laid out for the register tiles: for each ξ of the
/// 16, blocks of [`COUT_BLOCK`] output channels, each `(cin, COUT_BLOCK)`, zero past the last
/// output channel.
pub(crate) struct WinogradKernel {
    pub(super) data: Vec<f32>,
    pub(super) cin: usize,
    pub(super) cout: usize,
}

impl WinogradKernel {
    /// U = G g Gᵀ for every (output, input) channel pair of `taps`, with
    /// G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
    pub(crate) fn new(taps: Taps<'_>) -> Self {
        let (cout, cin) = (taps.cout(), taps.cin());
        let blocks = cout.div_ceil(COUT_BLOCK);
        let per_xi = blocks * cin * COUT_BLOCK;
        let mut data = vec![0f32; 16 * per_xi];
        for co in 0..cout {
            for ci in 0..cin {
                let g = |tap| taps.get(co, ci, tap);
                // G g column by column (cols[j][i] = (G g)[i][j]), then its rows times Gᵀ.
                let cols: [[f32; 4]; 3] =
                    std::array::from_fn(|j| g_times([g(j), g(3 + j), g(6 + j)]));
                let u: [[f32; 4]; 4] =
                    std::array::from_fn(|i| g_times([cols[0][i], cols[1][i], cols[2][i]]));
                let (b, c) = (co / COUT_BLOCK, co % COUT_BLOCK);
                for (xi, &v) in u.iter().flatten().enumerate() {
                    data[xi * per_xi + (b * cin + ci) * COUT_BLOCK + c] = v;
                }
            }
        }
        WinogradKernel { data, cin, cout }
    }
}

/// G v for a 3-vector v: [v0, (v0 + v1 + v2)/2, (v0 − v1 + v2)/2, v2].
fn g_times(v: [f32; 3]) -> [f32; 4] {
    [
        v[0],
        0.5 * (v[0] + v[1] + v[2]),
        0.5 * (v[0] - v[1] + v[2]),
        v[2],
    ]
}
