//! A prior trained on small windows applied to wider models: the model is cut into
//! overlapping windows, the windows are denoised as one batch, and the predictions are
//! averaged where windows overlap (RED-DiffEq applies its 70×70 prior to 70×190 Marmousi so).

use candle_core::{Device, Tensor};
use velprior_diffusion::prior::{Prior, PriorForm};
use velprior_diffusion::{Denoiser, NoiseLevel};

use crate::{PosteriorError, Result};

/// Window start offsets covering `len` with windows of `window` every ≤ `stride`; the last
/// window ends at `len`.
pub fn window_starts(len: usize, window: usize, stride: usize) -> Vec<usize> {
    if len <= window {
        return vec![0];
    }
    let mut starts: Vec<usize> = (0..len - window).step_by(stride.max(1)).collect();
    starts.push(len - window);
    starts
}

/// A [`Denoiser`] on (N, C, H, W) built from one trained on (N, C, h, w) windows, h ≤ H, w ≤ W:
/// ε̂ is the overlap average of the windows' ε̂. Differentiable (candle ops only), so DPS can
/// take gradients through it.
pub struct PatchDenoiser<'a> {
    inner: &'a dyn Denoiser,
    window: [usize; 2],
    stride: [usize; 2],
}

impl<'a> PatchDenoiser<'a> {
    /// What a loaded `prior` needs to act on models of `shape`: nothing when they have its own
    /// size, windows every `stride` cells when a diffusion prior's windows are smaller, and an
    /// error otherwise (only a diffusion prior covers a larger model).
    pub fn for_model(
        prior: &'a dyn Prior,
        shape: [usize; 2],
        stride: [usize; 2],
    ) -> Result<Option<PatchDenoiser<'a>>> {
        let window = prior.meta().model_shape;
        match prior.form() {
            _ if window == shape => Ok(None),
            PriorForm::Denoiser { denoiser, .. } => {
                Ok(Some(PatchDenoiser::new(denoiser, window, stride)?))
            }
            _ => Err(PosteriorError::invalid(format!(
                "the prior models {}x{} but the model is {}x{}; only a diffusion prior covers a \
                 larger model (by overlapping windows)",
                window[0], window[1], shape[0], shape[1]
            ))),
        }
    }

    /// Windows of `window` = (h, w) every `stride` = (sz, sx) cells (the last one flush with
    /// the edge).
    pub fn new(inner: &'a dyn Denoiser, window: [usize; 2], stride: [usize; 2]) -> Result<Self> {
        if window.contains(&0) || stride.contains(&0) {
            return Err(PosteriorError::invalid(format!(
                "patches: window {window:?} and stride {stride:?} must be > 0"
            )));
        }
        Ok(PatchDenoiser {
            inner,
            window,
            stride,
        })
    }

    fn windows(&self, h: usize, w: usize) -> Result<Vec<(usize, usize)>> {
        let [ph, pw] = self.window;
        if h < ph || w < pw {
            return Err(PosteriorError::invalid(format!(
                "patches: model {h}x{w} is smaller than the prior's window {ph}x{pw}"
            )));
        }
        let zs = window_starts(h, ph, self.stride[0]);
        let xs = window_starts(w, pw, self.stride[1]);
        Ok(zs
            .iter()
            .flat_map(|&z| xs.iter().map(move |&x| (z, x)))
            .collect())
    }

    /// How many windows cover each cell, (1, 1, H, W).
    fn coverage(&self, h: usize, w: usize, device: &Device) -> Result<Tensor> {
        let [ph, pw] = self.window;
        let mut c = vec![0f32; h * w];
        for (z0, x0) in self.windows(h, w)? {
            for z in z0..z0 + ph {
                c[z * w + x0..z * w + x0 + pw]
                    .iter_mut()
                    .for_each(|v| *v += 1.0);
            }
        }
        Ok(Tensor::from_vec(c, (1, 1, h, w), device)?)
    }

    /// ε̂ of x_t (N, C, H, W), averaged over overlapping windows.
    pub fn predict(&self, x_t: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
        let (n, _c, h, w) = x_t.dims4()?;
        let [ph, pw] = self.window;
        if [h, w] == self.window {
            return Ok(self.inner.predict_eps(x_t, levels)?);
        }
        let windows = self.windows(h, w)?;
        let crops = windows
            .iter()
            .map(|&(z, x)| Ok(x_t.narrow(2, z, ph)?.narrow(3, x, pw)?))
            .collect::<Result<Vec<_>>>()?;
        let batch = Tensor::cat(&crops, 0)?;
        let all_levels: Vec<NoiseLevel> = windows.iter().flat_map(|_| levels.to_vec()).collect();
        let eps = self.inner.predict_eps(&batch, &all_levels)?;
        let mut sum: Option<Tensor> = None;
        for (k, &(z, x)) in windows.iter().enumerate() {
            let placed = eps
                .narrow(0, k * n, n)?
                .pad_with_zeros(2, z, h - z - ph)?
                .pad_with_zeros(3, x, w - x - pw)?;
            sum = Some(match sum {
                None => placed,
                Some(s) => (s + placed)?,
            });
        }
        let sum = sum.expect("at least one window");
        Ok(sum.broadcast_div(&self.coverage(h, w, x_t.device())?)?)
    }
}

impl Denoiser for PatchDenoiser<'_> {
    fn device(&self) -> &Device {
        self.inner.device()
    }

    fn predict_eps(
        &self,
        x_t: &Tensor,
        levels: &[NoiseLevel],
    ) -> velprior_diffusion::Result<Tensor> {
        self.predict(x_t, levels)
            .map_err(|e| velprior_diffusion::DiffusionError::invalid(e.to_string()))
    }
}
