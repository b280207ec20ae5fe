//! Small charts for reports, drawn with velprior-data's bitmap text: a histogram of several
//! samples on shared bins, points-and-lines of y against x, and box plots of groups.

use super::text::{draw_text, fill, text_width};
use image::{Rgb, RgbImage};

const W: u32 = 560;
const H: u32 = 360;
const LEFT: u32 = 64;
const RIGHT: u32 = 16;
const TOP: u32 = 40;
const BOTTOM: u32 = 48;
const BLACK: [u8; 3] = [0, 0, 0];
const GREY: [u8; 3] = [200, 200, 200];

/// Colours for successive series (blue, orange, green, red, purple).
pub const PALETTE: [[u8; 3]; 5] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
];

/// One named series of (x, y) points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points, drawn in order and joined by lines.
    pub points: Vec<(f64, f64)>,
}

/// Histograms (fraction of each sample per bin) of `samples` (name, values) on `bins` shared
/// bins spanning all values, bars of each sample side by side within a bin.
pub fn histogram(
    title: &str,
    x_label: &str,
    samples: &[(String, Vec<f64>)],
    bins: usize,
) -> RgbImage {
    let all = samples
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo.is_finite() {
        (lo, if hi > lo { hi } else { lo + 1.0 })
    } else {
        (0.0, 1.0)
    };
    let bins = bins.max(1);
    let counts: Vec<Vec<f64>> = samples
        .iter()
        .map(|(_, v)| {
            let mut c = vec![0.0; bins];
            for &x in v.iter().filter(|x| x.is_finite()) {
                let b = (((x - lo) / (hi - lo)) * bins as f64) as usize;
                c[b.min(bins - 1)] += 1.0 / v.len() as f64;
            }
            c
        })
        .collect();
    let ymax = counts
        .iter()
        .flatten()
        .fold(0.0f64, |a, &b| a.max(b))
        .max(1e-12);
    let mut img = frame(
        title,
        x_label,
        "fraction",
        (lo, hi),
        (0.0, ymax),
        XAxis::Linear,
    );
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let bin_w = pw as f64 / bins as f64;
    let bar_w = (bin_w / samples.len().max(1) as f64).max(1.0);
    for (s, c) in counts.iter().enumerate() {
        for (b, &f) in c.iter().enumerate() {
            let h = (f / ymax * ph as f64).round() as u32;
            let x = LEFT as f64 + b as f64 * bin_w + s as f64 * bar_w;
            fill(
                &mut img,
                x as i64,
                (TOP + ph - h) as i64,
                bar_w as u32,
                h,
                PALETTE[s % 5],
            );
        }
    }
    legend(&mut img, samples.iter().map(|s| s.0.as_str()));
    img
}

/// Points joined by lines for each series, on a log-2 x axis when `log_x`; the y axis spans
/// `y_range` (or the data's range when `None`).
pub fn line_chart(
    title: &str,
    (x_label, y_label): (&str, &str),
    series: &[Series],
    log_x: bool,
    y_range: Option<(f64, f64)>,
) -> RgbImage {
    let tx = |x: f64| {
        if log_x {
            x.max(f64::MIN_POSITIVE).log2()
        } else {
            x
        }
    };
    let pts = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.0.is_finite() && p.1.is_finite())
    };
    let span = |vals: Vec<f64>| {
        let (a, b) = vals
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        if a.is_finite() {
            (a, if b > a { b } else { a + 1.0 })
        } else {
            (0.0, 1.0)
        }
    };
    let (x0, x1) = span(pts().map(|p| tx(p.0)).collect());
    let (y0, y1) = y_range.unwrap_or_else(|| span(pts().map(|p| p.1).collect()));
    let axis = if log_x { XAxis::Log2 } else { XAxis::Linear };
    let mut img = frame(title, x_label, y_label, (x0, x1), (y0, y1), axis);
    let (pw, ph) = ((W - LEFT - RIGHT) as f64, (H - TOP - BOTTOM) as f64);
    let to_px = |(x, y): (f64, f64)| {
        (
            LEFT as f64 + (tx(x) - x0) / (x1 - x0) * pw,
            (TOP as f64 + ph) - (y.clamp(y0, y1) - y0) / (y1 - y0) * ph,
        )
    };
    for (s, ser) in series.iter().enumerate() {
        let color = PALETTE[s % 5];
        let px: Vec<(f64, f64)> = ser
            .points
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .map(|&p| to_px(p))
            .collect();
        for w in px.windows(2) {
            line(&mut img, w[0], w[1], color);
        }
        for &(x, y) in &px {
            fill(&mut img, x as i64 - 3, y as i64 - 3, 7, 7, color);
        }
    }
    legend(&mut img, series.iter().map(|s| s.name.as_str()));
    img
}

/// How the x axis is labelled.
#[derive(Clone, Copy)]
enum XAxis {
    Linear,
    Log2,
    /// No numeric ticks: the chart labels its categories itself.
    Categories,
}

