//! Projected L-BFGS (Nocedal & Wright 2006, Algorithm 7.4 two-loop recursion) with a
//! backtracking Armijo line search; box bounds by projection after each trial step.

use std::collections::VecDeque;

/// L-BFGS memory.
#[derive(Debug, Clone)]
pub struct Lbfgs {
    history: usize,
    s: VecDeque<Vec<f32>>,
    y: VecDeque<Vec<f32>>,
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

impl Lbfgs {
    /// Memory of `history` pairs.
    pub fn new(history: usize) -> Self {
        Self {
            history: history.max(1),
            s: VecDeque::new(),
            y: VecDeque::new(),
        }
    }

    /// True before the first curvature pair is stored.
    pub fn is_empty(&self) -> bool {
        self.s.is_empty()
    }

    /// Search direction −H·g (two-loop recursion, H₀ = γI with γ = sᵀy / yᵀy).
    pub fn direction(&self, g: &[f32]) -> Vec<f32> {
        let mut q: Vec<f64> = g.iter().map(|&x| f64::from(x)).collect();
        let k = self.s.len();
        let mut alpha = vec![0.0; k];
        let rho: Vec<f64> = (0..k).map(|i| 1.0 / dot(&self.y[i], &self.s[i])).collect();
        for i in (0..k).rev() {
            alpha[i] = rho[i]
                * self.s[i]
                    .iter()
                    .zip(&q)
                    .map(|(s, q)| f64::from(*s) * q)
                    .sum::<f64>();
            q.iter_mut()
                .zip(&self.y[i])
                .for_each(|(q, y)| *q -= alpha[i] * f64::from(*y));
        }
        let gamma = if k > 0 {
            dot(&self.s[k - 1], &self.y[k - 1]) / dot(&self.y[k - 1], &self.y[k - 1])
        } else {
            1.0
        };
        q.iter_mut().for_each(|q| *q *= gamma);
        for i in 0..k {
            let beta = rho[i]
                * self.y[i]
                    .iter()
                    .zip(&q)
                    .map(|(y, q)| f64::from(*y) * q)
                    .sum::<f64>();
            q.iter_mut()
                .zip(&self.s[i])
                .for_each(|(q, s)| *q += (alpha[i] - beta) * f64::from(*s));
        }
        q.iter().map(|&x| -x as f32).collect()
    }

    /// Store the pair (s = x₊ − x, y = g₊ − g) if it has positive curvature.
    pub fn update(&mut self, s: Vec<f32>, y: Vec<f32>) {
        if dot(&s, &y) > 1e-12 * dot(&y, &y).max(1e-30) {
            if self.s.len() == self.history {
                self.s.pop_front();
                self.y.pop_front();
            }
            self.s.push_back(s);
            self.y.push_back(y);
        }
    }
}

/// Objective: x ↦ (f, ∂f/∂x).
pub type Objective<'a, E> = &'a mut dyn FnMut(&[f32]) -> Result<(f64, Vec<f32>), E>;

/// One projected L-BFGS iteration on `f` from (x, fx, g): direction, backtracking line search
/// (Armijo c = 1e-4, halving, at most 10 trials), curvature update. `first_step` scales the
/// first direction to a largest change of that size. Returns the accepted (x, f, g), or the
/// old point if no decrease was found.
pub fn lbfgs_iteration<E>(
    mem: &mut Lbfgs,
    x: &[f32],
    fx: f64,
    g: &[f32],
    first_step: f32,
    project: &dyn Fn(&mut [f32]),
    f: Objective<E>,
) -> Result<(Vec<f32>, f64, Vec<f32>), E> {
    let mut d = mem.direction(g);
    if mem.is_empty() {
        let m = d.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-30);
        d.iter_mut().for_each(|v| *v *= first_step / m);
    }
    let mut alpha = 1.0f32;
    for _ in 0..10 {
        let mut xn: Vec<f32> = x.iter().zip(&d).map(|(a, b)| a + alpha * b).collect();
        project(&mut xn);
        let step: Vec<f32> = xn.iter().zip(x).map(|(a, b)| a - b).collect();
        let (fn_, gn) = f(&xn)?;
        if fn_ <= fx + 1e-4 * dot(g, &step) && fn_.is_finite() {
            let y: Vec<f32> = gn.iter().zip(g).map(|(a, b)| a - b).collect();
            mem.update(step, y);
            return Ok((xn, fn_, gn));
        }
        alpha *= 0.5;
    }
    Ok((x.to_vec(), fx, g.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lbfgs_minimises_an_ill_conditioned_quadratic() {
        let a = [1.0f64, 100.0, 10.0];
        let mut fun = |x: &[f32]| -> Result<(f64, Vec<f32>), ()> {
            let f = x
                .iter()
                .zip(a)
                .map(|(x, a)| a * (f64::from(*x) - 1.0).powi(2))
                .sum();
            Ok((
                f,
                x.iter()
                    .zip(a)
                    .map(|(x, a)| (2.0 * a * (f64::from(*x) - 1.0)) as f32)
                    .collect(),
            ))
        };
        let mut x = vec![0.0f32; 3];
        let (mut fx, mut g) = fun(&x).unwrap();
        let mut mem = Lbfgs::new(5);
        for _ in 0..30 {
            (x, fx, g) = lbfgs_iteration(&mut mem, &x, fx, &g, 0.5, &|_| {}, &mut fun).unwrap();
        }
        assert!(fx < 1e-8, "{fx} at {x:?}");
    }
}
