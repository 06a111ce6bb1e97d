//! `dae info` and `dae check`: what the adapter is, what was tuned on it,
//! and whether its kernels compute what the CPU reference does.

use super::open_gpu;
use dae::gpu::Gpu;

pub fn info() -> anyhow::Result<()> {
    let gpu = open_gpu()?;
    println!("{}", gpu.describe());
    println!("{}", tuning_lines(&gpu));
    Ok(())
}

/// What `dae info` and `dae bench` say about the kernel choices.
pub(crate) fn tuning_lines(gpu: &Gpu) -> String {
    use dae::kernels::choice::Family;
    let family = gpu.kernel_family();
    if family != Family::Auto {
        return format!(
            "tuning:         off: DAE_KERNELS={} forces that family for every pass",
            family.name()
        );
    }
    if !dae::tune::enabled(gpu) {
        let why = if std::env::var(dae::tune::ENV).is_ok() {
            "DAE_TUNE turns it off"
        } else {
            "one kernel family runs here"
        };
        return format!("tuning:         off ({why}); every pass uses the fixed rule");
    }
    let path = dae::tune::cache::path(gpu)
        .map_or("no cache folder".to_string(), |p| p.display().to_string());
    let choices = gpu.tuned_choices();
    let mut s = format!(
        "tuning:         {} passes tuned on this adapter ({path}); others use the fixed rule until a run tunes them",
        choices.len()
    );
    for (k, v) in choices {
        s += &format!("\n  {k}: {}", v.name());
    }
    s
}

/// `dae check`: the table, then a non-zero exit if any row failed.
pub fn check(opts: dae::check::Options, failures_only: bool) -> anyhow::Result<()> {
    let gpu = open_gpu()?;
    println!(
        "checking every kernel against the CPU reference on {} ({:?}, {})",
        gpu.info.name, gpu.info.backend, gpu.info.driver_info
    );
    let report = dae::check::run(&gpu, &opts);
    let shown = dae::check::Report {
        rows: report
            .rows
            .iter()
            .filter(|r| !failures_only || !r.pass)
            .cloned()
            .collect(),
        seconds: report.seconds,
    };
    print!("{}", shown.table());
    let failed = report.failures();
    println!(
        "{} rows, {} failed, {:.1} s",
        report.rows.len(),
        failed,
        report.seconds
    );
    if report.rows.is_empty() {
        anyhow::bail!(
            "no kernel matched --only {:?}",
            opts.only.unwrap_or_default()
        );
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} kernel checks failed on {}: this adapter or its driver computes them wrongly.\n  \
             fix: update the GPU driver; to train anyway, force the other kernel family with DAE_KERNELS=tiled or \
             DAE_KERNELS=subgroup if only one family failed; please report the failing rows with `dae info` \
             (see README, \"Running on your GPU\")",
            gpu.info.name
        );
    }
    Ok(())
}
