//! Scatter plots (latent codes, (v1, v2) pairs) as RGB images: points, grid and an optional
//! box are drawn with `plotters` into a pixel buffer; titles, tick labels and the legend use
//! velprior's built-in 8×8 bitmap font, so nothing depends on system fonts.

use image::RgbImage;
use plotters::prelude::*;
use velprior_data::render::{draw_text, fill, text_width};

use velprior_diffusion::{DiffusionError, Result};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 560;
const LEFT: u32 = 88;
const RIGHT: u32 = 24;
const TOP: u32 = 40;
const BOTTOM: u32 = 56;
const INK: [u8; 3] = [0, 0, 0];
const GRID: [u8; 3] = [225, 225, 225];
const BOX: [u8; 3] = [120, 120, 120];

/// One set of points drawn in one colour.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// Legend text (ASCII).
    pub label: String,
    /// (x, y) points; non-finite points are skipped.
    pub points: &'a [[f64; 2]],
    /// RGB colour.
    pub color: [u8; 3],
}

/// What to plot.
#[derive(Debug, Clone)]
pub struct ScatterSpec<'a> {
    /// Title above the plot (ASCII).
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Point sets, drawn in order (later on top).
    pub series: Vec<Series<'a>>,
    /// An outlined box [x0, x1, y0, y1] and its legend text (e.g. the corpus range).
    pub frame: Option<([f64; 4], String)>,
}

/// Draws `spec` as a 640×560 image; axes span all points (and the box) plus 5 %.
pub fn scatter_plot(spec: &ScatterSpec) -> Result<RgbImage> {
    let [x0, x1, y0, y1] = bounds(spec);
    let mut buf = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw_points(&mut buf, spec, [x0, x1, y0, y1])
        .map_err(|e| DiffusionError::invalid(format!("scatter plot: {e}")))?;
    let mut img = RgbImage::from_raw(WIDTH, HEIGHT, buf)
        .ok_or_else(|| DiffusionError::invalid("scatter plot: pixel buffer size"))?;
    let (pw, ph) = (
        (WIDTH - LEFT - RIGHT) as f64,
        (HEIGHT - TOP - BOTTOM) as f64,
    );
    for t in ticks(x0, x1) {
        let px = LEFT as f64 + (t - x0) / (x1 - x0) * pw;
        let s = label(t, x1 - x0);
        draw_text(
            &mut img,
            px as i64 - text_width(&s, 1) as i64 / 2,
            (HEIGHT - BOTTOM + 6) as i64,
            &s,
            1,
            INK,
        );
    }
    for t in ticks(y0, y1) {
        let py = TOP as f64 + (y1 - t) / (y1 - y0) * ph;
        let s = label(t, y1 - y0);
        draw_text(
            &mut img,
            LEFT as i64 - 6 - text_width(&s, 1) as i64,
            py as i64 - 4,
            &s,
            1,
            INK,
        );
    }
    let center = |s: &str, scale| (WIDTH as i64 - text_width(s, scale) as i64) / 2;
    draw_text(&mut img, center(&spec.title, 2), 12, &spec.title, 2, INK);
    draw_text(
        &mut img,
        center(&spec.x_label, 1),
        (HEIGHT - 20) as i64,
        &spec.x_label,
        1,
        INK,
    );
    draw_text(&mut img, 8, (TOP - 14) as i64, &spec.y_label, 1, INK);
    let mut legend: Vec<(&str, [u8; 3])> = spec
        .series
        .iter()
        .map(|s| (s.label.as_str(), s.color))
        .collect();
    if let Some((_, text)) = &spec.frame {
        legend.push((text.as_str(), BOX));
    }
    for (k, (text, color)) in legend.into_iter().enumerate() {
        let y = (TOP + 8 + 14 * k as u32) as i64;
        fill(&mut img, LEFT as i64 + 8, y, 8, 8, color);
        draw_text(&mut img, LEFT as i64 + 22, y, text, 1, INK);
    }
    Ok(img)
}

