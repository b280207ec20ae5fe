//! Every vector path this CPU runs — AVX-512, AVX2 + FMA, portable — forced in turn, and for
//! convs with ≥ 32 channels in and out the Winograd and the direct kernel in turn, against
//! candle's conv2d: values and the gradients of x, w and b of 3×3 convolutions (widths that are
//! multiples of 8 or 16 and ones that are not — 70, 35, 18 as in a 70×70 UNet, a width below
//! one vector so that a vector spans several rows, odd sizes, a 1×1 image — partial blocks of
//! output channels, 1- to 3-vector tiles, Winograd bands that split tile rows and span
//! samples, a residual). Catches a wrong AVX2 tile or transpose, a masked store that drops or
//! shifts pixels at a row's end, a wrong Winograd transform or band seam, and a path that is
//! asked for but not taken (the AVX2 and portable results, and the Winograd and direct ones,
//! must differ in their last bits on a geometry both serve). One test, so that no other test
//! of this binary runs while a path is forced. On a CPU without AVX-512 (or AVX2) those paths
//! cannot run; the test says which it covered.

use candle_core::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use velprior_kernels::cpu::{self, Simd, detected_simd, force_simd, force_winograd};

mod common;
use common::against_candle::{compare, randn};

/// (n, cin, h, w, cout): stride 1, padding 1, 3×3. The last four have the channels of the
/// Winograd path, all but (2, 40, 4, 18, 32) also those of its weight gradient.
const CASES: [(usize, usize, usize, usize, usize); 15] = [
    (2, 3, 4, 8, 5),
    (2, 5, 3, 24, 11),
    (1, 4, 5, 40, 3),
    (2, 3, 2, 16, 17),
    (3, 2, 3, 48, 8),
    (2, 3, 5, 7, 4),
    (1, 3, 3, 70, 9),
    (2, 4, 5, 35, 8),
    (2, 3, 4, 18, 17),
    (1, 2, 6, 3, 2),
    (1, 2, 1, 1, 3),
    (2, 48, 7, 70, 49),
    (3, 33, 5, 9, 64),
    (2, 40, 4, 18, 32),
    (1, 32, 1, 1, 64),
];

#[test]
fn every_vector_path_matches_candle() {
    let levels: Vec<Simd> = Simd::ALL
        .into_iter()
        .filter(|&l| l <= detected_simd())
        .collect();
    let mut outputs = Vec::new();
    let mut winograd = Vec::new();
    for &level in &levels {
        force_simd(Some(level)).unwrap();
        for on in [false, true] {
            force_winograd(Some(on));
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            for (n, cin, h, w, cout) in CASES {
                let x = randn(&mut rng, &[n, cin, h, w]);
                let wt = randn(&mut rng, &[cout, cin, 3, 3]);
                let b = randn(&mut rng, &[cout]);
                let r = randn(&mut rng, &[n, cout, h, w]);
                let res = randn(&mut rng, &[n, cout, h, w]);
                if on && cin.min(cout) < 32 {
                    continue;
                }
                let what = format!("{level:?} winograd {on} conv2d {:?}", (n, cin, h, w, cout));
                compare(
                    &what,
                    [x.clone(), wt.clone(), b.clone()],
                    &r,
                    |t| cpu::conv2d_add(t[0], t[1], t[2], &res, 1, 1).unwrap(),
                    |t| {
                        let y = t[0].conv2d(t[1], 1, 1, 1, 1).unwrap();
                        let y = y
                            .broadcast_add(&t[2].reshape((1, cout, 1, 1)).unwrap())
                            .unwrap();
                        (y + &res).unwrap()
                    },
                    2e-5,
                );
                if !on && (n, cin, h, w, cout) == CASES[1] {
                    outputs.push(cpu::conv2d(&x, &wt, Some(&b), 1, 1).unwrap());
                }
                if level != Simd::Portable && (n, cin, h, w, cout) == CASES[11] {
                    winograd.push(cpu::conv2d(&x, &wt, Some(&b), 1, 1).unwrap());
                }
            }
        }
    }
    force_winograd(None);
    force_simd(None).unwrap();
    let bits = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    if let [portable, avx2, ..] = &outputs[..] {
        assert_ne!(
            bits(portable),
            bits(avx2),
            "VELPRIOR_SIMD=avx2 ran the portable path"
        );
    }
    for pair in winograd.chunks_exact(2) {
        assert_ne!(
            bits(&pair[0]),
            bits(&pair[1]),
            "force_winograd did not switch paths"
        );
    }
    assert!(force_simd(Some(Simd::Avx512)).is_ok() == (detected_simd() == Simd::Avx512));
    force_simd(None).unwrap();
    println!("covered: {levels:?}");
}
