//! The alternating method (reverse diffusion steps with FWI steps on x̂_0) on a well-posed
//! linear problem with noise-free data: started at the prior mean, it must end closer to the
//! model that explains the data (how much closer depends on its FWI step budget, not on a known
//! answer). Catches FWI steps of the wrong sign or a chain that drops the data steps.

mod common;

use common::*;

use velprior_posterior::NoObserver;
use velprior_posterior::alternating::{AlternatingConfig, alternating};

#[test]
fn alternating_fits_a_linear_problem() {
    let c = linear_case();
    let problem = problem_1000_to_3000(&c.op, &c.observed, 0.01);
    let cfg = AlternatingConfig {
        steps: 50,
        t0: 0.5,
        fwi_steps: 5,
        lr: 0.02,
        eta: 0.0,
        samples: 2,
    };
    let schedule = velprior_kernels::Schedule::cosine(1000).unwrap();
    let out = alternating(
        &c.oracle,
        &problem,
        &schedule,
        &c.start,
        &cfg,
        3,
        &mut NoObserver,
    )
    .unwrap();
    let before = distance(&c.start, &c.truth);
    for x in out.chunks(4) {
        let after = distance(x, &c.truth);
        assert!(after < before, "error {before} -> {after} ({x:?})");
    }
}
