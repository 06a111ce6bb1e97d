//! `dae bench`: the kernel tables, a training step and its profile, and
//! (`--compare`) each preset's warm epoch.

use std::path::PathBuf;

use clap::Args;

use super::{open_gpu, tuning_lines};
use dae::data::{Dataset, DatasetName};
use dae::gpu::Gpu;

#[derive(Args)]
pub struct BenchArgs {
    /// Timed repetitions per row, the median reported [default: 7; with
    /// --compare, timed epochs per preset: 3].
    #[arg(long)]
    reps: Option<usize>,
    /// Also time each dispatch of the training step (of --step-preset), and
    /// sum them by kernel: GPU time from timestamp queries where the adapter
    /// has TIMESTAMP_QUERY, host wall time elsewhere (the output says which).
    #[arg(long, conflicts_with = "compare")]
    profile: bool,
    /// With --profile: time each dispatch by host wall time even where the
    /// adapter has GPU timestamp queries.
    #[arg(long, requires = "profile")]
    host_timing: bool,
    /// The preset whose training step is timed (and profiled), at its own
    /// batch size [default: mlp-dae].
    #[arg(long, value_name = "PRESET", conflicts_with = "compare")]
    step_preset: Option<String>,
    /// Skip the matmul table (time only the training step).
    #[arg(long, conflicts_with = "compare")]
    step_only: bool,
    /// Time a warm training epoch (and its test pass) of each preset, as
    /// `dae train` runs it, in samples/s; benches/compare.py sets the same
    /// models beside Keras or PyTorch.
    #[arg(long)]
    compare: bool,
    /// With --compare: the presets to time, comma-separated [default: all].
    #[arg(long, value_delimiter = ',', requires = "compare")]
    presets: Vec<String>,
    /// With --compare: train on the first N training images of each preset
    /// (and a proportionate part of the test set) [default: 2048, fashion-cae 200].
    #[arg(long, value_name = "N", requires = "compare")]
    train_limit: Option<usize>,
    /// With --compare: print one JSON object instead of the table (progress
    /// goes to stderr).
    #[arg(long, requires = "compare")]
    json: bool,
    /// Folder holding mnist/ and fashion-mnist/ (default: ./data, or $DAE_DATA).
    #[arg(long)]
    data: Option<PathBuf>,
}

/// Runs of the step (timestamps) or copies of each dispatch (host wall
/// time) behind each `--profile` figure.
const PROFILE_REPS: usize = 10;

pub fn bench(a: BenchArgs) -> anyhow::Result<()> {
    if a.compare {
        return bench_compare(a);
    }
    let reps = a.reps.unwrap_or(7);
    if reps == 0 || reps > 1000 {
        anyhow::bail!("--reps must be between 1 and 1000, got {reps}");
    }
    let preset = a.step_preset.as_deref().unwrap_or("mlp-dae");
    let batch = dae::nn::presets::preset(preset)
        .map_err(|e| anyhow::anyhow!("--step-preset: {e}"))?
        .batch_size;
    let root = a.data.unwrap_or_else(Dataset::default_root);
    // Every preset takes 28x28 images: MNIST serves them all for timing.
    let data = Dataset::load(&root, DatasetName::Mnist)?;
    let gpu = open_gpu()?;
    println!("{}", adapter_line(&gpu));
    if !a.step_only {
        let rows = dae::bench::matmul_rows(&gpu, reps)?;
        dae::bench::print_table(&rows);
        println!();
        let rows = dae::bench::conv_rows(&gpu, reps)?;
        dae::bench::print_table(&rows);
        println!();
    }
    let step = dae::bench::bench_step(&gpu, preset, batch, reps, &data)?;
    dae::bench::print_table(&[step]);
    println!("{}", tuning_lines(&gpu));
    if a.profile {
        println!("\n{preset} training step at batch {batch}, per dispatch:");
        let choice = if a.host_timing {
            dae::gpu::TimingChoice::Host
        } else {
            dae::gpu::TimingChoice::Auto
        };
        let p = dae::bench::profile_step(&gpu, preset, batch, PROFILE_REPS, choice, &data)?;
        dae::bench::print_profile(&p, PROFILE_REPS);
    }
    Ok(())
}

/// The adapter and its driver, which every figure names, and the driver
/// note of `dae info` where there is one.
fn adapter_line(gpu: &Gpu) -> String {
    let line = format!(
        "adapter: {} ({:?}, {:?}), driver {}",
        gpu.info.name, gpu.info.backend, gpu.info.device_type, gpu.info.driver_info
    );
    match gpu.driver_note() {
        Some(n) => format!("{line}\nnote: {n}"),
        None => line,
    }
}

/// `dae bench --compare`: the options are checked and the data loaded
/// before the GPU opens; progress lines go to stderr so that `--json`
/// leaves stdout to one JSON object.
fn bench_compare(a: BenchArgs) -> anyhow::Result<()> {
    let mut o = dae::bench::CompareOptions::all();
    if !a.presets.is_empty() {
        o.presets = a.presets.iter().map(|p| p.trim().to_string()).collect();
    }
    o.train_limit = a.train_limit;
    o.reps = a.reps.unwrap_or(dae::bench::DEFAULT_REPS);
    o.check()?;
    let root = a.data.unwrap_or_else(Dataset::default_root);
    let data = o
        .datasets()
        .into_iter()
        .map(|d| Dataset::load(&root, d))
        .collect::<Result<Vec<_>, _>>()?;
    let gpu = open_gpu()?;
    eprintln!("{}", adapter_line(&gpu));
    let rows = dae::bench::compare_rows(&gpu, &o, &data, |r| {
        let epochs: Vec<String> = r.epoch_s.iter().map(|s| format!("{s:.3}")).collect();
        eprintln!(
            "{}: {} training + {} test images, warm-up {:.2} s, epochs {} s: {:.1} samples/s",
            r.preset,
            r.train_images,
            r.test_images,
            r.warmup_s,
            epochs.join(" "),
            r.samples_per_s
        );
    })?;
    if a.json {
        let report = serde_json::json!({
            "adapter": gpu.info.name,
            "backend": format!("{:?}", gpu.info.backend),
            "device_type": format!("{:?}", gpu.info.device_type),
            "driver": gpu.info.driver,
            "driver_info": gpu.info.driver_info,
            "reps": o.reps,
            "rows": rows,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", adapter_line(&gpu));
        dae::bench::print_compare(&rows);
    }
    Ok(())
}
