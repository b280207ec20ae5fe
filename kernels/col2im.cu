// col2im, the adjoint of kernels/im2col.cu (the input gradient of a convolution by im2col):
// dx[n, c, y, x] = sum over (ky, kx) of dcol[(n, oy, ox), (c, ky, kx)] with
// oy = (y + pad - ky) / stride and ox = (x + pad - kx) / stride where those are whole and in range.
// One thread per element of dx, a gather: no atomics.
// CPU twin: crates/velprior-kernels/src/ops/im2col.rs.

extern "C" __global__ void col2im_f32(
    const float* __restrict__ dcol,
    float* __restrict__ dx,
    const int n, const int c, const int h, const int w,
    const int kh, const int kw, const int stride, const int pad,
    const int ho, const int wo)
{
    const size_t k = (size_t)c * kh * kw;
    const size_t total = (size_t)n * c * h * w;
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)blockDim.x * gridDim.x) {
        const int xx = (int)(idx % w);
        const int y = (int)((idx / w) % h);
        const int ci = (int)((idx / ((size_t)w * h)) % c);
        const size_t b = idx / ((size_t)w * h * c);
        float acc = 0.0f;
        for (int ky = 0; ky < kh; ++ky) {
            const int ty = y + pad - ky;
            if (ty < 0 || ty % stride != 0 || ty / stride >= ho) continue;
            const int oy = ty / stride;
            for (int kx = 0; kx < kw; ++kx) {
                const int tx = xx + pad - kx;
                if (tx < 0 || tx % stride != 0 || tx / stride >= wo) continue;
                const int ox = tx / stride;
                acc += dcol[((b * ho + oy) * wo + ox) * k + ((size_t)ci * kh + ky) * kw + kx];
            }
        }
        dx[idx] = acc;
    }
}
