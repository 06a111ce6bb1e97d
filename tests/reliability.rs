//! Runs that survive, tested through the real binary: a run killed at
//! random moments always leaves a folder that loads and resumes to the bits
//! of an uninterrupted run; Ctrl-C checkpoints and exits 130; a folder that
//! holds a run is never trained over by accident; a lock keeps a second
//! process out and a stale one is taken over.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;

/// The tests of this file time whole processes; one at a time keeps those
/// timings meaningful on a 2-core machine.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn dae() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dae"));
    c.env("DAE_DATA", concat!(env!("CARGO_MANIFEST_DIR"), "/data"));
    // The fixed kernel rule: tuning is tested in tests/tune.rs.
    c.env("DAE_TUNE", "0");
    c
}

fn run(args: &[&str]) -> Output {
    dae().args(args).output().expect("run dae")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tmp(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("dae-rel-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

/// Two epochs of 93 steps, checkpoints every 17 steps: long enough that
/// random kills land in every phase (start-up, mid-epoch, checkpoint
/// writes, evaluation), short enough for CI.
const RUN: &[&str] = &[
    "train",
    "--preset",
    "sp-mlp",
    "--epochs",
    "2",
    "--train-limit",
    "12000",
    "--test-limit",
    "500",
    "--checkpoint-every",
    "17",
    "--quiet",
];

fn start(out: &Path) -> Vec<String> {
    let mut a: Vec<String> = RUN.iter().map(|s| s.to_string()).collect();
    a.extend(["--out".into(), out.display().to_string()]);
    a
}

fn resume(out: &Path) -> Vec<String> {
    vec![
        "train".into(),
        "--resume".into(),
        out.display().to_string(),
        "--quiet".into(),
    ]
}

fn tensors(path: &Path) -> Vec<dae::report::NamedTensor> {
    dae::report::load_checkpoint(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .tensors
}

/// metrics.csv without its timing columns.
fn figures(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(5).collect::<Vec<_>>().join(","))
        .collect()
}

/// What must hold of a run folder at any moment: every file there loads,
/// and the derived files never run ahead of the state.
fn check_folder(dir: &Path) {
    let state = dir.join("state.safetensors");
    let epochs = if state.exists() {
        let st = dae::run::RunState::load(&state).unwrap();
        assert_eq!(st.history.len(), st.epochs_done);
        st.epochs_done
    } else {
        0
    };
    let model = dir.join("model.safetensors");
    if model.exists() {
        assert!(state.exists(), "a model without a state");
        let ck = dae::report::load_checkpoint(&model).unwrap();
        let done: usize = ck.metadata["epochs_done"].parse().unwrap();
        assert!(done <= epochs, "model at epoch {done}, state at {epochs}");
    }
    if dir.join("metrics.csv").exists() {
        let rows = figures(dir).len() - 1;
        assert!(
            rows <= epochs,
            "metrics.csv has {rows} epochs, the state {epochs}"
        );
    }
}

#[test]
fn killed_at_random_moments_a_run_resumes_to_the_same_bits() {
    let _serial = serial();
    if common::gpu().is_none() {
        return;
    }
    let reference = tmp("ref");
    let t0 = Instant::now();
    let o = run(&start(&reference)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    let whole = t0.elapsed();

    let dir = tmp("killed");
    let seed = std::env::var("DAE_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11u64);
    let mut rng = common::rng(seed);
    let mut kills = 0;
    // Each process pays its start-up again and resumes with less work
    // left, so the kill moments are drawn from the first third of a whole
    // run; a process that finishes first ends the injection.
    for _ in 0..12 {
        if kills == 6 {
            break;
        }
        let args = if dir.join("state.safetensors").exists() {
            resume(&dir)
        } else {
            start(&dir)
        };
        let mut child = dae()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let at = whole.mul_f64(rng.random_range(0.05..0.35));
        std::thread::sleep(at);
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
        check_folder(&dir);
        if finished {
            break;
        }
    }
    eprintln!("fault injection (seed {seed}): {kills} kills");
    assert!(kills >= 3, "only {kills} runs were still going when killed");
    let args = if dir.join("state.safetensors").exists() {
        resume(&dir)
    } else {
        start(&dir)
    };
    let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    check_folder(&dir);
    assert_eq!(
        tensors(&dir.join("model.safetensors")),
        tensors(&reference.join("model.safetensors")),
        "seed {seed}: parameters differ after {kills} kills"
    );
    assert_eq!(figures(&dir), figures(&reference), "seed {seed}");
    assert!(
        !std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".tmp-")),
        "temporary files of killed writers were left behind"
    );

    // Ctrl-C once training is under way: a checkpoint, a hint, status 130.
    #[cfg(unix)]
    {
        let dir = tmp("sigint");
        let child = dae()
            .args(start(&dir))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !dir.join("state.safetensors").exists() {
            assert!(Instant::now() < deadline, "no checkpoint appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: signals a child we own, which is still running or a zombie.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(130), "{}", text(&o));
        assert!(text(&o).contains("dae train --resume"), "{}", text(&o));
        assert!(!dir.join(".dae.lock").exists(), "lock left behind");
        let o = run(&resume(&dir).iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(
            tensors(&dir.join("model.safetensors")),
            tensors(&reference.join("model.safetensors"))
        );
        assert_eq!(figures(&dir), figures(&reference));
        let _ = std::fs::remove_dir_all(&dir);
    }

    // A second run into the finished folder is refused; the model stays.
    let before = std::fs::read(reference.join("model.safetensors")).unwrap();
    let o = run(&start(&reference)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--resume") && text(&o).contains("--overwrite"),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::read(reference.join("model.safetensors")).unwrap(),
        before
    );
    // Resuming a finished run trains nothing; --epochs extends it.
    let o = run(&resume(&reference)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert!(
        o.status.success() && text(&o).contains("finished"),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::read(reference.join("model.safetensors")).unwrap(),
        before
    );
    let mut extend = resume(&reference);
    extend.extend(["--epochs".into(), "3".into()]);
    let o = run(&extend.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(figures(&reference).len(), 4, "header + 3 epochs");
    let _ = std::fs::remove_dir_all(&reference);
    let _ = std::fs::remove_dir_all(&dir);
}

const TINY: &[&str] = &[
    "train",
    "--preset",
    "sp-mlp",
    "--epochs",
    "1",
    "--train-limit",
    "300",
    "--test-limit",
    "100",
    "--quiet",
];

fn tiny(out: &Path, extra: &[&str]) -> Output {
    let mut a: Vec<&str> = TINY.to_vec();
    let out = out.display().to_string();
    a.extend(["--out", &out]);
    a.extend(extra);
    run(&a)
}

#[test]
fn a_live_lock_keeps_a_second_process_out_and_a_stale_one_is_taken_over() {
    let _serial = serial();
    if common::gpu().is_none() {
        return;
    }
    // Held by a live process (this test's own).
    let dir = tmp("locked");
    std::fs::create_dir_all(&dir).unwrap();
    let me = std::process::id().to_string();
    std::fs::write(dir.join(".dae.lock"), format!("{me}\n")).unwrap();
    let o = tiny(&dir, &[]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&me) && text(&o).contains("in use"),
        "{}",
        text(&o)
    );
    assert!(!dir.join("model.safetensors").exists());
    // Held by a process that is gone, with an orphan temporary file of it.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    std::fs::write(dir.join(".dae.lock"), format!("{dead}\n")).unwrap();
    let orphan = dir.join(format!(".model.safetensors.tmp-{dead}-0"));
    std::fs::write(&orphan, b"half a file").unwrap();
    let o = tiny(&dir, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("stale lock"), "{}", text(&o));
    assert!(!orphan.exists(), "orphan temporary file kept");
    assert!(!dir.join(".dae.lock").exists(), "lock not released");
    // --overwrite replaces the run on purpose.
    let o = tiny(&dir, &["--overwrite", "--seed", "2"]);
    assert!(o.status.success(), "{}", text(&o));
    let ck = dae::report::load_checkpoint(&dir.join("model.safetensors")).unwrap();
    assert_eq!(ck.metadata["seed"], "2");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_default_folder_takes_the_next_free_suffix() {
    let _serial = serial();
    if common::gpu().is_none() {
        return;
    }
    let cwd = tmp("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    for _ in 0..2 {
        let o = dae().args(TINY).current_dir(&cwd).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    for d in ["sp-mlp-mnist-s1", "sp-mlp-mnist-s1-2"] {
        assert!(
            cwd.join("runs").join(d).join("model.safetensors").exists(),
            "{d}"
        );
    }
    let _ = std::fs::remove_dir_all(&cwd);
}

#[test]
fn bad_folders_and_limits_fail_before_training() {
    let _serial = serial();
    // A folder that cannot be created (its parent is a file).
    let file = tmp("afile");
    std::fs::write(&file, b"x").unwrap();
    let o = tiny(&file.join("sub"), &[]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("cannot write to the output folder"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("epoch"), "trained first:\n{}", text(&o));
    let _ = std::fs::remove_file(&file);
    let dir = tmp("limits");
    for (flag, value) in [
        ("--test-limit", "0"),
        ("--train-limit", "0"),
        ("--checkpoint-every", "0"),
    ] {
        let o = tiny(&dir, &[flag, value]);
        assert!(!o.status.success());
        assert!(text(&o).contains(flag), "{flag}: {}", text(&o));
        assert!(!text(&o).contains("panicked"), "{}", text(&o));
    }
    assert!(!dir.exists(), "a failed run left its empty folder behind");
    let o = run(&["train", "--resume", &dir.display().to_string()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no run there"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
