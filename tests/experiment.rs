//! Each implemented study runs at a tiny scale and writes every promised
//! file: valid PNGs, CSVs with the expected rows and columns, a report.

mod common;

use std::path::Path;

use common::gpu;
use dae::data::{Dataset, DatasetName};
use dae::experiment::{self, ExperimentOptions};

fn png_size(path: &Path) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let info = reader.info();
    (info.width, info.height)
}

/// Tiny-scale options writing into a fresh temporary folder.
fn tiny(tag: &str, dataset: DatasetName, train: usize, test: usize) -> ExperimentOptions {
    let out = std::env::temp_dir().join(format!("dae-exp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    ExperimentOptions {
        dataset,
        scale: 0.01,
        seed: 3,
        out,
        data_root: Dataset::default_root(),
        train_limit: Some(train),
        test_limit: Some(test),
        progress: false,
        checkpoint_every: None,
    }
}

fn csv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn mlp_dae_study_writes_every_file() {
    let Some(gpu) = gpu() else { return };
    let o = tiny("mlp", DatasetName::Mnist, 512, 300);
    let out = o.out.clone();
    let report = experiment::run(gpu, "mlp-dae", &o).unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    for p in ["0.1", "0.2", "0.3", "0.4", "0.5"] {
        let (w, h) = png_size(&out.join(format!("uniform_{p}.png")));
        assert!(w > 10 * 28 && h > 3 * 28, "grid {p} is {w}x{h}");
        assert!(text.contains(&format!("uniform_{p}.png")));
    }
    let noise = csv(&out.join("uniform_noise.csv"));
    assert_eq!(noise.len(), 6, "header + 5 levels");
    assert_eq!(noise[0], ["level", "test_mse"]);
    assert!(noise[1..]
        .iter()
        .all(|r| r[1].parse::<f64>().unwrap() > 0.0));
    let cls = csv(&out.join("classifiers.csv"));
    assert_eq!(cls.len(), 3, "header + 2 classifiers");
    assert_eq!(cls[1][0], "code-classifier");
    assert_eq!(cls[2][0], "raw-classifier");
    for sub in ["mlp-dae", "code-classifier", "raw-classifier"] {
        assert!(out.join(sub).join("model.safetensors").exists(), "{sub}");
        png_size(&out.join(sub).join("loss.png"));
    }
    png_size(&out.join("mlp-dae/reconstructions.png"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn conv_dae_study_writes_every_file() {
    let Some(gpu) = gpu() else { return };
    let o = tiny("conv", DatasetName::Mnist, 256, 200);
    let out = o.out.clone();
    let report = experiment::run(gpu, "conv-dae", &o).unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    let (w, h) = png_size(&out.join("masked_reconstructions.png"));
    assert!(w > 10 * 28 && h > 3 * 28, "grid is {w}x{h}");
    assert!(text.contains("masked_reconstructions.png"));
    let hist = csv(&out.join("conv_dae_history.csv"));
    assert_eq!(hist.len(), 2, "header + 1 epoch");
    assert_eq!(hist[0], ["epoch", "train_bce", "test_bce"]);
    let acc = csv(&out.join("classifier_accuracy.csv"));
    assert_eq!(acc.len(), 2);
    assert_eq!(acc[0].len(), 4);
    let a: f64 = acc[1][2].parse().unwrap();
    assert!((0.0..=1.0).contains(&a));
    for sub in ["conv-dae", "conv-dae-classifier"] {
        assert!(out.join(sub).join("model.safetensors").exists(), "{sub}");
        png_size(&out.join(sub).join("loss.png"));
    }

    // Run again on the same folder: both trainings are complete, so they are
    // skipped (their files stay byte for byte) and the report is rebuilt.
    let model = |sub: &str| {
        dae::report::load_checkpoint(&out.join(sub).join("model.safetensors"))
            .unwrap()
            .tensors
    };
    let (dae0, cl0) = (model("conv-dae"), model("conv-dae-classifier"));
    let state0 = std::fs::metadata(out.join("conv-dae").join("state.safetensors"))
        .unwrap()
        .modified()
        .unwrap();
    std::fs::remove_file(&report).unwrap();
    experiment::run(gpu, "conv-dae", &o).unwrap();
    assert!(report.exists(), "report rebuilt");
    assert_eq!(model("conv-dae"), dae0);
    assert_eq!(model("conv-dae-classifier"), cl0);
    let state1 = std::fs::metadata(out.join("conv-dae").join("state.safetensors"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(state0, state1, "a finished training is not rewritten");
    // A training whose folder is gone is trained again, to the same bits.
    std::fs::remove_dir_all(out.join("conv-dae-classifier")).unwrap();
    experiment::run(gpu, "conv-dae", &o).unwrap();
    assert_eq!(model("conv-dae"), dae0);
    assert_eq!(model("conv-dae-classifier"), cl0);
    // Other settings on the same folder are refused, naming the difference.
    let mut other = o.clone();
    other.seed = 4;
    let err = format!(
        "{:#}",
        experiment::run(gpu, "conv-dae", &other).unwrap_err()
    );
    assert!(
        err.contains("other settings") && err.contains("seed"),
        "{err}"
    );
    assert_eq!(model("conv-dae"), dae0);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn sp_dae_study_writes_every_file() {
    let Some(gpu) = gpu() else { return };
    let o = tiny("sp", DatasetName::Mnist, 256, 200);
    let out = o.out.clone();
    let report = experiment::run(gpu, "sp-dae", &o).unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    for f in ["l2_sweep.png", "noise_sweep.png", "synthetic_digits.png"] {
        png_size(&out.join(f));
        assert!(text.contains(f), "{f} not in the report");
    }
    for p in ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"] {
        let (w, h) = png_size(&out.join(format!("salt_pepper_{p}.png")));
        assert!(w > 10 * 28 && h > 3 * 28, "grid {p} is {w}x{h}");
    }
    let sweep = csv(&out.join("l2_sweep.csv"));
    assert_eq!(sweep.len(), 1 + 15, "header + 5 factors x 3 runs");
    let noise = csv(&out.join("noise_sweep.csv"));
    assert_eq!(noise.len(), 7, "header + 6 levels");
    assert_eq!(
        noise[0],
        ["p", "cnn_acc_noisy", "cnn_acc_denoised", "dae_test_bce"]
    );
    for r in &noise[1..] {
        for v in &r[1..3] {
            assert!((0.0..=1.0).contains(&v.parse::<f64>().unwrap()), "{r:?}");
        }
    }
    for sub in ["sp-mlp", "sp-cnn", "sp-dae"] {
        assert!(out.join(sub).join("model.safetensors").exists(), "{sub}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn fashion_cae_study_writes_every_file() {
    let Some(gpu) = gpu() else { return };
    let o = tiny("fcae", DatasetName::FashionMnist, 100, 200);
    let out = o.out.clone();
    let report = experiment::run(gpu, "fashion-cae", &o).unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    for f in [
        "loss_curves.png",
        "cae_reconstructions.png",
        "dcae_reconstructions.png",
        "cae_codes.png",
        "dcae_codes.png",
        "pca.png",
    ] {
        png_size(&out.join(f));
        assert!(text.contains(f), "{f} not in the report");
    }
    // One step of BatchNorm momentum 0.99 leaves 99% of the initial moving
    // averages: the report must warn that test-time figures lag.
    assert!(
        text.contains("after 1 step,") && text.contains("99.0% of their initial values"),
        "no BatchNorm warning in:\n{text}"
    );
    let table = csv(&out.join("loss_per_epoch.csv"));
    assert_eq!(table.len(), 3, "header + 1 epoch x 2 models");
    assert_eq!(table[0], ["model", "epoch", "train_bce", "test_bce"]);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn pca_finds_the_dominant_direction() {
    // Points spread along (1, 1, 0) with a little noise along (0, 0, 1):
    // the first component's projection must carry the spread.
    let n = 50;
    let mut x = Vec::new();
    for i in 0..n {
        let t = i as f32 - 25.0;
        x.extend([t, t, 0.01 * (i % 3) as f32]);
    }
    let p = dae::experiment::pca2(&x, n, 3);
    let var =
        |f: &dyn Fn(&(f64, f64)) -> f64| p.iter().map(|q| f(q).powi(2)).sum::<f64>() / n as f64;
    assert!(var(&|q| q.0) > 1000.0 * var(&|q| q.1));
}

#[test]
fn stacked_study_writes_every_file() {
    let Some(gpu) = gpu() else { return };
    let o = tiny("stacked", DatasetName::Mnist, 320, 200);
    let out = o.out.clone();
    let report = experiment::run(gpu, "stacked", &o).unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    let mse = csv(&out.join("test_mse.csv"));
    assert_eq!(mse.len(), 7, "header + six models");
    let labels: Vec<&str> = mse[1..].iter().map(|r| r[0].as_str()).collect();
    for want in [
        "shallow AE",
        "layer-wise AE",
        "fine-tuned AE",
        "shallow DAE",
        "layer-wise DAE",
        "fine-tuned DAE",
    ] {
        assert!(labels.contains(&want), "{want} missing from {labels:?}");
    }
    for i in 0..6 {
        let f = format!("interpolation_{i}.png");
        let (w, h) = png_size(&out.join(&f));
        assert!(w > 11 * 28 && h > 2 * 28, "{f} is {w}x{h}");
        assert!(text.contains(&f));
    }
    png_size(&out.join("manifold_walk.png"));
    // Each training validates on the last 10,000 training images, not on
    // the test set: `dae eval` reproduces a run's test figure bit for bit
    // on the same images, so on the test set it must differ from the
    // validation figure metrics.csv holds.
    let rows = csv(&out.join("shallow-ae/metrics.csv"));
    let col = rows[0].iter().position(|c| c == "test_loss").unwrap();
    let val: f64 = rows.last().unwrap()[col].parse().unwrap();
    let ev = dae::run::eval(
        gpu,
        &out.join("shallow-ae/model.safetensors"),
        &dae::run::EvalOptions {
            dataset: None,
            noise: None,
            test_limit: Some(200),
            data_root: Dataset::default_root(),
        },
    )
    .unwrap();
    assert!(
        (ev.loss - val).abs() > 1e-6 * val.abs(),
        "validation MSE {val} equals the test-set MSE {}: the study validated on the test set",
        ev.loss
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn unknown_study_is_named() {
    let Some(gpu) = gpu() else { return };
    let o = ExperimentOptions {
        dataset: DatasetName::Mnist,
        scale: 0.1,
        seed: 1,
        out: std::env::temp_dir().join("dae-exp-none"),
        data_root: Dataset::default_root(),
        train_limit: None,
        test_limit: None,
        progress: false,
        checkpoint_every: None,
    };
    let err = experiment::run(gpu, "nope", &o).unwrap_err().to_string();
    assert!(err.contains("mlp-dae"), "{err}");
}
