//! Respacing: sampling with a subset of the training timesteps (Song et al. 2021, "Denoising
//! Diffusion Implicit Models", §4.2; Nichol & Dhariwal 2021, §4, `space_timesteps`).
//!
//! Keeping timesteps τ_0 < τ_1 < … < τ_{S−1} of a T-step schedule defines an S-step schedule with
//! the same marginals: ᾱ'_i = ᾱ_{τ_i} and β'_i = 1 − ᾱ_{τ_i} / ᾱ_{τ_{i−1}} (ᾱ_{τ_{−1}} = 1).
//! The DDPM and DDIM steps then run on the respaced schedule unchanged, and the denoiser is called
//! with the training timestep τ_i ([`Schedule::model_timestep`]).

use crate::{Error, Result, Schedule};

impl Schedule {
    /// The schedule restricted to `use_timesteps`, strictly increasing indices into this schedule.
    pub fn respace(&self, use_timesteps: &[usize]) -> Result<Schedule> {
        if use_timesteps.is_empty() {
            return Err(Error::InvalidSchedule(
                "respacing needs at least one timestep".into(),
            ));
        }
        for w in use_timesteps.windows(2) {
            if w[0] >= w[1] {
                return Err(Error::InvalidSchedule(format!(
                    "respaced timesteps must be strictly increasing, got {} then {}",
                    w[0], w[1]
                )));
            }
        }
        let last = *use_timesteps.last().unwrap_or(&0);
        self.check(last)?;
        let log_ab = self.log_alphas_cumprod();
        let mut prev = 0.0f64;
        let betas = use_timesteps
            .iter()
            .map(|&t| {
                // β' = 1 − ᾱ_t / ᾱ_prev = −expm1(ln ᾱ_t − ln ᾱ_prev)
                let b = -(log_ab[t] - prev).exp_m1();
                prev = log_ab[t];
                b
            })
            .collect();
        let map = use_timesteps
            .iter()
            .map(|&t| self.model_timesteps()[t])
            .collect();
        Schedule::from_betas(self.kind().clone(), self.num_train_timesteps(), map, betas)
    }
}

/// `num_steps` timesteps of a `num_train_timesteps` schedule, evenly spaced and including both
/// ends 0 and T − 1 (improved-diffusion's `space_timesteps(T, "ddimN")`-like, rounded).
pub fn uniform_timesteps(num_train_timesteps: usize, num_steps: usize) -> Result<Vec<usize>> {
    check_counts(num_train_timesteps, num_steps)?;
    if num_steps == 1 {
        return Ok(vec![num_train_timesteps - 1]);
    }
    let stride = (num_train_timesteps - 1) as f64 / (num_steps - 1) as f64;
    Ok((0..num_steps)
        .map(|i| (i as f64 * stride).round() as usize)
        .collect())
}

/// `num_steps` timesteps spaced quadratically (dense near t = 0), as in the DDIM paper's CIFAR-10
/// setting: τ_i = ⌊(i · √(0.8 T) / (S − 1))²⌋, made strictly increasing.
pub fn quadratic_timesteps(num_train_timesteps: usize, num_steps: usize) -> Result<Vec<usize>> {
    check_counts(num_train_timesteps, num_steps)?;
    if num_steps == 1 {
        return Ok(vec![num_train_timesteps - 1]);
    }
    let top = (0.8 * num_train_timesteps as f64).sqrt();
    let mut out: Vec<usize> = Vec::with_capacity(num_steps);
    for i in 0..num_steps {
        let v = (i as f64 * top / (num_steps - 1) as f64).powi(2).floor() as usize;
        let v = match out.last() {
            Some(&p) if v <= p => p + 1,
            _ => v,
        };
        out.push(v.min(num_train_timesteps - 1));
    }
    if out.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::InvalidSchedule(format!(
            "cannot place {num_steps} quadratic steps in {num_train_timesteps} timesteps"
        )));
    }
    Ok(out)
}

/// The smallest log-SNR [`log_snr_timesteps`] spaces steps down to (diffusers'
/// `lambda_min_clipped`): below it (t ≳ 0.98 T on the cosine schedule, where λ falls to −10)
/// x̂_0 barely changes, and evenly spaced steps there are wasted.
pub const LOG_SNR_MIN: f64 = -5.1;

/// `num_steps` timesteps of `schedule` evenly spaced in log-SNR λ = ½ ln(ᾱ/(1 − ᾱ)) (the spacing
/// DPM-Solver takes, Lu et al. 2022, §3.3): the timestep nearest each of S evenly spaced λ from
/// λ(0) to max(λ(T − 1), [`LOG_SNR_MIN`]), the last replaced by T − 1 (sampling starts from
/// pure noise), made strictly increasing.
pub fn log_snr_timesteps(schedule: &Schedule, num_steps: usize) -> Result<Vec<usize>> {
    let t_max = schedule.len();
    check_counts(t_max, num_steps)?;
    if num_steps == 1 {
        return Ok(vec![t_max - 1]);
    }
    let lambda: Vec<f64> = schedule
        .tables_f64()
        .alphas_cumprod
        .iter()
        .map(|&ab| 0.5 * (ab / (1.0 - ab)).ln())
        .collect();
    let (hi, lo) = (lambda[0], lambda[t_max - 1].max(LOG_SNR_MIN));
    // λ falls with t, so the timestep nearest a target is found by a binary search.
    let nearest = |target: f64| {
        let i = lambda.partition_point(|&l| l > target);
        match i {
            0 => 0,
            i if i == t_max => t_max - 1,
            i if lambda[i - 1] - target < target - lambda[i] => i - 1,
            i => i,
        }
    };
    let mut out: Vec<usize> = (0..num_steps)
        .map(|i| nearest(hi + (lo - hi) * i as f64 / (num_steps - 1) as f64))
        .collect();
    for i in 1..num_steps {
        out[i] = out[i].max(out[i - 1] + 1);
    }
    out[num_steps - 1] = t_max - 1;
    for i in (0..num_steps - 1).rev() {
        out[i] = out[i].min(out[i + 1] - 1);
    }
    Ok(out)
}

fn check_counts(num_train_timesteps: usize, num_steps: usize) -> Result<()> {
    if num_steps == 0 || num_steps > num_train_timesteps {
        return Err(Error::InvalidSchedule(format!(
            "cannot take {num_steps} steps out of {num_train_timesteps} timesteps"
        )));
    }
    Ok(())
}
