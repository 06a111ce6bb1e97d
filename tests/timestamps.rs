//! GPU timings: `dae bench --profile` times each dispatch from timestamp
//! queries where the adapter has them and falls back to host wall time
//! elsewhere (or when asked), saying which. Times are checked for being
//! measurements (positive, finite, one per dispatch), never for speed.

mod common;

use std::process::Command;
use std::sync::OnceLock;

use common::*;
use dae::data::{Dataset, DatasetName};
use dae::gpu::{
    DispatchTimer, Gpu, HostReason, Program, StepInfo, TimestampMode, Timing, TimingChoice,
};
use dae::kernels::reduce;
use dae::train::StepProfile;

const MODES: [TimestampMode; 2] = [TimestampMode::InsidePasses, TimestampMode::PassWrites];

/// A few hundred MNIST images: enough for two steps of the small batch.
fn data() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        Dataset::load(&root, DatasetName::Mnist)
            .expect("MNIST under data/")
            .subset(256, 64)
    })
}

/// One step of sp-mlp at batch 32, profiled as `choice` asks.
fn profile(gpu: &Gpu, choice: TimingChoice) -> StepProfile {
    dae::bench::profile_step(gpu, "sp-mlp", 32, 3, choice, data()).unwrap()
}

fn assert_all_measured(what: &str, p: &StepProfile) {
    assert!(!p.dispatches.is_empty(), "{what}: no dispatches");
    for (i, (name, ms)) in p.dispatches.iter().enumerate() {
        let ms = ms.unwrap_or_else(|| panic!("{what}: dispatch {i} ({name}) unmeasured"));
        assert!(
            ms.is_finite() && ms > 0.0,
            "{what}: dispatch {i} ({name}): {ms} ms"
        );
    }
    let by: usize = p.by_kernel().iter().map(|k| k.2).sum();
    assert_eq!(by, p.dispatches.len(), "{what}: by-kernel counts");
}

#[test]
fn timestamps_time_every_dispatch_of_a_step_like_the_host_path() {
    let Some(gpu) = gpu() else { return };
    let host = profile(gpu, TimingChoice::Host);
    for mode in MODES {
        let p = profile(gpu, TimingChoice::Mode(mode));
        if !mode.supported(gpu) {
            assert!(!p.timing.is_gpu(), "{mode:?} unsupported: {}", p.timing);
            continue;
        }
        let Timing::Timestamps { mode: m, period_ns } = p.timing else {
            panic!("{mode:?}: fell back: {}", p.timing);
        };
        assert_eq!(m, mode);
        assert!(
            period_ns.is_finite() && period_ns > 0.0,
            "period {period_ns}"
        );
        assert_all_measured(&format!("{mode:?}"), &p);
        let names = |p: &StepProfile| p.dispatches.iter().map(|d| d.0.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&p),
            names(&host),
            "{mode:?}: same dispatches as the host path"
        );
    }
}

#[test]
fn forced_host_timing_says_it_falls_back() {
    let Some(gpu) = gpu() else { return };
    let p = profile(gpu, TimingChoice::Host);
    assert_eq!(p.timing, Timing::Host(HostReason::Requested));
    let header = p.timing.to_string();
    assert!(
        header.starts_with("host wall time per dispatch (") && header.contains("requested"),
        "{header}"
    );
    assert_all_measured("host", &p);
}

#[test]
fn auto_picks_timestamps_where_the_adapter_has_them() {
    let Some(gpu) = gpu() else { return };
    let t = Timing::choose(gpu, TimingChoice::Auto);
    eprintln!(
        "{}: {t} (inside passes: {})",
        gpu.info.name,
        TimestampMode::InsidePasses.supported(gpu)
    );
    match TimestampMode::best(gpu) {
        Some(best) => {
            let Timing::Timestamps { mode, period_ns } = t else {
                panic!("the adapter has {best:?} but auto chose {t}");
            };
            assert_eq!(mode, best);
            let header = t.to_string();
            assert!(
                header.starts_with(&format!(
                    "GPU time from timestamp queries (period {period_ns} ns)"
                )),
                "{header}"
            );
        }
        None => {
            assert_eq!(t, Timing::Host(HostReason::NoTimestampQuery));
            assert!(t.to_string().contains("lacks TIMESTAMP_QUERY"), "{t}");
        }
    }
}

