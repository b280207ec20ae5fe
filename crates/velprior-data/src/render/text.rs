//! Minimal text drawing with the public-domain 8×8 bitmap font of the `font8x8` crate, for
//! colorbar labels and titles without any system font.

use image::{Rgb, RgbImage};

/// Glyph height and advance in pixels at scale 1.
pub const GLYPH: u32 = 8;

/// Draws `text` with its top-left corner at (`x`, `y`), each font pixel `scale`×`scale`.
/// Characters outside the image are clipped; the few non-ASCII characters of velprior's labels
/// draw as their ASCII spelling ([`ascii`]), any other as '?'.
pub fn draw_text(img: &mut RgbImage, x: i64, y: i64, text: &str, scale: u32, color: [u8; 3]) {
    for (k, ch) in ascii(text).chars().enumerate() {
        let code = if ch.is_ascii() {
            ch as usize
        } else {
            '?' as usize
        };
        let glyph = font8x8::legacy::BASIC_LEGACY[code];
        let x0 = x + (k as u32 * GLYPH * scale) as i64;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 1 {
                    fill(
                        img,
                        x0 + (col * scale) as i64,
                        y + (row as u32 * scale) as i64,
                        scale,
                        scale,
                        color,
                    );
                }
            }
        }
    }
}

/// Width in pixels of `text` at `scale`.
pub fn text_width(text: &str, scale: u32) -> u32 {
    ascii(text).chars().count() as u32 * GLYPH * scale
}

/// `text` with the non-ASCII characters of velprior's labels (method names, units) spelled in
/// ASCII, which the 8×8 font has.
fn ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '→' => out.push_str("->"),
            '×' => out.push('x'),
            '±' => out.push_str("+/-"),
            '–' | '—' | '−' => out.push('-'),
            'σ' => out.push_str("sigma"),
            _ => out.push(ch),
        }
    }
    out
}

/// Fills a clipped rectangle.
pub fn fill(img: &mut RgbImage, x: i64, y: i64, w: u32, h: u32, color: [u8; 3]) {
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    for yy in y.max(0)..(y + h as i64).min(ih) {
        for xx in x.max(0)..(x + w as i64).min(iw) {
            img.put_pixel(xx as u32, yy as u32, Rgb(color));
        }
    }
}
