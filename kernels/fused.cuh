// Prologue of every kernels/*.cu, prepended at compile time (velprior_kernels::cuda::compile_ptx).
//
// The fused elementwise kernels share one signature: inputs (N, ...) flattened, `coef` holding one
// row of coefficients per sample n, `sample_len` elements per sample, `numel` in all. They are
// launched on a 2-D grid, x over the elements of a sample and y over the samples (both
// grid-stride), so the sample index n of element i needs no division.
#define VELPRIOR_FOR_EACH_ELEMENT(n, i)                                                   \
    for (size_t n = blockIdx.y; n * sample_len < numel; n += gridDim.y)                   \
        for (size_t i = n * sample_len + (size_t)blockIdx.x * blockDim.x + threadIdx.x;   \
             i < (n + 1) * sample_len; i += (size_t)blockDim.x * gridDim.x)
