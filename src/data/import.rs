//! `velprior data import`: a .npy, raw f32 or SEG-Y file into the HDF5 corpus format.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use velprior_data::import::{Format, ImportOptions, RawLayout, guess_format, import};
use velprior_data::transform::PatchSpec;
use velprior_data::write_corpus;

use crate::parse;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum InputFormat {
    /// NumPy .npy (C or Fortran order, float or integer).
    Npy,
    /// Raw little-endian f32 of one model; needs --shape and --layout.
    Raw,
    /// SEG-Y rev 1 (IBM or IEEE floats), one trace per column.
    Segy,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Layout {
    /// Traces (columns of H depth samples) are contiguous, as in marmousi_vp.bin.
    DepthFastest,
    /// Rows (W lateral samples) are contiguous: row-major (H, W).
    LateralFastest,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Input file (.npy, .sgy/.segy, or raw with --format raw).
    input: PathBuf,
    /// Output HDF5 file.
    #[arg(long, short)]
    output: PathBuf,
    /// Input format; guessed from the extension when omitted.
    #[arg(long, value_enum)]
    format: Option<InputFormat>,
    /// Model size HxW of a raw file (e.g. 751x2301 for marmousi_vp.bin).
    #[arg(long, value_parser = parse::size)]
    shape: Option<[usize; 2]>,
    /// Sample order of a raw file.
    #[arg(long, value_enum, default_value = "depth-fastest")]
    layout: Layout,
    /// Spacing of the input in m: D or DX,DZ (default 10).
    #[arg(long, value_parser = parse::spacing)]
    spacing: Option<(f64, f64)>,
    /// Resample to this spacing in m (both axes) before cutting patches.
    #[arg(long)]
    resample_to: Option<f64>,
    /// Clip velocities to MIN,MAX m/s (e.g. 1500,4500).
    #[arg(long, value_parser = parse::range)]
    clip: Option<(f32, f32)>,
    /// Cut patches HxW (stride = size) or HxW/SZxSX from every model.
    #[arg(long, value_parser = parse::patch)]
    patch: Option<PatchSpec>,
}

/// Runs `velprior data import`.
pub fn run(a: ImportArgs) -> Result<()> {
    let format = match a.format {
        Some(InputFormat::Npy) => Format::Npy,
        Some(InputFormat::Segy) => Format::Segy,
        Some(InputFormat::Raw) => {
            let Some(shape) = a.shape else {
                bail!(
                    "{}: a raw file needs its model size: add --shape HxW",
                    a.input.display()
                );
            };
            let layout = match a.layout {
                Layout::DepthFastest => RawLayout::DepthFastest,
                Layout::LateralFastest => RawLayout::LateralFastest,
            };
            Format::RawF32 { shape, layout }
        }
        None => guess_format(&a.input).with_context(|| {
            format!(
                "{}: cannot tell the format from the extension; add --format npy|raw|segy",
                a.input.display()
            )
        })?,
    };
    let options = ImportOptions {
        spacing: a.spacing,
        resample_to: a.resample_to,
        clip: a.clip,
        patches: a.patch,
    };
    let corpus = import(&a.input, &format, &options)?;
    write_corpus(&a.output, &corpus)?;
    let [n, h, w] = corpus.shape();
    tracing::info!("wrote {n} models of {h}x{w} to {}", a.output.display());
    Ok(())
}
