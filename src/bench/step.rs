//! Timing whole training steps of a preset, and each dispatch of one.

use super::{median, BenchRow};
use crate::data::Dataset;
use crate::gpu::{Gpu, TimingChoice};
use crate::nn::{presets, ModelSpec};
use crate::train::{StepProfile, Trainer};

/// Times full training steps (gather, noise, forward, loss, backward,
/// optimizer) of `preset` at `batch`: the median over `reps` runs of
/// `steps` steps recorded into one submission, divided by `steps`.
pub fn bench_step(
    gpu: &Gpu,
    preset: &str,
    batch: usize,
    reps: usize,
    data: &Dataset,
) -> anyhow::Result<BenchRow> {
    let mut spec = presets::preset(preset).map_err(anyhow::Error::msg)?;
    spec.batch_size = batch;
    let steps = 8;
    spec.train_limit = Some(batch * steps);
    let mut trainer = Trainer::new(gpu, spec, data, None, 1)?;
    // Warm-up: compiles every pipeline.
    trainer.time_steps(steps)?;
    let mut times: Vec<f64> = (0..reps)
        .map(|_| trainer.time_steps(steps).map(|t| t / steps as f64))
        .collect::<anyhow::Result<_>>()?;
    let median = median(&mut times);
    let flops = step_flops(&trainer.model.resolved, &trainer.model.spec, batch);
    Ok(BenchRow {
        name: format!("{preset}_train_step_b{batch}"),
        variant: "full step".into(),
        median_ms: median * 1e3,
        gflops: flops / median / 1e9,
    })
}

/// Per-dispatch times of one training step of `preset` at `batch`, from
/// GPU timestamps or host wall time as `timing` asks and the device allows;
/// see [`Trainer::profile_step`].
pub fn profile_step(
    gpu: &Gpu,
    preset: &str,
    batch: usize,
    reps: usize,
    timing: TimingChoice,
    data: &Dataset,
) -> anyhow::Result<StepProfile> {
    let mut spec = presets::preset(preset).map_err(anyhow::Error::msg)?;
    spec.batch_size = batch;
    spec.train_limit = Some(batch * 2);
    let mut trainer = Trainer::new(gpu, spec, data, None, 1)?;
    trainer.profile_step(reps, timing)
}

/// Prints a step profile: the `timing:` header (where the times come from),
/// each dispatch's ms in step order, their sum, then the sums by kernel
/// with their shares. `reps` is what [`profile_step`] was given.
pub fn print_profile(p: &StepProfile, reps: usize) {
    let how = if p.timing.is_gpu() {
        format!("median of {reps} runs of the step")
    } else {
        format!("mean of {reps} copies in one submission")
    };
    println!("timing: {}; {how}", p.timing);
    for (name, ms) in &p.dispatches {
        let ms = ms.map_or_else(|| "unmeasured".into(), |ms| format!("{ms:.3} ms"));
        println!("{name:<32} {ms:>11}");
    }
    let total = p.total_ms();
    let unmeasured = p.dispatches.iter().filter(|d| d.1.is_none()).count();
    let note = if unmeasured > 0 {
        format!(", {unmeasured} unmeasured")
    } else {
        String::new()
    };
    println!(
        "{:<32} {total:>8.3} ms ({} dispatches{note})",
        "sum",
        p.dispatches.len()
    );
    println!("\nby kernel:");
    for (name, ms, n) in p.by_kernel() {
        println!(
            "{name:<32} {ms:>8.3} ms {:>5.1}% ({n} dispatches)",
            100.0 * ms / total
        );
    }
}

/// Matmul FLOPs of one training step: 2·m·k·n for the forward product and
/// each backward product that runs.
fn step_flops(r: &crate::nn::Resolved, spec: &ModelSpec, batch: usize) -> f64 {
    let mut f = 0.0;
    for (i, l) in spec.layers.iter().enumerate() {
        if let crate::nn::Layer::Dense { units, .. } = l.layer {
            let mkn = 2.0 * (batch * r.inputs[i].size() * units) as f64;
            // forward, weight gradient, and input gradient except layer 0
            f += mkn * if i == 0 { 2.0 } else { 3.0 };
        }
    }
    f
}
