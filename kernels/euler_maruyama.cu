// Reverse-time Euler-Maruyama step of the VP-SDE (Song et al. 2021, eq. 6):
// x <- (1 + beta dt / 2) x - (beta dt / sigma(t)) eps + sqrt(beta dt) z.
// coef row: [1 + beta dt / 2, -beta dt / sigma(t), sqrt(beta dt)]; flags bit 0: z present.
// CPU twin: crates/velprior-kernels/src/ops/euler_maruyama.rs. Shared signature: see q_sample.cu.

extern "C" __global__ void euler_maruyama_f32(
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
        const float* c = coef + 3 * n;
        float v = c[0] * x[i] + c[1] * e[i];
        if (has_z) v += c[2] * z[i];
        out[i] = v;
    }
}
