// AdamW (Loshchilov & Hutter 2019, Alg. 2) of one parameter tensor as three fused passes, with
// g <- s g (gradient clipping) inside each:
//   flags 0: m' = b1 m + (1 - b1) (s g)                          coef [b1, 1 - b1, s]
//   flags 1: v' = b2 v + (1 - b2) (s g)^2                        coef [b2, 1 - b2, s]
//   flags 2: p' = decay p - lr (m' ib1) / (sqrt(v' ib2) + eps)   coef [decay, lr, ib1, ib2, eps]
// The coef row has 5 entries in every pass (one sample: the whole tensor).
// CPU twin: crates/velprior-kernels/src/ops/adamw.rs (same passes; src/cpu/adamw.rs is one pass).

extern "C" __global__ void adamw_f32(
    const float* __restrict__ a,
    const float* __restrict__ b,
    const float* __restrict__ v2,
    const float* __restrict__ coef,
    float* __restrict__ out,
    const size_t sample_len,
    const size_t numel,
    const unsigned int flags)
{
    VELPRIOR_FOR_EACH_ELEMENT(n, i) {
        const float* c = coef + 5 * n;
        float r;
        if (flags == 2u) {
            r = c[0] * a[i] - c[1] * (b[i] * c[2]) / (sqrtf(v2[i] * c[3]) + c[4]);
        } else {
            const float g = c[2] * b[i];
            r = (flags == 1u) ? c[0] * a[i] + c[1] * g * g : c[0] * a[i] + c[1] * g;
        }
        out[i] = r;
    }
}
