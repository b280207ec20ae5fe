//! `velprior merge`: joins the shard folders of one sharded run (`velprior sample`,
//! `velprior forward`, `velprior posterior`, `velprior memorization sweep` with `--shard I/N`) into the output an
//! unsharded run would have written, after checking that every shard is present and complete.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use velprior_data::ShardSet;

use crate::{forward, memorization, posterior, sample};

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard folders (`shard-I-of-N`), or the `<output>.shards` folder holding them.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// Folder to write the merged run into (samples.h5 for `sample`; the data file, named as
    /// the sharded output, for `forward`; the run folder for
    /// `posterior` and `memorization sweep`).
    #[arg(long)]
    out: PathBuf,
}

/// Runs `velprior merge`.
pub fn run(a: MergeArgs) -> Result<()> {
    let shards = ShardSet::collect(&a.shards)?;
    match shards.run().kind.as_str() {
        sample::SHARD_KIND => sample::merge(&shards, &a.out),
        forward::SHARD_KIND => forward::merge(&shards, &a.out),
        posterior::SHARD_KIND => posterior::merge(&shards, &a.out),
        memorization::SHARD_KIND => memorization::merge(&shards, &a.out),
        other => bail!(
            "{}: shards of `{other}`, which velprior merge does not know; merge them with the \
             velprior version that wrote them",
            shards.dirs[0].display()
        ),
    }
}
