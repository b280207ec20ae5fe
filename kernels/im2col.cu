// im2col of a 2-D convolution: x (N, C, H, W) -> col (N*Ho*Wo, C*kh*kw), where row (n, oy, ox)
// and column (c, ky, kx) hold x[n, c, oy*stride - pad + ky, ox*stride - pad + kx] (0 outside the
// image), so that conv(x, w) = col . w(Cout, C*kh*kw)^T. One thread per element of col.
// CPU twin: crates/velprior-kernels/src/ops/im2col.rs. Adjoint: kernels/col2im.cu.

extern "C" __global__ void im2col_f32(
    const float* __restrict__ x,
    float* __restrict__ col,
    const int n, const int c, const int h, const int w,
    const int kh, const int kw, const int stride, const int pad,
    const int ho, const int wo)
{
    const size_t k = (size_t)c * kh * kw;
    const size_t total = (size_t)n * ho * wo * k;
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)blockDim.x * gridDim.x) {
        const size_t row = idx / k;
        const int ck = (int)(idx - row * k);
        const int kx = ck % kw;
        const int ky = (ck / kw) % kh;
        const int ci = ck / (kw * kh);
        const int ox = (int)(row % wo);
        const int oy = (int)((row / wo) % ho);
        const size_t b = row / ((size_t)wo * ho);
        const int y = oy * stride - pad + ky;
        const int xx = ox * stride - pad + kx;
        col[idx] = (y >= 0 && y < h && xx >= 0 && xx < w)
            ? x[((b * c + ci) * h + y) * w + xx]
            : 0.0f;
    }
}
