//! Improved precision and recall of generated models (Kynkäänniemi et al. 2019): the manifold
//! of a set is the union of balls centred on its members with radius the distance to their
//! k-th nearest neighbour in the set; precision is the fraction of generated models inside the
//! real manifold, recall the fraction of real models inside the generated manifold. The ball
//! tests reuse the blocked k-NN product with the radii folded into the selection key.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::knn::{CandidateRows, KnnOptions, Metric, candidates, exact_l2, knn};
use super::source::{InMemory, TrainSource};
use crate::error::{MemorizationError, Result};

/// Precision and recall of one generated set against one real set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrecisionRecall {
    /// Fraction of generated models inside the real manifold, in [0, 1].
    pub precision: f64,
    /// Fraction of real models inside the generated manifold, in [0, 1].
    pub recall: f64,
    /// Neighbour rank that sets the ball radii.
    pub k: usize,
}

/// Precision and recall of `generated` against `real` (both row-major (·, D), the same units),
/// balls to the `k`-th nearest neighbour (the paper uses k = 3); each set needs more than `k`
/// models.
pub fn precision_recall(
    real: &[f32],
    generated: &[f32],
    d: usize,
    k: usize,
) -> Result<PrecisionRecall> {
    let real_set = InMemory::new(real, d)?;
    let gen_set = InMemory::new(generated, d)?;
    let real_radii = manifold_radii(&real_set, k)?;
    let gen_radii = manifold_radii(&gen_set, k)?;
    let inside = |margins: Vec<f64>| {
        margins.iter().filter(|&&m| m <= 0.0).count() as f64 / margins.len() as f64
    };
    Ok(PrecisionRecall {
        precision: inside(ball_margins(generated, &real_set, &real_radii)?),
        recall: inside(ball_margins(real, &gen_set, &gen_radii)?),
        k,
    })
}

/// Distance (L2) from each model of `set` to its `k`-th nearest other model of the set.
pub fn manifold_radii(set: &dyn TrainSource, k: usize) -> Result<Vec<f64>> {
    let n = set.len();
    if k == 0 || k >= n {
        return Err(MemorizationError::invalid(format!(
            "precision/recall with k = {k} needs k ≥ 1 and more than k models per set; this set \
             holds {n} (lower k or use more models)"
        )));
    }
    let all = set.read(0, n)?;
    // The model itself is among its k + 1 nearest at distance 0, so the (k + 1)-th distance is
    // the k-th distance to the others (also with duplicates).
    let nn = knn(&all, set, &KnnOptions::new(k + 1, Metric::L2))?;
    Ok((0..n).map(|i| nn.row(i).1[k]).collect())
}

/// For each query (row-major (M, D)), min over centres j of ‖q − c_j‖ − r_j in f64: ≤ 0
/// exactly when the query lies in the union of the balls B(c_j, r_j). Candidates come from the
/// f32 product with key ‖c_j‖² − r_j² − 2 q·c_j; a few extra are re-checked exactly.
pub fn ball_margins(queries: &[f32], centres: &dyn TrainSource, radii: &[f64]) -> Result<Vec<f64>> {
    let (d, n) = (centres.dim(), centres.len());
    if radii.len() != n || n == 0 || d == 0 || !queries.len().is_multiple_of(d) {
        return Err(MemorizationError::invalid(format!(
            "ball test: {} radii for {n} centres and {} query values of models of {d}",
            radii.len(),
            queries.len()
        )));
    }
    let opts = KnnOptions::new(1, Metric::L2);
    let bias: Vec<f32> = radii.iter().map(|r| -(r * r) as f32).collect();
    let keep = (1 + opts.refine_extra).min(n);
    let mut out = Vec::with_capacity(queries.len() / d);
    for block in queries.chunks(opts.query_block * d) {
        let heaps = candidates(block, d, centres, &opts, keep, Some(&bias))?;
        let rows = CandidateRows::read(centres, &heaps)?;
        let margins: Vec<f64> = heaps
            .par_iter()
            .zip(block.par_chunks(d))
            .map(|(heap, q)| {
                heap.indices()
                    .map(|j| exact_l2(q, rows.row(j)) - radii[j])
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        out.extend(margins);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    use super::*;

    /// Textbook precision/recall: all pairwise f64 distances, sorted neighbour lists.
    fn naive(real: &[f32], gen_: &[f32], d: usize, k: usize) -> (f64, f64) {
        let dist = |a: &[f32], b: &[f32]| exact_l2(a, b);
        let radii = |set: &[f32]| -> Vec<f64> {
            set.chunks(d)
                .enumerate()
                .map(|(i, a)| {
                    let mut v: Vec<f64> = set
                        .chunks(d)
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .map(|(_, b)| dist(a, b))
                        .collect();
                    v.sort_by(f64::total_cmp);
                    v[k - 1]
                })
                .collect()
        };
        let frac = |qs: &[f32], set: &[f32]| {
            let r = radii(set);
            let hits = qs
                .chunks(d)
                .filter(|q| set.chunks(d).zip(&r).any(|(c, &r)| dist(q, c) <= r))
                .count();
            hits as f64 / (qs.len() / d) as f64
        };
        (frac(gen_, real), frac(real, gen_))
    }

    fn gaussian(n: usize, d: usize, scale: f32, shift: f32, rng: &mut ChaCha8Rng) -> Vec<f32> {
        (0..n * d)
            .map(|_| shift + scale * rng.sample::<f32, _>(StandardNormal))
            .collect()
    }

    #[test]
    fn matches_the_naive_definition() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let d = 6;
        let real = gaussian(120, d, 1.0, 0.0, &mut rng);
        for (scale, shift, k) in [(0.5, 0.0, 3), (1.0, 0.8, 3), (2.0, 0.0, 5), (1.0, 0.0, 1)] {
            let gen_ = gaussian(90, d, scale, shift, &mut rng);
            let pr = precision_recall(&real, &gen_, d, k).unwrap();
            let (p, r) = naive(&real, &gen_, d, k);
            assert_eq!(
                (pr.precision, pr.recall),
                (p, r),
                "scale {scale} shift {shift}"
            );
            assert!(
                p > 0.0 && p < 1.0 || r > 0.0 && r < 1.0,
                "uninformative case"
            );
        }
    }

    #[test]
    fn narrow_generator_has_precision_but_no_recall() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let d = 4;
        let real = gaussian(200, d, 1.0, 0.0, &mut rng);
        let gen_ = gaussian(200, d, 0.05, 0.0, &mut rng);
        let pr = precision_recall(&real, &gen_, d, 3).unwrap();
        assert_eq!(pr.precision, 1.0);
        assert!(pr.recall < 0.05, "{pr:?}");
    }

    #[test]
    fn identical_sets_score_one_disjoint_sets_zero() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let d = 16;
        let real = gaussian(50, d, 1.0, 0.0, &mut rng);
        let same = precision_recall(&real, &real, d, 3).unwrap();
        assert_eq!((same.precision, same.recall), (1.0, 1.0));
        let far = gaussian(40, d, 1.0, 100.0, &mut rng);
        let apart = precision_recall(&real, &far, d, 3).unwrap();
        assert_eq!((apart.precision, apart.recall), (0.0, 0.0));
    }

    #[test]
    fn too_few_models_is_an_error() {
        let x = vec![0.0f32; 3 * 2];
        let err = precision_recall(&x, &x, 2, 3).unwrap_err().to_string();
        assert!(err.contains("k = 3"), "{err}");
    }
}