fn draw_points(
    buf: &mut [u8],
    spec: &ScatterSpec,
    [x0, x1, y0, y1]: [f64; 4],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(buf, (WIDTH, HEIGHT)).into_drawing_area();
    let area = root.margin(TOP, BOTTOM, LEFT, RIGHT);
    let mut chart = ChartBuilder::on(&area).build_cartesian_2d(x0..x1, y0..y1)?;
    let grid = RGBColor(GRID[0], GRID[1], GRID[2]);
    let lines = ticks(x0, x1)
        .into_iter()
        .map(|t| vec![(t, y0), (t, y1)])
        .chain(ticks(y0, y1).into_iter().map(|t| vec![(x0, t), (x1, t)]));
    chart.draw_series(lines.map(|l| PathElement::new(l, grid)))?;
    if let Some(([bx0, bx1, by0, by1], _)) = spec.frame {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(bx0, by0), (bx1, by1)],
            RGBColor(BOX[0], BOX[1], BOX[2]).stroke_width(2),
        )))?;
    }
    for s in &spec.series {
        let color = RGBColor(s.color[0], s.color[1], s.color[2]);
        let points = s
            .points
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite());
        chart.draw_series(points.map(|p| Circle::new((p[0], p[1]), 3, color.filled())))?;
    }
    chart.draw_series(std::iter::once(Rectangle::new(
        [(x0, y0), (x1, y1)],
        BLACK.stroke_width(1),
    )))?;
    root.present()?;
    Ok(())
}

/// Axis limits over every finite point and the box, padded by 5 % (1 when flat).
fn bounds(spec: &ScatterSpec) -> [f64; 4] {
    let mut b = [
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let mut add = |x: f64, y: f64| {
        if x.is_finite() && y.is_finite() {
            b = [b[0].min(x), b[1].max(x), b[2].min(y), b[3].max(y)];
        }
    };
    for s in &spec.series {
        s.points.iter().for_each(|p| add(p[0], p[1]));
    }
    if let Some(([bx0, bx1, by0, by1], _)) = spec.frame {
        add(bx0, by0);
        add(bx1, by1);
    }
    if !b[0].is_finite() {
        return [-1.0, 1.0, -1.0, 1.0];
    }
    let pad = |lo: f64, hi: f64| {
        let d = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
        (lo - d, hi + d)
    };
    let (xa, xb) = pad(b[0], b[1]);
    let (ya, yb) = pad(b[2], b[3]);
    [xa, xb, ya, yb]
}

/// "Nice" tick spacing (1, 2 or 5 × 10^k) giving about 5 ticks in [lo, hi].
fn step(lo: f64, hi: f64) -> f64 {
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let s = step(lo, hi);
    let first = (lo / s).ceil() as i64;
    let last = (hi / s).floor() as i64;
    (first..=last).map(|k| k as f64 * s).collect()
}

fn label(t: f64, span: f64) -> String {
    let s = step(0.0, span);
    let decimals = (-s.log10().floor()).max(0.0) as usize;
    format!("{t:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(1480.0, 2270.0), vec![1600.0, 1800.0, 2000.0, 2200.0]);
        assert_eq!(label(0.5, 2.4), "0.5");
        assert_eq!(label(2000.0, 800.0), "2000");
    }

    #[test]
    fn points_land_in_the_plot_in_their_colour() {
        let pts = [[0.0, 0.0], [1.0, 1.0]];
        let spec = ScatterSpec {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![Series {
                label: "a".into(),
                points: &pts,
                color: [200, 0, 0],
            }],
            frame: None,
        };
        let img = scatter_plot(&spec).unwrap();
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        // (1, 1) sits 5 % inside the top-right corner of the plotting area
        let pw = (WIDTH - LEFT - RIGHT) as f64;
        let ph = (HEIGHT - TOP - BOTTOM) as f64;
        let (px, py) = (LEFT as f64 + pw * 1.05 / 1.1, TOP as f64 + ph * 0.05 / 1.1);
        assert_eq!(img.get_pixel(px as u32, py as u32).0, [200, 0, 0]);
    }
}