/// Box plots: for each group (along x, labelled `groups[g]`) one box per series (coloured,
/// named `series[s]` in the legend) of `values[g][s]` — the quartiles, the median as a black
/// bar, whiskers to the extremes. The y axis spans `y_range`.
pub fn box_plot(
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[String],
    values: &[Vec<Vec<f64>>],
    (y0, y1): (f64, f64),
) -> RgbImage {
    let mut img = frame(title, "", y_label, (0.0, 1.0), (y0, y1), XAxis::Categories);
    let (pw, ph) = ((W - LEFT - RIGHT) as f64, (H - TOP - BOTTOM) as f64);
    let y_px = |y: f64| (TOP as f64 + ph) - (y.clamp(y0, y1) - y0) / (y1 - y0) * ph;
    let group_w = pw / groups.len().max(1) as f64;
    let box_w = (0.8 * group_w / series.len().max(1) as f64).max(3.0);
    for (g, name) in groups.iter().enumerate() {
        let gx = LEFT as f64 + g as f64 * group_w;
        let label_x = gx + group_w / 2.0 - f64::from(text_width(name, 1)) / 2.0;
        draw_text(
            &mut img,
            label_x as i64,
            (TOP as f64 + ph + 6.0) as i64,
            name,
            1,
            BLACK,
        );
        for (s, v) in values.get(g).into_iter().flatten().enumerate() {
            let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
            if v.is_empty() {
                continue;
            }
            v.sort_by(f64::total_cmp);
            let q = |p: f64| {
                let r = p * (v.len() - 1) as f64;
                let (i, f) = (r.floor() as usize, r.fract());
                v[i] + f * (v[(i + 1).min(v.len() - 1)] - v[i])
            };
            let x = gx + 0.1 * group_w + s as f64 * box_w;
            let mid = x + box_w / 2.0;
            let color = PALETTE[s % 5];
            line(
                &mut img,
                (mid, y_px(v[0])),
                (mid, y_px(v[v.len() - 1])),
                color,
            );
            let (top, bottom) = (y_px(q(0.75)), y_px(q(0.25)));
            fill(
                &mut img,
                (x + 1.0) as i64,
                top as i64,
                (box_w - 2.0).max(1.0) as u32,
                (bottom - top).max(4.0) as u32,
                color,
            );
            fill(
                &mut img,
                (x + 1.0) as i64,
                y_px(q(0.5)) as i64,
                (box_w - 2.0).max(1.0) as u32,
                2,
                BLACK,
            );
        }
    }
    legend(&mut img, series.iter().map(String::as_str));
    img
}

/// White canvas with title, axes, 5 ticks per axis and axis labels.
fn frame(
    title: &str,
    x_label: &str,
    y_label: &str,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    x_axis: XAxis,
) -> RgbImage {
    let mut img = RgbImage::from_pixel(W, H, Rgb([255, 255, 255]));
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    draw_text(&mut img, LEFT as i64, 12, title, 1, BLACK);
    for k in 0..5 {
        let f = k as f64 / 4.0;
        let gx = LEFT + (f * pw as f64) as u32;
        let gy = TOP + ph - (f * ph as f64) as u32;
        fill(&mut img, gx as i64, TOP as i64, 1, ph, GREY);
        fill(&mut img, LEFT as i64, gy as i64, pw, 1, GREY);
        let xv = x0 + f * (x1 - x0);
        let xl = match x_axis {
            XAxis::Linear => tick(xv),
            XAxis::Log2 => tick(xv.exp2()),
            XAxis::Categories => String::new(),
        };
        draw_text(
            &mut img,
            gx as i64 - text_width(&xl, 1) as i64 / 2,
            (TOP + ph + 6) as i64,
            &xl,
            1,
            BLACK,
        );
        let yl = tick(y0 + f * (y1 - y0));
        draw_text(
            &mut img,
            (LEFT - 6 - text_width(&yl, 1)) as i64,
            gy as i64 - 4,
            &yl,
            1,
            BLACK,
        );
    }
    fill(&mut img, LEFT as i64, TOP as i64, 1, ph, BLACK);
    fill(&mut img, LEFT as i64, (TOP + ph) as i64, pw, 1, BLACK);
    let xl_x = LEFT + pw / 2 - text_width(x_label, 1) / 2;
    draw_text(&mut img, xl_x as i64, (H - 20) as i64, x_label, 1, BLACK);
    draw_text(&mut img, 4, (TOP - 14) as i64, y_label, 1, BLACK);
    img
}

fn legend<'a>(img: &mut RgbImage, names: impl Iterator<Item = &'a str>) {
    for (s, name) in names.enumerate() {
        let y = (TOP + 6 + 12 * s as u32) as i64;
        let x = (W - RIGHT - 16 - text_width(name, 1)) as i64;
        fill(img, x - 12, y, 8, 8, PALETTE[s % 5]);
        draw_text(img, x, y, name, 1, BLACK);
    }
}

fn line(img: &mut RgbImage, (xa, ya): (f64, f64), (xb, yb): (f64, f64), color: [u8; 3]) {
    let steps = (xb - xa).abs().max((yb - ya).abs()).ceil().max(1.0) as usize;
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        fill(
            img,
            (xa + t * (xb - xa)) as i64,
            (ya + t * (yb - ya)) as i64,
            2,
            2,
            color,
        );
    }
}

fn tick(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(0.01..10_000.0).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
