//! Exact k-NN search against a naive f64 loop (indices and values), odd sizes, both metrics,
//! HDF5 streaming, and clear errors.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use velprior_data::{Corpus, CorpusMeta, Normalisation, write_corpus};
use velprior_memorization::{Hdf5Source, InMemory, KnnOptions, Metric, TrainSource, knn};

fn randn(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.sample(StandardNormal)).collect()
}

/// Naive truth: every pair in f64, sorted by (distance, index).
fn naive(q: &[f32], t: &[f32], d: usize, k: usize, metric: Metric) -> Vec<Vec<(usize, f64)>> {
    q.chunks(d)
        .map(|a| {
            let mut all: Vec<(usize, f64)> = t
                .chunks(d)
                .enumerate()
                .map(|(j, b)| {
                    let v = match metric {
                        Metric::L2 => a
                            .iter()
                            .zip(b)
                            .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                            .sum::<f64>()
                            .sqrt(),
                        Metric::Ncc => {
                            let ma = a.iter().map(|&x| x as f64).sum::<f64>() / d as f64;
                            let mb = b.iter().map(|&x| x as f64).sum::<f64>() / d as f64;
                            let ab: f64 = a
                                .iter()
                                .zip(b)
                                .map(|(&x, &y)| (x as f64 - ma) * (y as f64 - mb))
                                .sum();
                            let aa: f64 = a.iter().map(|&x| (x as f64 - ma).powi(2)).sum();
                            let bb: f64 = b.iter().map(|&y| (y as f64 - mb).powi(2)).sum();
                            ab / (aa * bb).sqrt()
                        }
                    };
                    (j, v)
                })
                .collect();
            match metric {
                Metric::L2 => all.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0))),
                Metric::Ncc => all.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0))),
            }
            all.truncate(k);
            all
        })
        .collect()
}

fn check(m: usize, n: usize, d: usize, k: usize, chunk: usize, block: usize, metric: Metric) {
    let (q, t) = (randn(m * d, 1), randn(n * d, 2));
    let mut opts = KnnOptions::new(k, metric);
    opts.chunk = chunk;
    opts.query_block = block;
    let got = knn(&q, &InMemory::new(&t, d).unwrap(), &opts).unwrap();
    let truth = naive(&q, &t, d, k, metric);
    assert_eq!(got.len(), m);
    for (i, row) in truth.iter().enumerate() {
        let (idx, val) = got.row(i);
        let want: Vec<usize> = row.iter().map(|e| e.0).collect();
        assert_eq!(
            idx,
            &want[..],
            "query {i} ({metric:?}, m {m} n {n} d {d} k {k})"
        );
        for (a, b) in val.iter().zip(row) {
            assert!(
                (a - b.1).abs() <= 1e-9 * b.1.abs().max(1.0),
                "{a} vs {}",
                b.1
            );
        }
    }
}

#[test]
fn top_k_equals_naive_loop_on_random_data() {
    check(13, 37, 17, 7, 5, 4, Metric::L2); // odd sizes, chunk and block not dividing them
    check(9, 200, 64, 50, 64, 100, Metric::L2); // k = 50 across chunks, one query block
    check(5, 11, 3, 11, 11, 1, Metric::L2); // k = N
    check(13, 37, 17, 7, 5, 4, Metric::Ncc);
    check(4, 1, 8, 1, 3, 2, Metric::L2); // one training model
}

#[test]
fn planted_copies_are_their_own_nearest_neighbour_in_both_metrics() {
    let (n, d) = (50, 100);
    let t = randn(n * d, 3);
    let noise = randn(10 * d, 4);
    let q: Vec<f32> = (0..10 * d)
        .map(|i| t[(i / d * 5) * d + i % d] + 0.01 * noise[i])
        .collect();
    for metric in [Metric::L2, Metric::Ncc] {
        let nn = knn(
            &q,
            &InMemory::new(&t, d).unwrap(),
            &KnnOptions::new(2, metric),
        )
        .unwrap();
        for i in 0..10 {
            assert_eq!(nn.row(i).0[0], i * 5);
        }
    }
}

#[test]
fn ncc_ignores_offset_and_scale_and_is_zero_for_constant_models() {
    let d = 16;
    let t = randn(3 * d, 5);
    let mut q: Vec<f32> = t[d..2 * d].iter().map(|v| 3.0 * v + 7.0).collect();
    q.extend(std::iter::repeat_n(2.0, d));
    let nn = knn(
        &q,
        &InMemory::new(&t, d).unwrap(),
        &KnnOptions::new(1, Metric::Ncc),
    )
    .unwrap();
    assert_eq!(nn.row(0).0[0], 1);
    assert!((nn.row(0).1[0] - 1.0).abs() < 1e-6);
    assert_eq!(nn.row(1).1[0], 0.0);
}

#[test]
fn streams_an_hdf5_training_set_in_normalised_units() {
    let (n, h, w) = (23, 4, 5);
    let v: Vec<f32> = randn(n * h * w, 6)
        .iter()
        .map(|x| 3000.0 + 500.0 * x)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.h5");
    let corpus = Corpus::new(v.clone(), [n, h, w], CorpusMeta::default()).unwrap();
    write_corpus(&path, &corpus).unwrap();
    let norm = Normalisation::new(1000.0, 5000.0).unwrap();
    let source = Hdf5Source::open(&path, None, norm).unwrap();
    assert_eq!((source.len(), source.dim()), (n, h * w));
    let mut unit = v.clone();
    norm.normalise(&mut unit);
    let q = unit[..7 * h * w].to_vec();
    let mut opts = KnnOptions::new(3, Metric::L2);
    opts.chunk = 4;
    let from_file = knn(&q, &source, &opts).unwrap();
    let in_memory = knn(&q, &InMemory::new(&unit, h * w).unwrap(), &opts).unwrap();
    assert_eq!(from_file, in_memory);
    for i in 0..7 {
        assert_eq!(from_file.row(i).0[0], i);
        assert_eq!(from_file.row(i).1[0], 0.0);
    }
}

#[test]
fn bad_input_gives_clear_errors() {
    let t = randn(10 * 4, 7);
    let src = InMemory::new(&t, 4).unwrap();
    let err = knn(&t[..8], &src, &KnnOptions::new(11, Metric::L2)).unwrap_err();
    assert!(err.to_string().contains("1 ≤ k ≤ 10"), "{err}");
    let err = knn(&t[..8], &src, &KnnOptions::new(0, Metric::L2)).unwrap_err();
    assert!(err.to_string().contains("k = 0"), "{err}");
    let err = knn(&t[..7], &src, &KnnOptions::new(1, Metric::L2)).unwrap_err();
    assert!(err.to_string().contains("whole models"), "{err}");
    assert!(InMemory::new(&t[..7], 4).is_err());
}
