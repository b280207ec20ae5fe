//! Rendering: grid geometry, colormap values at known pixels, GIF frames.

use velprior_data::render::{
    Colormap, RenderOptions, render_grid, render_model, save_gif, save_png,
};

#[test]
fn model_pixels_follow_the_colormap() {
    // Left half slow, right half fast; range pinned so the colours are the map's ends.
    let model: Vec<f32> = (0..4 * 8)
        .map(|k| if k % 8 < 4 { 1500.0 } else { 4500.0 })
        .collect();
    let opts = RenderOptions {
        range: Some((1500.0, 4500.0)),
        pixels_per_sample: Some(10),
        ..Default::default()
    };
    let img = render_model(&model, [4, 8], &opts).unwrap();
    let top = 8 + 8 + 8; // margin + units label + gaps
    let lo = Colormap::Viridis.rgb(0.0);
    let hi = Colormap::Viridis.rgb(1.0);
    assert_eq!(img.get_pixel(8 + 5, top + 5).0, lo);
    assert_eq!(img.get_pixel(8 + 75, top + 35).0, hi);
}

#[test]
fn grid_and_gif_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let models: Vec<f32> = (0..5 * 6 * 6).map(|k| 1500.0 + k as f32).collect();
    let caps: Vec<String> = (0..5).map(|i| format!("#{i}")).collect();
    let img = render_grid(
        &models,
        [5, 6, 6],
        3,
        &RenderOptions::default(),
        Some(&caps),
    )
    .unwrap();
    save_png(&dir.path().join("g.png"), &img).unwrap();
    let back = image::open(dir.path().join("g.png")).unwrap();
    assert_eq!((back.width(), back.height()), img.dimensions());
    assert!(
        render_grid(
            &models,
            [5, 6, 6],
            3,
            &RenderOptions::default(),
            Some(&caps[..2])
        )
        .is_err()
    );

    let frames: Vec<_> = (0..3)
        .map(|i| {
            render_model(
                &models[i * 36..(i + 1) * 36],
                [6, 6],
                &RenderOptions {
                    range: Some((1500.0, 1700.0)),
                    ..Default::default()
                },
            )
            .unwrap()
        })
        .collect();
    let gif = dir.path().join("walk.gif");
    save_gif(&gif, &frames, 100).unwrap();
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
        std::fs::File::open(&gif).unwrap(),
    ))
    .unwrap();
    use image::AnimationDecoder;
    assert_eq!(decoder.into_frames().count(), 3);
}

/// Catches labels whose arrows and signs draw as '?' (the benchmark's "RED-diff → DAPS" did):
/// they must draw exactly as their ASCII spelling, and measure as wide.
#[test]
fn non_ascii_label_characters_draw_as_their_ascii_spelling() {
    use velprior_data::render::{draw_text, text_width};
    let draw = |text: &str| {
        let mut img = image::RgbImage::new(200, 10);
        draw_text(&mut img, 0, 0, text, 1, [255, 255, 255]);
        img
    };
    for (label, spelled) in [
        ("RED-diff → DAPS", "RED-diff -> DAPS"),
        ("2 × 3 ± 1 − σ", "2 x 3 +/- 1 - sigma"),
    ] {
        assert!(draw(label) == draw(spelled), "{label}");
        assert_eq!(text_width(label, 2), text_width(spelled, 2), "{label}");
    }
}
