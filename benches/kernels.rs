//! Kernel throughput on the first adapter: `cargo bench --bench kernels`.
//! `DAE_BENCH_REPS` sets the number of timed submissions per row (default 9);
//! `DAE_BENCH_ONLY=matmul` or `=conv` runs one table.

fn main() -> anyhow::Result<()> {
    let gpu = dae::gpu::Gpu::new()?;
    println!(
        "adapter: {} ({:?}, {:?})",
        gpu.info.name, gpu.info.backend, gpu.info.device_type
    );
    let reps = std::env::var("DAE_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(9);
    let only = std::env::var("DAE_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "matmul" {
        let rows = dae::bench::matmul_rows(&gpu, reps)?;
        dae::bench::print_table(&rows);
    }
    if only.is_empty() || only == "conv" {
        let rows = dae::bench::conv_rows(&gpu, reps)?;
        dae::bench::print_table(&rows);
    }
    Ok(())
}
