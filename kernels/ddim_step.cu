// DDIM step (Song, Meng & Ermon 2021, eq. 12): x_{t'} = sqrt(abar') x0_hat + sqrt(1 - abar' - sigma^2) eps + sigma z.
// coef row: [A, B, sigma, 1/sqrt(abar), -sqrt(1-abar)/sqrt(abar), sqrt(abar'), c_dir, 1/sqrt(1-abar),
//            -sqrt(abar)/sqrt(1-abar), lo, hi]; flags bit 0: z present, bit 1: clip x0_hat.
// CPU twin: crates/velprior-kernels/src/ops/ddim_step.rs. Shared signature: see q_sample.cu.

extern "C" __global__ void ddim_step_f32(
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
        const float* c = coef + 11 * n;
        float v;
        if (flags & 2u) {
            // x0_hat clipped, eps recomputed from it, then sqrt(abar') x0_hat + c_dir eps'
            const float x0 = fminf(fmaxf(c[3] * x[i] + c[4] * e[i], c[9]), c[10]);
            const float e2 = c[7] * x[i] + c[8] * x0;
            v = c[5] * x0 + c[6] * e2;
        } else {
            v = c[0] * x[i] + c[1] * e[i];
        }
        if (has_z) v += c[2] * z[i];
        out[i] = v;
    }
}
