//! The convolution by im2col (the UNet's path on GPUs) against candle's own conv2d, values and
//! gradients, on the CPU twins of the CUDA kernels. Catches a wrong gather index (window taps
//! swapped, padding or stride applied wrongly), a col2im that misses or double-counts a tap,
//! and a wrong layout of the matrix product's output.

use candle_core::{Device, Tensor, Var};
use velprior_kernels::{col2im, conv2d_im2col, im2col};

fn rel(a: &Tensor, b: &Tensor) -> f32 {
    let d = (a - b).unwrap().sqr().unwrap().sum_all().unwrap();
    let n = b.sqr().unwrap().sum_all().unwrap();
    (d.to_scalar::<f32>().unwrap() / n.to_scalar::<f32>().unwrap().max(1e-30)).sqrt()
}

#[test]
fn conv_by_im2col_matches_candle_values_and_gradients() {
    let dev = Device::Cpu;
    // (n, cin, h, w, cout, k, stride, pad): the UNet's 3x3, its stride-2 downsampling, the 1x1
    // skip, odd sizes and a rectangular image (candle's own conv backward needs the same output
    // padding in H and W, so the stride-2 cases keep it).
    for (n, cin, h, w, cout, k, stride, pad) in [
        (2, 3, 9, 11, 4, 3, 1, 1),
        (2, 4, 9, 11, 5, 3, 2, 1),
        (2, 4, 10, 10, 5, 3, 2, 1),
        (3, 5, 7, 7, 2, 1, 1, 0),
        (1, 2, 6, 5, 3, 3, 1, 0),
    ] {
        let x = Var::from_tensor(&Tensor::randn(0f32, 1., (n, cin, h, w), &dev).unwrap()).unwrap();
        let wt =
            Var::from_tensor(&Tensor::randn(0f32, 1., (cout, cin, k, k), &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 1., cout, &dev).unwrap()).unwrap();
        let want = x
            .as_tensor()
            .conv2d(wt.as_tensor(), pad, stride, 1, 1)
            .unwrap()
            .broadcast_add(&b.as_tensor().reshape((1, cout, 1, 1)).unwrap())
            .unwrap();
        let got = conv2d_im2col(
            x.as_tensor(),
            wt.as_tensor(),
            Some(b.as_tensor()),
            stride,
            pad,
        )
        .unwrap();
        assert_eq!(got.dims(), want.dims());
        let case = format!("n{n} c{cin} {h}x{w} -> {cout}, k{k} s{stride} p{pad}");
        assert!(
            rel(&got, &want) < 1e-5,
            "{case}: values {}",
            rel(&got, &want)
        );
        // Gradients of Σ y·r through both.
        let r = Tensor::randn(0f32, 1., want.dims(), &dev).unwrap();
        let gw = (want * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let gg = (got * &r).unwrap().sum_all().unwrap().backward().unwrap();
        for (name, v) in [("x", &x), ("w", &wt), ("b", &b)] {
            let (a, e) = (gg.get(v).unwrap(), gw.get(v).unwrap());
            assert!(rel(a, e) < 1e-5, "{case}: gradient of {name} {}", rel(a, e));
        }
    }
}

#[test]
fn col2im_is_the_adjoint_of_im2col() {
    // <im2col(x), c> = <x, col2im(c)> for random x, c: the defining property of the backward.
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1., (2, 3, 8, 7), &dev).unwrap();
    let col = im2col(&x, 3, 3, 2, 1).unwrap();
    let c = Tensor::randn(0f32, 1., col.dims(), &dev).unwrap();
    let lhs = (&col * &c)
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let back = col2im(&c, (2, 3, 8, 7), 3, 3, 2, 1).unwrap();
    let rhs = (&x * &back)
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        (lhs - rhs).abs() <= 1e-4 * lhs.abs().max(1.0),
        "{lhs} vs {rhs}"
    );
}

#[test]
fn windows_that_do_not_fit_are_errors() {
    let x = Tensor::zeros((1, 1, 2, 2), candle_core::DType::F32, &Device::Cpu).unwrap();
    let e = im2col(&x, 5, 5, 1, 0).unwrap_err().to_string();
    assert!(e.contains("does not fit"), "{e}");
}
