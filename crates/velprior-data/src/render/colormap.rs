//! Perceptual colormaps (from the `colorous` crate) mapping a value range to RGB.

use std::str::FromStr;

use crate::error::DataError;

/// A named colormap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colormap {
    /// Viridis: perceptually uniform, the default for velocities.
    #[default]
    Viridis,
    /// Turbo: a perceptually improved rainbow, for fine contrast.
    Turbo,
    /// Magma.
    Magma,
    /// Cividis: colour-vision-deficiency friendly.
    Cividis,
    /// Greys, light to dark.
    Greys,
    /// Red–blue diverging (reversed so low = blue), for errors and z-scores.
    Rdbu,
}

impl Colormap {
    /// Every colormap name.
    pub const NAMES: [&'static str; 6] = ["viridis", "turbo", "magma", "cividis", "greys", "rdbu"];

    /// The colour of `t` in [0, 1] (clamped).
    pub fn rgb(self, t: f64) -> [u8; 3] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let c = match self {
            Colormap::Viridis => colorous::VIRIDIS.eval_continuous(t),
            Colormap::Turbo => colorous::TURBO.eval_continuous(t),
            Colormap::Magma => colorous::MAGMA.eval_continuous(t),
            Colormap::Cividis => colorous::CIVIDIS.eval_continuous(t),
            Colormap::Greys => colorous::GREYS.eval_continuous(t),
            Colormap::Rdbu => colorous::RED_BLUE.eval_continuous(1.0 - t),
        };
        [c.r, c.g, c.b]
    }
}

impl FromStr for Colormap {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, DataError> {
        let all = [
            Colormap::Viridis,
            Colormap::Turbo,
            Colormap::Magma,
            Colormap::Cividis,
            Colormap::Greys,
            Colormap::Rdbu,
        ];
        Colormap::NAMES
            .iter()
            .position(|&n| n == s.to_ascii_lowercase())
            .map(|k| all[k])
            .ok_or_else(|| {
                DataError::invalid(format!(
                    "unknown colormap '{s}'; choose one of {}",
                    Colormap::NAMES.join(", ")
                ))
            })
    }
}
