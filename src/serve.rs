//! `velprior serve`: the local web dashboard over a runs folder.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

/// Arguments of `velprior serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Folder holding the run folders (each with config, metrics.jsonl, summary.json, PNGs).
    #[arg(default_value = "runs")]
    pub runs_dir: PathBuf,
    /// TCP port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to bind; the default serves this machine only.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Where the playground's and Boomerang's networks run: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu", value_parser = crate::parse::device)]
    pub device: velprior_kernels::DeviceSpec,
}

/// Serves the dashboard until interrupted.
pub fn run(args: ServeArgs) -> Result<()> {
    let device = args.device.open()?;
    eprintln!(
        "velprior dashboard for {} at http://{}:{}/ (Ctrl-C to stop)",
        args.runs_dir.display(),
        args.bind,
        args.port
    );
    velprior_dashboard::serve(
        &args.runs_dir,
        SocketAddr::new(args.bind, args.port),
        &device,
    )?;
    Ok(())
}
