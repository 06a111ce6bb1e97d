//! Model files: every preset round-trips through one, wrong files get a
//! message naming the layer, the field and what is allowed (before the GPU
//! opens), and the shipped examples train, evaluate and resume through the
//! CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use dae::nn::{file, presets};

fn dae(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dae"))
        .args(args)
        .env("DAE_DATA", concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
        .env("DAE_TUNE", "0")
        .output()
        .expect("run dae");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dae-model-file-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/models")
        .join(name)
}

#[test]
fn every_preset_round_trips_through_its_model_file() {
    for (name, _) in presets::PRESETS {
        let spec = presets::preset(name).unwrap();
        let text = file::to_toml(&spec);
        let back = file::parse(&text, "unused").unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert_eq!(
            back, spec,
            "{name}: the model file reads back differently:\n{text}"
        );
    }
}

#[test]
fn dae_spec_prints_a_file_that_trains_the_same_model() {
    let (ok, out, err) = dae(&["spec", "--preset", "sp-cnn"]);
    assert!(ok, "{err}");
    assert_eq!(
        file::parse(&out, "x").unwrap(),
        presets::preset("sp-cnn").unwrap()
    );
    // And the summary of that file is the preset's.
    let d = tmp("spec");
    let p = d.join("sp-cnn.toml");
    std::fs::write(&p, &out).unwrap();
    let (ok1, a, e1) = dae(&["summary", "--model", p.to_str().unwrap()]);
    let (ok2, b, e2) = dae(&["summary", "--preset", "sp-cnn"]);
    assert!(ok1 && ok2, "{e1}{e2}");
    assert_eq!(a, b);
}

/// A minimal valid file with `layers` appended.
fn with_layers(layers: &str) -> String {
    format!(
        "input = [28, 28, 1]\nloss = \"bce\"\nepochs = 1\nbatch_size = 8\n{layers}\n\
         [[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 784\nactivation = \"sigmoid\"\n"
    )
}

#[test]
fn wrong_files_name_the_layer_the_field_and_what_is_allowed() {
    let cases: &[(&str, String, &[&str])] = &[
        (
            "unknown type",
            with_layers("[[layers]]\ntype = \"conv\"\n"),
            &["layers[0]", "unknown layer type \"conv\"", "conv2d", "max_pool"],
        ),
        (
            "unknown field",
            with_layers("[[layers]]\ntype = \"conv2d\"\nfilter = 3\nkernel = 3\n"),
            &["layers[0] (conv2d)", "unknown field `filter`", "filters"],
        ),
        (
            "negative rate",
            with_layers("[[layers]]\ntype = \"dropout\"\nrate = -0.2\n"),
            &["layer 0", "dropout", "[0, 1)", "-0.2"],
        ),
        (
            "negative filters",
            with_layers("[[layers]]\ntype = \"conv2d\"\nfilters = -3\nkernel = 3\n"),
            &["layers[0] (conv2d)", "`filters`", "integer >= 1", "-3"],
        ),
        (
            "missing field",
            with_layers("[[layers]]\ntype = \"dense\"\n"),
            &["layers[0] (dense)", "missing field `units`"],
        ),
        (
            "bad activation",
            with_layers("[[layers]]\ntype = \"conv2d\"\nfilters = 2\nkernel = 3\nactivation = \"tanh\"\n"),
            &["layers[0] (conv2d)", "`activation`", "\"tanh\"", "relu", "leaky_relu"],
        ),
        (
            "shape that does not fit",
            with_layers("[[layers]]\ntype = \"conv2d\"\nfilters = 2\nkernel = 31\n"),
            &["layer 0", "conv2d", "31x31", "28x28"],
        ),
        (
            "bad padding",
            with_layers("[[layers]]\ntype = \"max_pool\"\npool = 2\npadding = \"full\"\n"),
            &["layers[0] (max_pool)", "`padding`", "\"same\", \"valid\""],
        ),
        (
            "wrong type of value",
            with_layers("[[layers]]\ntype = \"dense\"\nunits = \"many\"\n"),
            &["layers[0] (dense)", "`units`", "integer"],
        ),
        (
            "output that does not match the loss",
            "input = [784]\nloss = \"bce\"\nepochs = 1\nbatch_size = 8\n[[layers]]\ntype = \"dense\"\nunits = 10\nactivation = \"sigmoid\"\n".into(),
            &["autoencoder must reconstruct its 784", "ends in 10"],
        ),
        (
            "bad optimizer",
            "input = [784]\nloss = \"mse\"\nepochs = 1\nbatch_size = 8\n[optimizer]\ntype = \"rmsprop\"\n[[layers]]\ntype = \"dense\"\nunits = 784\n".into(),
            &["[optimizer]", "\"adam\" or \"sgd\"", "rmsprop"],
        ),
        (
            "unknown top-level key",
            "input = [784]\nloss = \"mse\"\nepochs = 1\nbatch_size = 8\nepoch = 3\n[[layers]]\ntype = \"dense\"\nunits = 784\n".into(),
            &["unknown field `epoch`", "epochs"],
        ),
        (
            "no input",
            "loss = \"mse\"\nepochs = 1\nbatch_size = 8\n[[layers]]\ntype = \"dense\"\nunits = 784\n".into(),
            &["missing field `input`"],
        ),
        (
            "not TOML",
            "input = [28, 28\nloss = \"mse\"\n".into(),
            &["not valid TOML", "line"],
        ),
    ];
    let d = tmp("wrong");
    for (what, text, needles) in cases {
        let p = d.join("m.toml");
        std::fs::write(&p, text).unwrap();
        for cmd in ["summary", "train"] {
            let out = d.join("out");
            let args: Vec<&str> = if cmd == "train" {
                vec![
                    "train",
                    "--model",
                    p.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                ]
            } else {
                vec!["summary", "--model", p.to_str().unwrap()]
            };
            let (ok, _, err) = dae(&args);
            assert!(!ok, "{what}: `dae {cmd}` accepted it");
            assert!(!err.contains("panicked"), "{what}: panicked:\n{err}");
            assert!(
                err.contains("m.toml"),
                "{what}: the message does not name the file:\n{err}"
            );
            for n in *needles {
                assert!(
                    err.contains(n),
                    "{what}: `dae {cmd}`'s message lacks {n:?}:\n{err}"
                );
            }
            assert_eq!(
                err.lines().count(),
                err.lines().count().min(6),
                "{what}: long message:\n{err}"
            );
            assert!(
                !out.exists(),
                "{what}: `dae train` wrote {} before refusing",
                out.display()
            );
        }
    }
    let (ok, _, err) = dae(&["train", "--model", "/nonexistent/m.toml"]);
    assert!(
        !ok && err.contains("/nonexistent/m.toml") && err.contains("dae spec"),
        "{err}"
    );
    let (ok, _, err) = dae(&["train", "--model", "x.toml", "--preset", "sp-mlp"]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
}

/// Trains `model` for one short epoch, evaluates it and extends it by an
/// epoch with --resume; returns the run folder.
fn train_example(name: &str) -> PathBuf {
    let d = tmp(name);
    let out = d.join("run");
    let model = example(name);
    let (ok, stdout, err) = dae(&[
        "train",
        "--model",
        model.to_str().unwrap(),
        "--epochs",
        "1",
        "--train-limit",
        "300",
        "--test-limit",
        "100",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(ok, "{name}: {stdout}{err}");
    let ck = out.join("model.safetensors");
    let (ok, stdout, err) = dae(&[
        "eval",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--test-limit",
        "100",
    ]);
    assert!(ok, "{name}: eval: {err}");
    let stem = name.trim_end_matches(".toml");
    assert!(stdout.starts_with(stem), "{name}: eval printed {stdout}");
    // The checkpoint stores the model file it was trained from (with the
    // command line's epochs and train limit).
    let meta = dae::report::load_checkpoint(&ck).unwrap().metadata;
    let stored = file::parse(meta.get("model").expect("model metadata"), "x").unwrap();
    let mut want = file::parse(&std::fs::read_to_string(&model).unwrap(), stem).unwrap();
    want.epochs = 1;
    want.train_limit = Some(300);
    assert_eq!(stored, want, "{name}: the checkpoint's model file");
    let (ok, printed, err) = dae(&["spec", "--checkpoint", ck.to_str().unwrap()]);
    assert!(ok, "{name}: dae spec --checkpoint: {err}");
    assert_eq!(
        file::parse(&printed, "x").unwrap(),
        want,
        "{name}: dae spec --checkpoint"
    );
    // It exports to both frameworks.
    for to in ["pytorch", "keras"] {
        let dir = out.with_file_name(format!("export-{to}"));
        let (ok, _, err) = dae(&[
            "export",
            "--checkpoint",
            ck.to_str().unwrap(),
            "--to",
            to,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(ok, "{name}: export --to {to}: {err}");
        let py = std::fs::read_to_string(dir.join("model.py")).unwrap();
        assert!(
            py.contains("def build(") && py.contains("def load("),
            "{name}: {to} model.py"
        );
        assert!(
            dir.join("model.safetensors").is_file(),
            "{name}: {to} weights"
        );
    }
    let (ok, _, err) = dae(&[
        "train",
        "--resume",
        out.to_str().unwrap(),
        "--epochs",
        "2",
        "--quiet",
    ]);
    assert!(ok, "{name}: resume: {err}");
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        3,
        "{name}: metrics.csv after resume:\n{csv}"
    );
    out
}

#[test]
fn example_conv_dae_trains_evaluates_and_resumes() {
    train_example("small-conv-dae.toml");
}

#[test]
fn example_dense_classifier_trains_evaluates_and_resumes() {
    let out = train_example("dense-classifier.toml");
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("acc"), "{csv}");
}

#[test]
fn example_batchnorm_ae_trains_evaluates_and_resumes() {
    train_example("batchnorm-ae.toml");
}

#[test]
fn every_example_model_parses_and_resolves() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let spec = file::parse(&std::fs::read_to_string(&p).unwrap(), "x")
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            spec.resolve(10)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(presets::PRESETS.iter().all(|(n, _)| *n != spec.name));
            n += 1;
        }
    }
    assert!(n >= 3, "examples/models holds {n} model files");
}