#[test]
fn the_timer_spans_several_query_sets() {
    let Some(gpu) = gpu() else { return };
    // 2,050 dispatches: two timestamps each overflow one set of 4,096
    // queries, so a second set holds the last two.
    let n = 2_050;
    let values = gpu.upload_f32("values", &[1.0; 4]).unwrap();
    for mode in MODES {
        let Some(timer) = DispatchTimer::new(gpu, mode, n) else {
            assert!(!mode.supported(gpu), "{mode:?} supported but no timer");
            continue;
        };
        assert_eq!((timer.mode(), timer.capacity()), (mode, n));
        let acc = gpu.zeros("acc", 1).unwrap();
        let mut prog = Program::default();
        for _ in 0..n {
            prog.push(reduce::sum_into(gpu, &acc, 0, &values, 4).unwrap());
        }
        let (_buf, step) = gpu.step_buffer(1);
        let ns = timer.time(gpu, &prog.dispatches, Some((&step, 0))).unwrap();
        assert_eq!(ns.len(), n);
        for (i, t) in ns.iter().enumerate() {
            assert!(
                t.is_some_and(|t| t.is_finite() && t > 0.0),
                "{mode:?}: dispatch {i}: {t:?}"
            );
        }
        // Every dispatch ran once, in order.
        assert_eq!(gpu.read_f32(&acc).unwrap()[0], 4.0 * n as f32, "{mode:?}");
        // Fewer dispatches than the timer holds.
        let few = timer.time(gpu, &prog.dispatches[..3], None).unwrap();
        assert_eq!(few.len(), 3);
        prog.run(gpu, &StepInfo::default()).unwrap();
    }
}

fn dae(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dae"))
        .args(args)
        .env("DAE_DATA", concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
        // The fixed kernel rule: tuning is tested in tests/tune.rs.
        .env("DAE_TUNE", "0")
        .output()
        .expect("run dae");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `timing:` header line and the dispatch count of the `sum` line.
fn profile_header(extra: &[&str]) -> Option<(String, String)> {
    let mut args = vec![
        "bench",
        "--step-preset",
        "sp-mlp",
        "--step-only",
        "--profile",
        "--reps",
        "1",
    ];
    args.extend(extra);
    let (ok, out, err) = dae(&args);
    if !ok && std::env::var("CI").as_deref() != Ok("true") && err.contains("adapter") {
        eprintln!("skipping: no adapter ({err})");
        return None;
    }
    assert!(ok, "{args:?}: {err}");
    let header = out
        .lines()
        .find_map(|l| l.strip_prefix("timing: "))
        .unwrap_or_else(|| panic!("no timing line:\n{out}"));
    let sum = out
        .lines()
        .find(|l| l.starts_with("sum "))
        .unwrap_or_else(|| panic!("no sum line:\n{out}"));
    let count = sum[sum.find('(').expect("dispatch count")..].to_string();
    Some((header.to_string(), count))
}

#[test]
fn bench_profile_header_says_where_the_times_come_from() {
    let Some((header, count)) = profile_header(&[]) else {
        return;
    };
    let Some(gpu) = gpu() else { return };
    if gpu.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
        assert!(
            header.starts_with("GPU time from timestamp queries (period "),
            "{header}"
        );
    } else {
        assert!(
            header.starts_with("host wall time per dispatch (adapter lacks TIMESTAMP_QUERY)"),
            "{header}"
        );
    }
    let (host, host_count) = profile_header(&["--host-timing"]).unwrap();
    assert!(
        host.starts_with("host wall time per dispatch (host timing requested)"),
        "{host}"
    );
    assert_eq!(count, host_count, "same dispatches either way");
}

#[test]
fn host_timing_needs_profile() {
    let (ok, _, err) = dae(&["bench", "--host-timing"]);
    assert!(!ok && err.contains("--profile"), "{err}");
}
