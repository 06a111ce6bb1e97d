//! Bad input gets one clear message and a non-zero exit, never a panic.

use std::process::Command;

fn dae(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dae"))
        .args(args)
        .env("DAE_DATA", concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
        // The fixed kernel rule: tuning and its cache are tested in
        // tests/tune.rs, in a cache folder of their own.
        .env("DAE_TUNE", "0")
        .output()
        .expect("run dae");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fails_with(args: &[&str], needle: &str) {
    let (ok, _, err) = dae(args);
    assert!(!ok, "{args:?} succeeded");
    assert!(
        err.contains(needle),
        "{args:?}: stderr lacks {needle:?}:\n{err}"
    );
    assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
}

#[test]
fn unknown_preset_is_named_with_the_alternatives() {
    fails_with(&["train", "--preset", "nope"], "known presets");
    fails_with(&["summary", "--preset", "nope"], "known presets");
}

#[test]
fn out_of_range_flags_are_rejected() {
    fails_with(
        &["train", "--preset", "sp-mlp", "--epochs", "0"],
        "--epochs",
    );
    fails_with(
        &["train", "--preset", "sp-mlp", "--batch-size", "0"],
        "--batch-size",
    );
    fails_with(&["train", "--preset", "sp-mlp", "--lr", "-1"], "--lr");
    fails_with(
        &["train", "--preset", "sp-mlp", "--noise", "gaussian:-1"],
        "--noise",
    );
    fails_with(
        &["train", "--preset", "sp-mlp", "--noise", "pink:0.1"],
        "--noise",
    );
    fails_with(
        &["train", "--preset", "sp-mlp", "--dataset", "cifar"],
        "--dataset",
    );
    fails_with(&["bench", "--reps", "0"], "--reps");
}

#[test]
fn missing_data_names_the_file_and_the_fix() {
    let dir = std::env::temp_dir().join(format!("dae-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    fails_with(
        &[
            "train",
            "--preset",
            "sp-mlp",
            "--data",
            dir.to_str().unwrap(),
        ],
        "train-images-idx3-ubyte.gz",
    );
}

#[test]
fn fashion_cae_defaults_to_fashion_mnist_and_the_rest_to_mnist() {
    // With an empty data folder the error names the file looked for, and so
    // the dataset each command chose by default.
    let dir = std::env::temp_dir().join(format!("dae-empty-ds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let fashion = format!("{}", dir.join("fashion-mnist").display());
    let mnist = format!("{}", dir.join("mnist").display());
    fails_with(&["train", "--preset", "fashion-cae", "--data", d], &fashion);
    fails_with(&["experiment", "fashion-cae", "--data", d], &fashion);
    fails_with(&["train", "--preset", "conv-dae", "--data", d], &mnist);
    fails_with(&["experiment", "stacked", "--data", d], &mnist);
    fails_with(
        &[
            "experiment",
            "fashion-cae",
            "--dataset",
            "mnist",
            "--data",
            d,
        ],
        &mnist,
    );
}

#[test]
fn missing_checkpoint_is_reported() {
    fails_with(
        &["eval", "--checkpoint", "/nonexistent/model.safetensors"],
        "does not exist",
    );
}

#[test]
fn summary_prints_exact_counts() {
    let (ok, out, err) = dae(&["summary", "--preset", "mlp-dae"]);
    assert!(ok, "{err}");
    assert!(out.contains("Total params: 1,438,676"), "{out}");
}

#[test]
fn gpu_commands_print_no_display_server_noise() {
    // Mesa's device-select layer probes Wayland on a headless machine and
    // libwayland prints an XDG_RUNTIME_DIR error users read as dae's.
    let out = Command::new(env!("CARGO_BIN_EXE_dae"))
        .arg("info")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("NODEVICE_SELECT")
        .output()
        .expect("run dae");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("skipping: no adapter ({all})");
        return;
    }
    assert!(out.status.success(), "{all}");
    assert!(!all.contains("XDG_RUNTIME_DIR"), "{all}");
}

#[test]
fn bench_compare_flags_are_checked_before_the_gpu_opens() {
    fails_with(
        &["bench", "--compare", "--presets", "nope"],
        "known presets",
    );
    fails_with(&["bench", "--compare", "--reps", "0"], "--reps");
    fails_with(
        &["bench", "--compare", "--train-limit", "0"],
        "--train-limit",
    );
    fails_with(&["bench", "--presets", "sp-mlp"], "--compare");
    fails_with(&["bench", "--json"], "--compare");
    fails_with(&["bench", "--compare", "--profile"], "--profile");
}

#[test]
fn bench_compare_json_reports_positive_samples_per_second() {
    let (ok, out, err) = dae(&[
        "bench",
        "--compare",
        "--presets",
        "sp-mlp,sp-dae",
        "--train-limit",
        "256",
        "--reps",
        "1",
        "--json",
    ]);
    if !ok && std::env::var("CI").as_deref() != Ok("true") && err.contains("adapter") {
        eprintln!("skipping: no adapter ({err})");
        return;
    }
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout is one JSON object");
    let rows = v["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().map(|r| r["preset"].as_str().unwrap()).collect();
    assert_eq!(names, ["sp-mlp", "sp-dae"]);
    for r in rows {
        let sps = r["samples_per_s"].as_f64().unwrap();
        assert!(sps.is_finite() && sps > 0.0, "{r}");
        assert_eq!(r["train_images"].as_u64(), Some(256), "{r}");
        // 256 of 60,000 training images: 43 of the 10,000 test images.
        assert_eq!(r["test_images"].as_u64(), Some(43), "{r}");
        assert_eq!(r["epoch_s"].as_array().map(|a| a.len()), Some(1), "{r}");
        assert!(r["median_epoch_s"].as_f64().unwrap() > 0.0, "{r}");
    }
}

#[test]
fn compare_script_describes_every_preset() {
    // benches/compare.py rebuilds each preset in Keras or PyTorch; its list
    // must not drift from src/nn/presets.rs. Its models module imports with
    // the standard library alone.
    let out = Command::new("python3")
        .args([
            "-B",
            "-c",
            "import compare_models as m; print(','.join(m.PRESETS))",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/benches"))
        .output();
    let Ok(out) = out else {
        eprintln!("skipping: no python3");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let want: Vec<&str> = dae::nn::presets::PRESETS.iter().map(|p| p.0).collect();
    assert_eq!(got, want.join(","));
}
