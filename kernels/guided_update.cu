// DPS guided update (Chung et al. 2023): x <- x - zeta g / ||r||, with p = x, q = g.
// CPU twin: crates/velprior-kernels/src/ops/guided_update.rs. Shared signature: see q_sample.cu.
// coef row: [1, -zeta/||r||].

extern "C" __global__ void guided_update_f32(
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
