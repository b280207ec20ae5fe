//! Metric curves as inline SVG, drawn with plotters.

use plotters::coord::Shift;
use plotters::prelude::*;

/// Chart size in pixels.
const SIZE: (u32, u32) = (460, 250);
/// Line colours for the runs of a comparison, in order.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// One named curve.
pub struct Curve<'a> {
    /// Legend entry (a run id in comparisons; empty for a single curve).
    pub name: &'a str,
    /// (x, y) points in x order.
    pub points: &'a [(f64, f64)],
}

/// An SVG line chart titled `title` of `curves` against `x_label`. The y axis is logarithmic
/// when every value is positive and they span more than two decades. Returns `None` when there
/// is nothing finite to draw.
pub fn line_chart(title: &str, x_label: &str, curves: &[Curve]) -> Option<String> {
    let all = || curves.iter().flat_map(|c| c.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all().filter(|p| p.0.is_finite() && p.1.is_finite()) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        return None;
    }
    if x1 == x0 {
        x1 = x0 + 1.0;
    }
    let log = y0 > 0.0 && y1 / y0 > 100.0;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        if log {
            draw(&root, title, x_label, curves, x0..x1, (y0..y1).log_scale())?;
        } else {
            let pad = if y1 > y0 {
                0.05 * (y1 - y0)
            } else if y0 != 0.0 {
                0.1 * y0.abs()
            } else {
                1.0
            };
            draw(
                &root,
                title,
                x_label,
                curves,
                x0..x1,
                (y0 - pad)..(y1 + pad),
            )?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

fn draw<Y>(
    root: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    x_label: &str,
    curves: &[Curve],
    x: std::ops::Range<f64>,
    y: Y,
) -> Option<()>
where
    Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    <Y as plotters::coord::ranged1d::AsRangedCoord>::CoordDescType:
        plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 15))
        .margin(8)
        .margin_right(22)
        .x_label_area_size(34)
        .y_label_area_size(58)
        .build_cartesian_2d(x, y)
        .ok()?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .ok()?;
    for (i, c) in curves.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let series = chart
            .draw_series(LineSeries::new(
                c.points
                    .iter()
                    .copied()
                    .filter(|p| p.0.is_finite() && p.1.is_finite()),
                colour.stroke_width(2),
            ))
            .ok()?;
        if !c.name.is_empty() {
            series
                .label(c.name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
        }
    }
    if curves.iter().any(|c| !c.name.is_empty()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .ok()?;
    }
    Some(())
}

/// An axis tick label with about three significant digits: `120`, `0.25`, `1.5e-4`.
fn tick(v: f64) -> String {
    let a = v.abs();
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if a == 0.0 {
        "0".into()
    } else if !(1e-2..1e5).contains(&a) {
        let s = format!("{v:.2e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        format!("{}e{exponent}", trim(mantissa))
    } else {
        let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
        trim(&format!("{v:.decimals$}"))
    }
}

/// A named group of scatter points drawn with circles of `radius` pixels.
pub struct Points<'a> {
    /// Legend entry.
    pub name: &'a str,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
    /// Circle radius in pixels.
    pub radius: u32,
}

/// An SVG scatter plot of `groups` (coloured in palette order, later groups on top). The axes
/// span ±`symmetric` when given, else the data with a 5 % margin.
pub fn scatter(
    title: &str,
    labels: (&str, &str),
    groups: &[Points],
    symmetric: Option<f64>,
) -> String {
    let finite = || {
        groups
            .iter()
            .flat_map(|g| g.points.iter())
            .filter(|p| p.0.is_finite() && p.1.is_finite())
    };
    let span = |get: fn(&(f64, f64)) -> f64| -> std::ops::Range<f64> {
        if let Some(l) = symmetric {
            return -l..l;
        }
        let (lo, hi) = finite()
            .map(get)
            .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
        if lo > hi {
            return 0.0..1.0;
        }
        let pad = if hi > lo {
            0.05 * (hi - lo)
        } else {
            0.5 * lo.abs().max(1.0)
        };
        (lo - pad)..(hi + pad)
    };
    let (xr, yr) = (span(|p| p.0), span(|p| p.1));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (380, 340)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let drawn = (|| -> Option<()> {
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 15))
                .margin(8)
                .x_label_area_size(34)
                .y_label_area_size(52)
                .build_cartesian_2d(xr, yr)
                .ok()?;
            chart
                .configure_mesh()
                .x_desc(labels.0)
                .y_desc(labels.1)
                .x_labels(5)
                .y_labels(5)
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .ok()?;
            for (i, g) in groups.iter().enumerate() {
                let colour = PALETTE[i % PALETTE.len()];
                let r = g.radius;
                chart
                    .draw_series(
                        g.points
                            .iter()
                            .filter(|p| p.0.is_finite() && p.1.is_finite())
                            .map(|&p| Circle::new(p, r, colour.mix(0.75).filled())),
                    )
                    .ok()?
                    .label(g.name)
                    .legend(move |(x, y)| Circle::new((x + 6, y), 4, colour.filled()));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.4))
                .border_style(RGBColor(180, 180, 180))
                .draw()
                .ok()
        })();
        if drawn.is_some() {
            let _ = root.present();
        }
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_linear_and_log_charts_and_skips_empty_ones() {
        let pts = [(0.0, 1.0), (1.0, 0.5), (2.0, 0.25)];
        let svg = line_chart(
            "loss",
            "step",
            &[Curve {
                name: "",
                points: &pts,
            }],
        )
        .unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("loss") && svg.contains("<polyline"));
        let decades = [(0.0, 1e3), (1.0, 1.0), (2.0, 1e-2)];
        let svg = line_chart(
            "misfit",
            "iteration",
            &[Curve {
                name: "a",
                points: &decades,
            }],
        )
        .unwrap();
        assert!(svg.contains("misfit"));
        assert!(
            line_chart(
                "x",
                "step",
                &[Curve {
                    name: "",
                    points: &[]
                }]
            )
            .is_none()
        );
    }

    #[test]
    fn tick_labels_keep_three_significant_digits() {
        assert_eq!(tick(120.0), "120");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(-0.125), "-0.125");
        assert_eq!(tick(1.5e-4), "1.5e-4");
        assert_eq!(tick(1.05e-3), "1.05e-3");
        assert_eq!(tick(2.0e6), "2e6");
    }

    #[test]
    fn a_constant_small_series_is_labelled_near_its_value() {
        let lr = [(0.0, 1e-3), (10.0, 1e-3)];
        let svg = line_chart(
            "lr",
            "step",
            &[Curve {
                name: "",
                points: &lr,
            }],
        )
        .unwrap();
        assert!(svg.contains("\n1e-3\n"), "no tick at 1e-3 in {svg}");
    }
}
