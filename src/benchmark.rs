//! `velprior benchmark`: the inversion benchmark of a config (test set × conditions × methods)
//! into a folder, resumable and shardable, ending with its table (summary.md, .csv, .json),
//! box plots of the SSIM (boxplots.png) and a grid of example inversions (examples.png).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use velprior_data::import::read_npy;
use velprior_data::render::{RenderOptions, render_grid, save_png};
use velprior_data::{RunDir, Shard};
use velprior_posterior::benchmark::{Benchmark, BenchmarkConfig, Record, model_file, plots, table};

use crate::progress;

#[derive(Debug, Args)]
pub struct BenchmarkArgs {
    /// TOML benchmark config (configs/benchmark-*.toml); unknown keys are rejected.
    #[arg(long, short)]
    config: PathBuf,
    /// Output folder; a rerun with the same config skips the inversions it holds.
    #[arg(long, short, default_value = "runs/benchmark")]
    out: PathBuf,
    /// Where the priors' networks run: cpu, cuda or cuda:N (the wave solver is on the CPU).
    #[arg(long, default_value = "cpu", value_parser = crate::parse::device)]
    device: velprior_kernels::DeviceSpec,
    /// Run only shard I of N (0-based) of the models (or read SLURM_ARRAY_TASK_ID /
    /// SLURM_ARRAY_TASK_COUNT); a final unsharded run with the same --out tabulates them all.
    #[arg(long)]
    shard: Option<Shard>,
}

/// Runs `velprior benchmark`.
pub fn run(a: BenchmarkArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("{}: cannot read config", a.config.display()))?;
    let cfg: BenchmarkConfig = velprior_data::toml_file::parse_toml(&text, &a.config)?;
    let benchmark = Benchmark::prepare(&cfg, &a.device.open()?)
        .with_context(|| a.config.display().to_string())?;
    let shard = Shard::resolve(a.shard)?;
    let run = RunDir::create(&a.out)?;
    let kept = run.path("config.toml");
    match std::fs::read_to_string(&kept) {
        Ok(old) if old == text => {}
        Ok(old) => {
            // A config that only adds methods keeps the folder's inversions and becomes its
            // config; any other change would mix inversions of two protocols.
            let extends = velprior_data::toml_file::parse_toml::<BenchmarkConfig>(&old, &kept)
                .is_ok_and(|old| cfg.extends(&old));
            if !extends {
                bail!(
                    "--out {} holds a benchmark of another config (a config may only add methods to it); use another --out or remove it",
                    a.out.display()
                );
            }
            std::fs::write(&kept, &text).with_context(|| format!("writing {}", kept.display()))?
        }
        Err(_) => {
            std::fs::write(&kept, &text).with_context(|| format!("writing {}", kept.display()))?
        }
    }
    let bar = progress::bar(0, "inversions");
    let records = benchmark.run(&a.out, shard, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let rows = table::rows(&records);
    let md = run.path("summary.md");
    std::fs::write(&md, table::markdown(&rows))?;
    std::fs::write(run.path("summary.csv"), table::csv(&rows))?;
    run.write_json("summary.json", &rows)?;
    draw_examples(&a.out, &cfg, &records)?;
    if let Some(img) = plots::ssim_box_plots(
        &records,
        &cfg.test_set
            .families
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>(),
        &cfg.condition
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>(),
        &cfg.method
            .iter()
            .map(|m| m.name.clone())
            .collect::<Vec<_>>(),
    ) {
        save_png(&run.path("boxplots.png"), &img)?;
    }
    println!(
        "benchmark: {} inversions in {}: {}",
        records.len(),
        a.out.display(),
        md.display()
    );
    Ok(())
}

/// examples.png: per family, its first model under the first condition — truth, start and
/// each method's result — when all of them are there.
fn draw_examples(out: &Path, cfg: &BenchmarkConfig, records: &[Record]) -> Result<()> {
    let condition = &cfg.condition[0].name;
    let [h, w] = cfg.test_set.size;
    let (mut tiles, mut captions) = (Vec::new(), Vec::new());
    for family in cfg.test_set.names() {
        let mut files = vec![
            ("truth".to_string(), model_file(&[&family, "0", "truth"])),
            ("start".to_string(), model_file(&[&family, "0", "start"])),
        ];
        for method in &cfg.method {
            let found = records.iter().any(|r| {
                r.family == family
                    && r.model == 0
                    && &r.condition == condition
                    && r.method == method.name
            });
            if !found {
                return Ok(());
            }
            let file = model_file(&[&family, "0", condition, &method.name]);
            files.push((method.name.clone(), file));
        }
        for (what, file) in files {
            tiles.extend(read_npy(&out.join("models").join(file))?.values);
            captions.push(format!("{family}: {what}"));
        }
    }
    let opts = RenderOptions {
        range: Some((cfg.vmin, cfg.vmax)),
        title: Some(format!(
            "truth, start and results under '{condition}' (m/s)"
        )),
        ..Default::default()
    };
    let cols = cfg.method.len() + 2;
    let img = render_grid(&tiles, [captions.len(), h, w], cols, &opts, Some(&captions))?;
    save_png(&out.join("examples.png"), &img)?;
    Ok(())
}
