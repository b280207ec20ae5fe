//! `velprior export`: the EMA weights of a diffusion checkpoint, with its metadata, as the
//! smaller checkpoint a prior is shipped as (what `priors/*/prior.safetensors` are).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use velprior_diffusion::export::export_ema;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Training checkpoint (`checkpoint.safetensors` of a `velprior train` run).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Where to write the prior (and its `.json` metadata copy).
    #[arg(long, short)]
    output: PathBuf,
}

/// Runs `velprior export`.
pub fn run(a: ExportArgs) -> Result<()> {
    let parameters = export_ema(&a.checkpoint, &a.output)?;
    tracing::info!(
        "wrote the EMA weights ({parameters} parameters) of {} to {}",
        a.checkpoint.display(),
        a.output.display()
    );
    Ok(())
}
