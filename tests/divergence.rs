//! A run that diverges stops, for every loss, with a message naming the
//! settings, and never writes a non-finite checkpoint; `dae eval` refuses
//! non-finite weights.

mod common;

use common::gpu;
use dae::data::{Dataset, DatasetName};
use dae::nn::params::{ParamLayout, Role};
use dae::run::{self, TrainOptions};

fn opts(preset: &str, tag: &str) -> TrainOptions {
    let out = std::env::temp_dir().join(format!("dae-div-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut o = TrainOptions::new(preset, DatasetName::Mnist, out);
    o.epochs = Some(2);
    o.train_limit = Some(512);
    o.test_limit = Some(200);
    o
}

/// Trains `preset` from seeded parameters with one kernel value set to
/// `bad`, which the loss's clamps (max(p, 1e-7), clamp to [0, 1]) would
/// otherwise turn into an ordinary-looking number.
fn diverges(preset: &str, bad: f32, tag: &str) -> String {
    let gpu = gpu().expect("checked by the caller");
    let o = opts(preset, tag);
    let spec = run::build_spec(&o).unwrap();
    let resolved = spec.resolve(10).unwrap();
    let layout = ParamLayout::new(&spec, &resolved);
    let mut init = layout.init(&spec, o.seed);
    let k = layout.offset(0, Role::Kernel);
    init[k + 3] = bad;
    let data = Dataset::load_source(&o.data_root, &o.dataset).unwrap();
    let err = run::train_spec(gpu, &o, spec, data, Some(init))
        .err()
        .unwrap_or_else(|| panic!("{preset} with a {bad} weight trained without an error"));
    let text = format!("{err:#}");
    for f in ["model.safetensors", "state.safetensors", "metrics.csv"] {
        assert!(!o.out.join(f).exists(), "{preset}: {f} was written");
    }
    assert!(
        !o.out.join(".dae.lock").exists(),
        "{preset}: lock left behind"
    );
    let _ = std::fs::remove_dir_all(&o.out);
    text
}

#[test]
fn softmax_cross_entropy_divergence_stops_the_run() {
    if gpu().is_none() {
        return;
    }
    let e = diverges("sp-mlp", f32::NAN, "xent");
    assert!(e.contains("diverged in epoch 1"), "{e}");
    assert!(e.contains("--lr 0.1"), "names the learning rate: {e}");
    assert!(e.contains("No checkpoint was written"), "{e}");
}

#[test]
fn bce_divergence_stops_the_run() {
    if gpu().is_none() {
        return;
    }
    let e = diverges("sp-dae", f32::INFINITY, "bce");
    assert!(e.contains("diverged in epoch 1"), "{e}");
    assert!(e.contains("--noise salt-pepper"), "names the noise: {e}");
}

#[test]
fn mse_divergence_stops_the_run() {
    if gpu().is_none() {
        return;
    }
    let e = diverges("shallow-ae", f32::NEG_INFINITY, "mse");
    assert!(e.contains("diverged in epoch 1"), "{e}");
}

#[test]
fn eval_refuses_non_finite_weights_and_statistics() {
    let Some(gpu) = gpu() else { return };
    let o = opts("mlp-dae", "evalnan");
    let mut o1 = o.clone();
    o1.epochs = Some(1);
    o1.train_limit = Some(256);
    run::train(gpu, &o1).unwrap();
    let path = o.out.join("model.safetensors");
    let ck = dae::report::load_checkpoint(&path).unwrap();
    for (tensor, bad) in [
        ("dense/kernel", f32::NAN),
        ("batch_normalization/moving_variance", f32::INFINITY),
    ] {
        let mut tensors = ck.tensors.clone();
        let t = tensors
            .iter_mut()
            .find(|t| t.0 == tensor)
            .unwrap_or_else(|| {
                panic!(
                    "no {tensor} in {:?}",
                    ck.tensors.iter().map(|t| &t.0).collect::<Vec<_>>()
                )
            });
        t.2[1] = bad;
        let bad_path = o.out.join("bad.safetensors");
        dae::report::save_checkpoint(&bad_path, &tensors, ck.metadata.clone()).unwrap();
        let e = run::EvalOptions {
            data_root: Dataset::default_root(),
            test_limit: Some(50),
            ..Default::default()
        };
        let err = format!("{:#}", run::eval(gpu, &bad_path, &e).unwrap_err());
        assert!(
            err.contains(tensor) && err.contains("non-finite"),
            "{tensor}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&o.out);
}

#[test]
fn a_non_finite_parameter_is_flagged_when_the_sums_are_read() {
    let Some(gpu) = gpu() else { return };
    let o = opts("mlp-dae", "paramflag");
    let spec = run::build_spec(&o).unwrap();
    let resolved = spec.resolve(10).unwrap();
    let layout = ParamLayout::new(&spec, &resolved);
    let data = Dataset::load_source(&o.data_root, &o.dataset).unwrap();
    let clean = layout.init(&spec, 1);
    let t = dae::train::Trainer::new(gpu, spec.clone(), &data, Some(clean.clone()), 1).unwrap();
    assert_eq!(t.sums().unwrap()[dae::train::PARAMS_NONFINITE], 0.0);
    // The last running variance: read by no training step, only by the
    // parameter check (and by evaluation).
    let e = layout.entries.last().unwrap();
    assert_eq!(e.role, Role::MovingVariance);
    let mut bad = clean;
    bad[e.offset + e.len - 1] = f32::INFINITY;
    let t = dae::train::Trainer::new(gpu, spec, &data, Some(bad), 1).unwrap();
    assert_eq!(t.sums().unwrap()[dae::train::PARAMS_NONFINITE], 1.0);
}
