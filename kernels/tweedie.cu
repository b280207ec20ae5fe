// Tweedie's formula: x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t), with p = x_t, q = eps.
// CPU twin: crates/velprior-kernels/src/ops/tweedie.rs. Shared signature: see q_sample.cu.
// coef row: [1/sqrt(abar_t), -sqrt(1 - abar_t)/sqrt(abar_t)].

extern "C" __global__ void tweedie_x0_f32(
    const float* __restrict__ p,
    const float* __restrict__ q,
    const float* __restrict__ unused,
    const float* __restrict__ coef,
    float* __restrict__ out,
    const size_t sample_len,
    const size_t numel,
    const unsigned int flags)
{
    VELPRIOR_FOR_EACH_ELEMENT(n, i) {
        out[i] = coef[2 * n] * p[i] + coef[2 * n + 1] * q[i];
    }
}
