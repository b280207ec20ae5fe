//! Adam (Kingma & Ba 2015, Algorithm 1) with bias correction.

/// Adam state for a parameter vector.
#[derive(Debug, Clone)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    /// Adam with step size `lr` (units of the parameters) for `n` parameters.
    pub fn new(n: usize, lr: f32, beta1: f32, beta2: f32, eps: f32) -> Self {
        Self {
            lr,
            beta1,
            beta2,
            eps,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// x ← x − lr·m̂/(√v̂ + ε).
    pub fn step(&mut self, x: &mut [f32], g: &[f32]) {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for (((xi, gi), mi), vi) in x.iter_mut().zip(g).zip(&mut self.m).zip(&mut self.v) {
            *mi = b1 * *mi + (1.0 - b1) * gi;
            *vi = b2 * *vi + (1.0 - b2) * gi * gi;
            *xi -= self.lr * (*mi / c1) / ((*vi / c2).sqrt() + self.eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_minimises_a_quadratic() {
        let mut x = vec![3.0f32, -2.0];
        let mut opt = Adam::new(2, 0.1, 0.9, 0.999, 1e-8);
        for _ in 0..500 {
            let g: Vec<f32> = x
                .iter()
                .zip([1.0f32, 10.0])
                .map(|(x, a)| 2.0 * a * (x - 1.0))
                .collect();
            opt.step(&mut x, &g);
        }
        assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-2), "{x:?}");
    }
}
