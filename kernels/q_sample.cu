// Forward noising q(x_t | x_0) (Ho et al. 2020, eq. 4): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
// CPU twin: crates/velprior-kernels/src/ops/q_sample.rs.
//
// Shared signature of velprior's fused kernels: inputs (N, ...) flattened, `coef` holds one row
// of coefficients per sample n = i / sample_len, grid-stride loop over numel.
// coef row: [sqrt(abar_t), sqrt(1 - abar_t)].

extern "C" __global__ void q_sample_f32(
    const float* __restrict__ x0,
    const float* __restrict__ eps,
    const float* __restrict__ unused,
    const float* __restrict__ coef,
    float* __restrict__ out,
    const size_t sample_len,
    const size_t numel,
    const unsigned int flags)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < numel;
         i += (size_t)blockDim.x * gridDim.x) {
        const size_t n = i / sample_len;
        out[i] = coef[2 * n] * x0[i] + coef[2 * n + 1] * eps[i];
    }
}
