//! Display helpers for pictures of profiles: 1-D profiles widened so a tile is readable.

/// Returns the models to draw and their drawn size: models narrower than an eighth of their
/// height (e.g. H×1 profiles) repeat their columns up to W' = max(H/4, 1), so a 64×1
/// profile draws as a 64×16 strip; other models are returned unchanged.
pub fn display_models(models: &[f32], [n, h, w]: [usize; 3]) -> (Vec<f32>, [usize; 2]) {
    if w * 8 >= h {
        return (models.to_vec(), [h, w]);
    }
    let wide = (h / 4).max(1).max(w);
    let mut out = Vec::with_capacity(n * h * wide);
    for row in models.chunks_exact(w) {
        out.extend((0..wide).map(|j| row[j * w / wide]));
    }
    (out, [h, wide])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_widen_and_models_stay() {
        let profile: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let (wide, [h, w]) = display_models(&profile, [1, 16, 1]);
        assert_eq!([h, w], [16, 4]);
        assert_eq!(&wide[4..8], &[1.0; 4]);
        let square = vec![0.5; 2 * 9];
        assert_eq!(display_models(&square, [2, 3, 3]), (square.clone(), [3, 3]));
    }
}
