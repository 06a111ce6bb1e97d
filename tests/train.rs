//! End-to-end training on the GPU: losses fall, seeds reproduce, files are
//! written and checkpoints evaluate to the same numbers.

mod common;

use std::path::PathBuf;

use common::gpu;
use dae::data::{Dataset, DatasetName};
use dae::run::{self, TrainOptions};

fn opts(preset: &str, tag: &str) -> TrainOptions {
    let out = std::env::temp_dir().join(format!("dae-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut o = TrainOptions::new(preset, DatasetName::Mnist, out);
    o.epochs = Some(1);
    o.train_limit = Some(2048);
    o.test_limit = Some(500);
    o
}

fn read_csv(path: &PathBuf) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// Scores the checkpoint `o` wrote with its own dataset and noise, on the
/// test images it was trained with.
fn eval_checkpoint(
    gpu: &dae::gpu::Gpu,
    o: &TrainOptions,
) -> (dae::nn::ModelSpec, f64, Option<f64>) {
    let e = run::EvalOptions {
        test_limit: o.test_limit,
        data_root: Dataset::default_root(),
        ..Default::default()
    };
    let r = run::eval(gpu, &o.out.join("model.safetensors"), &e).unwrap();
    (r.spec, r.loss, r.accuracy)
}

#[test]
fn sp_mlp_learns_and_writes_its_files() {
    let Some(gpu) = gpu() else { return };
    let mut o = opts("sp-mlp", "spmlp");
    o.epochs = Some(3);
    o.train_limit = Some(6000);
    o.test_limit = Some(1000);
    let r = run::train(gpu, &o).unwrap();
    let last = r.history.last().unwrap();
    // 3 epochs of SGD on 6,000 images (141 steps) reach about 83%; chance is 10%.
    assert!(
        last.test_acc.unwrap() > 0.75,
        "test accuracy {:?}",
        last.test_acc
    );
    assert!(r.history[2].train_loss < r.history[0].train_loss);
    for f in [
        "metrics.csv",
        "model.safetensors",
        "loss.png",
        "accuracy.png",
    ] {
        assert!(o.out.join(f).exists(), "{f} missing");
    }
    let rows = read_csv(&o.out.join("metrics.csv"));
    assert_eq!(rows.len(), 4, "header + 3 epochs");
    assert_eq!(rows[0][0], "epoch");
    // The checkpoint scores exactly what the last epoch reported.
    let (_, loss, acc) = eval_checkpoint(gpu, &o);
    assert_eq!(loss, last.test_loss);
    assert_eq!(acc, last.test_acc);
    let _ = std::fs::remove_dir_all(&o.out);
}

#[test]
fn mlp_dae_loss_falls_each_epoch() {
    let Some(gpu) = gpu() else { return };
    let mut o = opts("mlp-dae", "mlpdae");
    o.epochs = Some(3);
    let r = run::train(gpu, &o).unwrap();
    let losses: Vec<f64> = r.history.iter().map(|m| m.train_loss).collect();
    assert!(
        losses.windows(2).all(|w| w[1] < w[0]),
        "train losses {losses:?}"
    );
    let test: Vec<f64> = r.history.iter().map(|m| m.test_loss).collect();
    assert!(test[2] < test[0], "test losses {test:?}");
    assert!(o.out.join("reconstructions.png").exists());
    let _ = std::fs::remove_dir_all(&o.out);
}

#[test]
fn bce_autoencoder_loss_falls() {
    let Some(gpu) = gpu() else { return };
    let mut o = opts("sp-dae", "spdae");
    o.epochs = Some(2);
    let r = run::train(gpu, &o).unwrap();
    assert!(r.history[1].train_loss < r.history[0].train_loss);
    // BCE of an untrained sigmoid output on MNIST is about 0.69.
    assert!(r.history[1].test_loss < 0.35, "{:?}", r.history[1]);
    let _ = std::fs::remove_dir_all(&o.out);
}

#[test]
fn same_seed_gives_the_same_numbers() {
    let Some(gpu) = gpu() else { return };
    let run_once = |seed: u64, tag: &str| {
        let mut o = opts("shallow-dae", tag);
        o.seed = seed;
        o.train_limit = Some(640);
        o.test_limit = Some(200);
        let r = run::train(gpu, &o).unwrap();
        let _ = std::fs::remove_dir_all(&o.out);
        (r.history[0].train_loss, r.history[0].test_loss)
    };
    let a = run_once(5, "seed-a");
    let b = run_once(5, "seed-b");
    let c = run_once(6, "seed-c");
    assert_eq!(a, b, "same seed, different numbers");
    assert_ne!(a, c, "different seeds, same numbers");
}

fn tensor(path: &std::path::Path, name: &str) -> Vec<f32> {
    dae::report::load_checkpoint(path)
        .unwrap()
        .get(name)
        .unwrap()
        .2
        .clone()
}

#[test]
fn conv_classifier_trains_on_a_frozen_encoder() {
    let Some(gpu) = gpu() else { return };
    let mut ae = opts("conv-dae", "cdae");
    ae.train_limit = Some(512);
    ae.test_limit = Some(256);
    let r = run::train(gpu, &ae).unwrap();
    assert!(r.history[0].test_loss < 0.69, "{:?}", r.history[0]);
    let ae_ck = ae.out.join("model.safetensors");

    let mut cl = opts("conv-dae-classifier", "cdae-cl");
    cl.train_limit = Some(512);
    cl.test_limit = Some(256);
    cl.encoder = Some(ae_ck.clone());
    run::train(gpu, &cl).unwrap();
    let cl_ck = cl.out.join("model.safetensors");
    // Frozen layers keep the encoder's weights exactly; the last conv
    // starts from them and trains.
    for name in ["conv2d/kernel", "conv2d/bias", "conv2d_1/kernel"] {
        assert_eq!(tensor(&ae_ck, name), tensor(&cl_ck, name), "{name} changed");
    }
    assert_ne!(
        tensor(&ae_ck, "conv2d_2/kernel"),
        tensor(&cl_ck, "conv2d_2/kernel")
    );

    // Without --encoder the classifier says what to do.
    let mut bare = opts("conv-dae-classifier", "cdae-bare");
    bare.train_limit = Some(256);
    let err = run::train(gpu, &bare).err().unwrap().to_string();
    assert!(err.contains("--encoder"), "{err}");
    for o in [ae, cl, bare] {
        let _ = std::fs::remove_dir_all(&o.out);
    }
}

#[test]
fn code_classifier_keeps_the_mlp_dae_encoder_frozen() {
    let Some(gpu) = gpu() else { return };
    let mut ae = opts("mlp-dae", "mlp-enc");
    ae.train_limit = Some(512);
    ae.test_limit = Some(256);
    run::train(gpu, &ae).unwrap();
    let ae_ck = ae.out.join("model.safetensors");
    let mut cl = opts("code-classifier", "mlp-enc-cl");
    cl.train_limit = Some(1024);
    cl.test_limit = Some(256);
    cl.epochs = Some(2);
    cl.encoder = Some(ae_ck.clone());
    let r = run::train(gpu, &cl).unwrap();
    // 16 Adam steps from a random head: the loss falls from ln 10 ≈ 2.3.
    assert!(
        r.history[1].train_loss < r.history[0].train_loss,
        "{:?}",
        r.history
    );
    let cl_ck = cl.out.join("model.safetensors");
    for name in [
        "dense/kernel",
        "dense_3/kernel",
        "batch_normalization/moving_mean",
        "batch_normalization_2/gamma",
    ] {
        assert_eq!(tensor(&ae_ck, name), tensor(&cl_ck, name), "{name} changed");
    }
    for o in [ae, cl] {
        let _ = std::fs::remove_dir_all(&o.out);
    }
}

#[test]
fn a_checkpoint_of_a_non_preset_model_evaluates_from_its_stored_spec() {
    use dae::nn::{presets::preset, Layer};
    let Some(gpu) = gpu() else { return };
    // shallow-ae with 32 hidden units under a name no preset has: only the
    // spec stored in the checkpoint can rebuild it.
    let mut spec = preset("shallow-ae").unwrap();
    spec.name = "custom-ae-32".into();
    match &mut spec.layers[0].layer {
        Layer::Dense { units, .. } => *units = 32,
        other => panic!("shallow-ae starts with {other:?}"),
    }
    spec.train_limit = Some(1024);
    let mut o = opts("shallow-ae", "customspec");
    o.test_limit = None;
    let data = Dataset::load_source(&o.data_root, &o.dataset).unwrap();
    let r = run::train_spec(gpu, &o, spec.clone(), data, None).unwrap();
    let (back, loss, _) = eval_checkpoint(gpu, &o);
    assert_eq!(back.name, "custom-ae-32");
    assert_eq!(back.layers, spec.layers);
    assert_eq!(back.loss, spec.loss);
    assert_eq!(loss, r.history.last().unwrap().test_loss);
    let _ = std::fs::remove_dir_all(&o.out);
}

#[test]
fn a_noisy_model_evaluates_to_what_training_reported() {
    let Some(gpu) = gpu() else { return };
    // Gaussian input noise and batch 32: eval must draw the same noise with
    // the run's seed and add the same batches up in the same order.
    let mut o = opts("shallow-dae", "noisyeval");
    o.seed = 7;
    o.train_limit = Some(640);
    o.test_limit = Some(333);
    let r = run::train(gpu, &o).unwrap();
    let (_, loss, _) = eval_checkpoint(gpu, &o);
    assert_eq!(loss, r.history[0].test_loss);
    let _ = std::fs::remove_dir_all(&o.out);
}

#[test]
fn batchnorm_statistics_do_not_see_padding_rows() {
    let Some(gpu) = gpu() else { return };
    // 1,000 images at batch 1,000 and at batch 4,000 are the same single
    // batch: BatchNorm's statistics must cover the same rows.
    let run_at = |batch: usize, tag: &str| {
        let mut o = opts("mlp-dae", tag);
        o.train_limit = Some(1000);
        o.test_limit = Some(300);
        o.batch_size = Some(batch);
        let r = run::train(gpu, &o).unwrap();
        let _ = std::fs::remove_dir_all(&o.out);
        (r.history[0].train_loss, r.history[0].test_loss)
    };
    assert_eq!(run_at(1000, "bn1000"), run_at(4000, "bn4000"));
}
