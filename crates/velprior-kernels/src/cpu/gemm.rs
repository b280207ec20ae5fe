//! Thin safe wrapper over the `gemm` crate (the SGEMM candle's CPU matmul uses) for strided,
//! row-major f32 matrices.

use gemm::Parallelism;

/// A read-only strided f32 matrix: element (r, c) is `data[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> MatRef<'a> {
    /// A `rows × cols` view of `data` with row stride `rs` and column stride `cs`.
    /// Panics (a bug, never user input) when the view reaches past the slice.
    pub(crate) fn new(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        if rows > 0 && cols > 0 {
            assert!(
                (rows - 1) * rs + (cols - 1) * cs < data.len(),
                "MatRef {rows}×{cols} (strides {rs}, {cs}) reaches past {} elements",
                data.len()
            );
        }
        MatRef {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }
}

/// `dst = a · b` (or `dst += a · b` with `accumulate`), `dst` row-major with row stride `ldd`.
/// `threads > 1` lets gemm split the output blocks over rayon (the reduction over k is never
/// split, so the result does not depend on the thread count).
pub(crate) fn sgemm(
    dst: &mut [f32],
    ldd: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
    threads: usize,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "sgemm: inner dimensions differ");
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        (m - 1) * ldd + n <= dst.len(),
        "sgemm: destination too short"
    );
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * ldd..r * ldd + n].fill(0.0);
            }
        }
        return;
    }
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: the asserts above (and in `MatRef::new`) keep every index gemm touches inside
    // the three slices; `dst` is borrowed mutably, so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            ldd as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
