//! `dae check` on this adapter: every row passes, every kernel family is
//! there at a preset's shape and at a ragged one, and the command's exit
//! status follows its rows.

mod common;

use std::process::Command;

use common::*;
use dae::check::{self, Options};

/// The kernel families of `dae check`, as its kernel names start.
const FAMILIES: [&str; 18] = [
    "matmul",
    "conv2d",
    "activation",
    "dropout",
    "noise",
    "gather",
    "loss",
    "softmax",
    "reduce",
    "analysis",
    "batchnorm",
    "maxpool",
    "upsample",
    "sgd",
    "adam",
    "l2_grad",
    "matmul bias_grad",
    "conv2d bias_grad",
];

/// The whole check on this adapter.
#[test]
fn check_passes_and_covers_every_kernel_family() {
    let Some(gpu) = gpu() else { return };
    let report = check::run(gpu, &Options::default());
    let failed = check::Report {
        rows: report.rows.iter().filter(|r| !r.pass).cloned().collect(),
        seconds: 0.0,
    };
    assert!(
        failed.rows.is_empty(),
        "{} of {} rows failed:\n{}",
        failed.rows.len(),
        report.rows.len(),
        failed.table()
    );
    let rows_of = |family: &str| -> Vec<&check::Row> {
        report
            .rows
            .iter()
            .filter(|r| r.kernel.starts_with(family))
            .collect()
    };
    for family in FAMILIES {
        assert!(!rows_of(family).is_empty(), "no {family} rows");
    }
    // Beyond the two GEMM families, every family runs a ragged shape and a
    // preset's own.
    for family in &FAMILIES[2..] {
        assert!(
            rows_of(family).iter().any(|r| r.shape.contains("ragged")),
            "no ragged {family} shape"
        );
        assert!(
            rows_of(family).iter().any(|r| !r.shape.contains("ragged")),
            "no preset {family} shape"
        );
    }
    // The GEMMs' ragged shapes (off a 4-element boundary) and fused or
    // chunked variants are in the table.
    let has = |kernel: &str, variant: &str, shape: &str| {
        report.rows.iter().any(|r| {
            r.kernel.starts_with(kernel) && r.variant.contains(variant) && r.shape.contains(shape)
        })
    };
    assert!(has("matmul nn", "", "33x17x45"));
    // The wide matmul tiles on a preset layer and a ragged shape, in every
    // form; no convolution row names them (they are matmul-only).
    for v in ["tiled-64x64", "tiled-128x64"] {
        for form in ["matmul nn", "matmul nt", "matmul tn"] {
            assert!(has(form, v, "65x129x67"), "no {form} {v} ragged row");
            let preset = report.rows.iter().any(|r| {
                r.kernel.starts_with(form) && r.variant == v && !r.shape.contains("offset")
            });
            assert!(preset, "no {form} {v} preset row");
        }
        assert!(
            !report
                .rows
                .iter()
                .any(|r| r.kernel.starts_with("conv2d") && r.variant == v),
            "a conv2d row names {v}"
        );
    }
    assert!(has("conv2d forward", "", "3x7x9x5->6 k3 same"));
    assert!(has("dropout backward", "fused", "ragged"));
    assert!(has("batchnorm forward (train)", "+dropout", "mlp-dae"));
    assert!(has("batchnorm backward", "gpu vec4", "fashion-cae"));
    assert!(has("maxpool backward", "fused", "ragged"));
    assert!(has("upsample backward", "fused", "ragged"));
}

/// `Options::only` keeps the rows whose names contain it.
#[test]
fn check_only_runs_the_named_kernels() {
    let Some(gpu) = gpu() else { return };
    let only = |name: &str| Options {
        only: Some(name.into()),
        full: false,
    };
    let report = check::run(gpu, &only("adam"));
    assert!(!report.rows.is_empty());
    assert!(report
        .rows
        .iter()
        .all(|r| r.kernel == "adam step" && r.pass));
    assert!(check::run(gpu, &only("nosuchkernel")).rows.is_empty());
}

/// Runs the binary: (success, stdout, stderr).
fn dae(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dae"))
        .args(args)
        .output()
        .expect("run dae");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `dae check --only relu`: the header, the rows, 0 failed, exit 0.
#[test]
fn cli_check_prints_the_table_and_exits_zero() {
    if gpu().is_none() {
        return;
    }
    let (ok, out, err) = dae(&["check", "--only", "relu"]);
    assert!(ok, "dae check --only relu failed:\n{out}\n{err}");
    assert!(out.contains("checking every kernel against the CPU reference"));
    let header = out.lines().nth(1).unwrap_or_default();
    for column in [
        "kernel",
        "variant",
        "shape",
        "max error",
        "tolerance",
        "result",
    ] {
        assert!(header.contains(column), "header {header:?} lacks {column}");
    }
    assert!(out.contains("activation forward relu"), "{out}");
    assert!(out.contains(" 0 failed"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
}

/// `dae check --only nosuchkernel`: a message and a non-zero exit.
#[test]
fn cli_check_with_no_matching_kernel_fails() {
    if gpu().is_none() {
        return;
    }
    let (ok, out, err) = dae(&["check", "--only", "nosuchkernel"]);
    assert!(!ok, "dae check --only nosuchkernel succeeded:\n{out}");
    assert!(err.contains("no kernel matched"), "{err}");
    assert!(err.contains("nosuchkernel"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
