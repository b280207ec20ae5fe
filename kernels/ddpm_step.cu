// DDPM ancestral step (Ho et al. 2020, Algorithm 2): x_{t-1} = mu_tilde(x0_hat, x_t) + sigma_t z.
// coef row: [1/sqrt(alpha), -beta/(sqrt(alpha) sqrt(1-abar)), sigma, 1/sqrt(abar), -sqrt(1-abar)/sqrt(abar),
//            posterior mean coef of x0, posterior mean coef of x_t, lo, hi];
// flags bit 0: z present, bit 1: clip x0_hat to [lo, hi].
// CPU twin: crates/velprior-kernels/src/ops/ddpm_step.rs. Shared signature: see q_sample.cu.

extern "C" __global__ void ddpm_step_f32(
    const float* __restrict__ x,
    const float* __restrict__ e,
    const float* __restrict__ z,
    const float* __restrict__ coef,
    float* __restrict__ out,
    const size_t sample_len,
    const size_t numel,
    const unsigned int flags)
{
    const bool has_z = (flags & 1u) != 0;
    VELPRIOR_FOR_EACH_ELEMENT(n, i) {
        const float* c = coef + 9 * n;
        float v;
        if (flags & 2u) {
            // x0_hat = clip((x - sqrt(1 - abar) e) / sqrt(abar)); mean = c0 x0_hat + c1 x
            const float x0 = fminf(fmaxf(c[3] * x[i] + c[4] * e[i], c[7]), c[8]);
            v = c[5] * x0 + c[6] * x[i];
        } else {
            v = c[0] * x[i] + c[1] * e[i];
        }
        if (has_z) v += c[2] * z[i];
        out[i] = v;
    }
}
