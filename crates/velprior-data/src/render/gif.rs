//! Animated GIFs from a sequence of rendered frames.

use std::path::Path;

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbImage};

use crate::atomic::AtomicPath;
use crate::error::{DataError, Result};

/// Writes `frames` (all the same size) as a looping GIF with `delay_ms` per frame,
/// atomically.
pub fn save_gif(path: &Path, frames: &[RgbImage], delay_ms: u32) -> Result<()> {
    let first = frames
        .first()
        .ok_or_else(|| DataError::invalid("a GIF needs at least one frame"))?;
    if frames.iter().any(|f| f.dimensions() != first.dimensions()) {
        return Err(DataError::invalid("GIF frames must all have the same size"));
    }
    let out = AtomicPath::new(path)?;
    {
        let file = std::fs::File::create(out.temp()).map_err(|e| DataError::io(path, e))?;
        let mut encoder = GifEncoder::new_with_speed(std::io::BufWriter::new(file), 10);
        let err =
            |e: image::ImageError| DataError::bad_file(path, format!("GIF encoding failed: {e}"));
        encoder.set_repeat(Repeat::Infinite).map_err(err)?;
        for f in frames {
            let rgba = image::DynamicImage::ImageRgb8(f.clone()).into_rgba8();
            let frame = Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(delay_ms, 1));
            encoder.encode_frame(frame).map_err(err)?;
        }
    }
    out.commit()
}
