//! Model pictures: tiles of velocity models on a shared colour scale, with a labelled
//! colorbar, optional title and per-tile captions.

use std::path::Path;

use image::{Rgb, RgbImage};

use super::colormap::Colormap;
use super::text::{GLYPH, draw_text, fill, text_width};
use crate::atomic::AtomicPath;
use crate::error::{DataError, Result};

const MARGIN: u32 = 8;
const GAP: u32 = 4;
const BAR_WIDTH: u32 = 14;
const TICKS: usize = 5;
const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];

/// How to draw models.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Colormap.
    pub colormap: Colormap,
    /// Colour range (low, high) in data units; the data's own min/max when `None`.
    pub range: Option<(f32, f32)>,
    /// Screen pixels per model sample; chosen so a tile is about 256 px when `None`.
    pub pixels_per_sample: Option<u32>,
    /// Title drawn above the picture.
    pub title: Option<String>,
    /// Units written above the colorbar.
    pub units: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            colormap: Colormap::default(),
            range: None,
            pixels_per_sample: None,
            title: None,
            units: "m/s".to_string(),
        }
    }
}

/// Renders one (h, w) row-major model (z down, x right).
pub fn render_model(model: &[f32], shape: [usize; 2], options: &RenderOptions) -> Result<RgbImage> {
    let options = RenderOptions {
        pixels_per_sample: options
            .pixels_per_sample
            .or(Some((768 / shape[0].max(shape[1]) as u32).max(1))),
        ..options.clone()
    };
    render_grid(model, [1, shape[0], shape[1]], 1, &options, None)
}

/// Renders N models of (h, w) as a grid of `cols` columns on one colour scale with one
/// colorbar; `captions` (one per model) are written under the tiles.
pub fn render_grid(
    models: &[f32],
    [n, h, w]: [usize; 3],
    cols: usize,
    options: &RenderOptions,
    captions: Option<&[String]>,
) -> Result<RgbImage> {
    if n == 0 || h == 0 || w == 0 || models.len() != n * h * w {
        return Err(DataError::invalid(format!(
            "cannot draw {} values as {n} models of {h}x{w}",
            models.len()
        )));
    }
    if captions.is_some_and(|c| c.len() != n) {
        return Err(DataError::invalid("need one caption per model"));
    }
    let (lo, hi) = options.range.unwrap_or_else(|| finite_range(models));
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let cols = cols.clamp(1, n);
    let rows = n.div_ceil(cols);
    let scale = options
        .pixels_per_sample
        .unwrap_or_else(|| (256 / h.max(w) as u32).max(1));
    let (tile_w, tile_h) = ((w as u32 * scale).max(24), h as u32 * scale);
    let caption_h = if captions.is_some() { GLYPH + GAP } else { 0 };
    let title_h = if options.title.is_some() {
        2 * GLYPH + MARGIN
    } else {
        0
    };
    let grid_w = cols as u32 * tile_w + (cols as u32 - 1) * GAP;
    let grid_h = rows as u32 * (tile_h + caption_h) + (rows as u32 - 1) * GAP;
    let labels: Vec<String> = (0..TICKS)
        .map(|k| tick_label(lo + (hi - lo) * k as f32 / (TICKS - 1) as f32, hi - lo))
        .collect();
    let label_w = labels
        .iter()
        .chain(std::iter::once(&options.units))
        .map(|l| text_width(l, 1))
        .max()
        .unwrap_or(0);
    let title_w = options.title.as_deref().map_or(0, |t| text_width(t, 2));
    let width =
        (MARGIN + grid_w + 3 * GAP + BAR_WIDTH + GAP + label_w + MARGIN).max(2 * MARGIN + title_w);
    let height = MARGIN + title_h + GLYPH + 2 * GAP + grid_h + MARGIN;
    let mut img = RgbImage::from_pixel(width, height, Rgb(WHITE));
    if let Some(title) = &options.title {
        draw_text(&mut img, MARGIN as i64, MARGIN as i64, title, 2, BLACK);
    }
    let top = MARGIN + title_h + GLYPH + 2 * GAP;
    for i in 0..n {
        let (r, c) = ((i / cols) as u32, (i % cols) as u32);
        let (x0, y0) = (
            MARGIN + c * (tile_w + GAP),
            top + r * (tile_h + caption_h + GAP),
        );
        draw_tile(
            &mut img,
            &models[i * h * w..(i + 1) * h * w],
            [h, w],
            (x0, y0),
            (tile_w, tile_h),
            (lo, hi),
            options.colormap,
        );
        if let Some(caps) = captions {
            draw_text(
                &mut img,
                x0 as i64,
                (y0 + tile_h + 2) as i64,
                &caps[i],
                1,
                BLACK,
            );
        }
    }
    let bar_x = MARGIN + grid_w + 3 * GAP;
    draw_colorbar(&mut img, (bar_x, top), grid_h, options, &labels);
    Ok(img)
}

fn draw_tile(
    img: &mut RgbImage,
    model: &[f32],
    [h, w]: [usize; 2],
    (x0, y0): (u32, u32),
    (tw, th): (u32, u32),
    (lo, hi): (f32, f32),
    cmap: Colormap,
) {
    for py in 0..th {
        let z = (py as usize * h / th as usize).min(h - 1);
        for px in 0..tw {
            let x = (px as usize * w / tw as usize).min(w - 1);
            let t = ((model[z * w + x] - lo) / (hi - lo)) as f64;
            let color = if model[z * w + x].is_finite() {
                cmap.rgb(t)
            } else {
                [255, 0, 255]
            };
            img.put_pixel(x0 + px, y0 + py, Rgb(color));
        }
    }
}

fn draw_colorbar(
    img: &mut RgbImage,
    (x, y): (u32, u32),
    height: u32,
    options: &RenderOptions,
    labels: &[String],
) {
    draw_text(
        img,
        x as i64,
        y as i64 - (GLYPH + 2 * GAP) as i64,
        &options.units,
        1,
        BLACK,
    );
    for py in 0..height {
        let t = 1.0 - py as f64 / (height - 1).max(1) as f64;
        fill(
            img,
            x as i64,
            (y + py) as i64,
            BAR_WIDTH,
            1,
            options.colormap.rgb(t),
        );
    }
    for (k, label) in labels.iter().enumerate() {
        let frac = k as f64 / (labels.len() - 1) as f64;
        let ty = y as f64 + (1.0 - frac) * (height - 1) as f64;
        fill(img, (x + BAR_WIDTH - 4) as i64, ty as i64, 4, 1, BLACK);
        let ly =
            (ty - GLYPH as f64 / 2.0).clamp(y as f64, (y + height) as f64 - GLYPH as f64) as i64;
        draw_text(img, (x + BAR_WIDTH + GAP) as i64, ly, label, 1, BLACK);
    }
}

fn tick_label(v: f32, span: f32) -> String {
    if span >= 50.0 {
        format!("{v:.0}")
    } else if span >= 0.5 {
        format!("{v:.2}")
    } else {
        format!("{v:.3e}")
    }
}

fn finite_range(values: &[f32]) -> (f32, f32) {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        })
}

/// Saves an image as PNG atomically.
pub fn save_png(path: &Path, img: &RgbImage) -> Result<()> {
    let out = AtomicPath::new(path)?;
    img.save_with_format(out.temp(), image::ImageFormat::Png)
        .map_err(|e| DataError::bad_file(path, format!("PNG encoding failed: {e}")))?;
    out.commit()
}
