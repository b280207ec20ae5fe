//! The benchmark's box plots: SSIM over the models, one panel per family, the conditions
//! along x and a coloured box per method.

use image::RgbImage;

use super::Record;
use velprior_data::render::charts::box_plot;

/// Panels stacked top to bottom, one per family in `families`; `None` when no record matches.
pub fn ssim_box_plots(
    records: &[Record],
    families: &[String],
    conditions: &[String],
    methods: &[String],
) -> Option<RgbImage> {
    let panels: Vec<RgbImage> = families
        .iter()
        .filter(|f| records.iter().any(|r| &r.family == *f))
        .map(|family| {
            let values: Vec<Vec<Vec<f64>>> = conditions
                .iter()
                .map(|c| {
                    methods
                        .iter()
                        .map(|m| {
                            records
                                .iter()
                                .filter(|r| {
                                    &r.family == family && &r.condition == c && &r.method == m
                                })
                                .map(|r| r.scores.ssim)
                                .collect()
                        })
                        .collect()
                })
                .collect();
            box_plot(
                &format!("{family}: SSIM over the models"),
                "SSIM",
                conditions,
                methods,
                &values,
                (0.0, 1.0),
            )
        })
        .collect();
    let first = panels.first()?;
    let (w, h) = (first.width(), first.height());
    let mut img = RgbImage::new(w, h * panels.len() as u32);
    for (k, p) in panels.iter().enumerate() {
        image::imageops::replace(&mut img, p, 0, i64::from(h) * k as i64);
    }
    Some(img)
}
