// v-parameterisation (Salimans & Ho 2022): v target, eps from v and x0 from v are all
// out = a p + b q with per-sample (a, b).
// CPU twin: crates/velprior-kernels/src/ops/v_param.rs. Shared signature: see q_sample.cu.
// coef row: [a, b].

extern "C" __global__ void v_param_f32(
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
