// Forward noising q(x_t | x_0) (Ho et al. 2020, eq. 4): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
// CPU twin: crates/velprior-kernels/src/ops/q_sample.rs.
//
// Shared signature of velprior's fused kernels: inputs (N, ...) flattened, `coef` holds one row
// of coefficients per sample n; the loop over (n, i) is kernels/fused.cuh's.
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
    VELPRIOR_FOR_EACH_ELEMENT(n, i) {
        out[i] = coef[2 * n] * x0[i] + coef[2 * n + 1] * eps[i];
    }
}
