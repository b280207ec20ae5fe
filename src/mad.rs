//! `velprior mad`: self-consuming training loops (fully synthetic, fixed-real, fresh-real) and
//! the k-NN precision and recall of each generation against held-out real models.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use velprior_memorization::mad::{MadConfig, MadPoint, run_mad};

/// `velprior mad --config …`.
#[derive(Debug, Args)]
pub struct MadArgs {
    /// MAD-loop config (TOML), e.g. configs/mad.toml.
    #[arg(long)]
    config: PathBuf,
}

/// Runs `velprior mad`.
pub fn run(a: MadArgs) -> Result<()> {
    let cfg = MadConfig::load(&a.config)?;
    println!("loop  generation  real  synthetic  precision  recall  seconds");
    let summary = run_mad(&cfg, &mut print_point)?;
    let r = summary.real_reference;
    println!(
        "real training models: precision {:.3} recall {:.3} (k = {}); wrote {}",
        r.precision,
        r.recall,
        r.k,
        cfg.output.display()
    );
    Ok(())
}

/// Prints one generation's line of the table.
fn print_point(p: &MadPoint) {
    println!(
        "{}  {}  {}  {}  {:.3}  {:.3}  {:.0}",
        p.loop_kind.name(),
        p.generation,
        p.real_models,
        p.synthetic_models,
        p.scores.precision,
        p.scores.recall,
        p.seconds
    );
}
