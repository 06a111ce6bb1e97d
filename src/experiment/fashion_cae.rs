//! The fashion-cae study: a convolutional autoencoder with BatchNorm and a
//! 2-D code, trained clean (CAE) and with Gaussian noise (DCAE); its codes
//! beside a PCA projection of the same images.

use std::path::PathBuf;

use rand::seq::index::sample;
use rand::{rngs::StdRng, SeedableRng};

use super::{ExperimentOptions, Report};
use crate::data::DatasetName;
use crate::gpu::Gpu;
use crate::kernels::noise::Noise;
use crate::nn::presets::preset;
use crate::nn::{Layer, ModelSpec};
use crate::report::{self, Csv, GridText, Series};
use crate::run::{self, RunResult};
use crate::train::infer::Inference;

/// Layers of fashion-cae up to and including the BatchNorm after the 2-unit
/// Dense layer: the encoder whose output is the 2-D code.
const ENCODER_LAYERS: usize = 9;

/// The top two principal components of `x` (n rows of d), by power
/// iteration with deflation on the covariance; returns the projections.
pub fn pca2(x: &[f32], n: usize, d: usize) -> Vec<(f64, f64)> {
    let mut mean = vec![0.0f64; d];
    for r in 0..n {
        for j in 0..d {
            mean[j] += x[r * d + j] as f64 / n as f64;
        }
    }
    let centred: Vec<f64> = (0..n * d).map(|i| x[i] as f64 - mean[i % d]).collect();
    // Covariance-vector product without forming the d×d matrix.
    let cov_mul = |v: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; d];
        for r in 0..n {
            let row = &centred[r * d..(r + 1) * d];
            let dot: f64 = row.iter().zip(v).map(|(a, b)| a * b).sum();
            for j in 0..d {
                out[j] += dot * row[j];
            }
        }
        out
    };
    let mut comps: Vec<Vec<f64>> = Vec::new();
    for c in 0..2 {
        let mut v: Vec<f64> = (0..d)
            .map(|j| ((j * 7 + c * 13) % 11) as f64 + 1.0)
            .collect();
        for _ in 0..100 {
            let mut w = cov_mul(&v);
            for p in &comps {
                let dot: f64 = w.iter().zip(p).map(|(a, b)| a * b).sum();
                for j in 0..d {
                    w[j] -= dot * p[j];
                }
            }
            let norm = w.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-300);
            v = w.into_iter().map(|a| a / norm).collect();
        }
        comps.push(v);
    }
    (0..n)
        .map(|r| {
            let row = &centred[r * d..(r + 1) * d];
            let p = |c: &Vec<f64>| row.iter().zip(c).map(|(a, b)| a * b).sum::<f64>();
            (p(&comps[0]), p(&comps[1]))
        })
        .collect()
}

fn by_class(
    points: &[(f64, f64)],
    labels: &[u8],
    names: &[&str; 10],
) -> Vec<(String, Vec<(f64, f64)>)> {
    (0..10)
        .map(|c| {
            let pts = points
                .iter()
                .zip(labels)
                .filter(|(_, &l)| l as usize == c)
                .map(|(p, _)| *p)
                .collect();
            (names[c].to_string(), pts)
        })
        .collect()
}

/// A warning when a short run leaves BatchNorm's moving averages close to
/// their initial values (mean 0, variance 1): inference then normalises
/// with statistics the model never trained with.
fn batchnorm_lag_note(r: &RunResult) -> Option<String> {
    let momentum = r.spec.layers.iter().find_map(|l| match l.layer {
        Layer::BatchNorm { momentum, .. } => Some(momentum as f64),
        _ => None,
    })?;
    let steps = r.steps_per_epoch * r.history.len();
    let carry = momentum.powi(steps as i32);
    (carry > 1e-3).then(|| {
        format!(
            "Caution: after {steps} step{}, BatchNorm's moving averages (momentum {momentum}) still carry \
             {:.1}% of their initial values (mean 0, variance 1). Where a layer's true variance is below \
             that, inference normalises far too little, so the test BCE, the reconstructions and the codes \
             lag the training loss; the study's 100 epochs of 600 steps are far past this.",
            if steps == 1 { "" } else { "s" },
            100.0 * carry
        )
    })
}

pub fn run(gpu: &Gpu, o: &ExperimentOptions) -> anyhow::Result<PathBuf> {
    let data = o.load()?;
    let mut rep = Report::default();
    rep.heading(1, &format!("fashion-cae study on {}", o.dataset));
    rep.para(&format!(
        "Adapter: {} ({:?}). Scale {} (epochs × {}), seed {}.",
        gpu.info.name, gpu.info.backend, o.scale, o.scale, o.seed
    ));
    if o.dataset != DatasetName::FashionMnist {
        rep.para("Note: the study is defined on Fashion-MNIST; this run uses another dataset.");
    }
    let names = o.dataset.class_names();
    let mut rng = StdRng::seed_from_u64(o.seed);
    let n_test = data.test_labels.len();
    let picks: Vec<usize> = sample(&mut rng, n_test, 500.min(n_test))
        .into_iter()
        .collect();
    let picked: Vec<f32> = picks
        .iter()
        .flat_map(|&i| {
            data.test_images[i * 784..(i + 1) * 784]
                .iter()
                .map(|&b| b as f32 / 255.0)
        })
        .collect();
    let labels: Vec<u8> = picks.iter().map(|&i| data.test_labels[i]).collect();

    let mut runs: Vec<(&str, RunResult)> = Vec::new();
    for (sub, noise) in [
        ("cae", Noise::None),
        (
            "dcae",
            Noise::Gaussian {
                sigma: 0.1,
                clip: true,
            },
        ),
    ] {
        let mut t = o.train("fashion-cae", sub, 100);
        t.noise = Some(noise);
        let r = run::train_on(gpu, &t, data.clone())?;
        runs.push((sub, r));
    }
    rep.heading(2, "Training");
    rep.para(
        "Conv 112 valid → BN → pool → Conv 112 valid → BN → pool → Dense 2 → BN → Dense 1024 → BN → (4,4,64) → BN \
         → up 3 → Conv 112 → BN → up 3 → Conv 112 → BN → Conv 1×1 sigmoid (306,699 parameters), BCE, Adam, batch \
         100; once on clean inputs (CAE) and once on x + 0.1·N(0,1), clipped (DCAE).",
    );
    let mut table = Csv::new(&["model", "epoch", "train_bce", "test_bce"]);
    let mut rows = Vec::new();
    let mut series = Vec::new();
    for (sub, r) in &runs {
        for m in &r.history {
            table.push_row(&[
                sub.to_string(),
                m.epoch.to_string(),
                format!("{:.5}", m.train_loss),
                format!("{:.5}", m.test_loss),
            ]);
            rows.push(vec![
                sub.to_uppercase(),
                m.epoch.to_string(),
                format!("{:.4}", m.train_loss),
                format!("{:.4}", m.test_loss),
            ]);
        }
        for (what, f) in [("train", true), ("test", false)] {
            series.push(Series::new(
                format!("{} {what}", sub.to_uppercase()),
                r.history
                    .iter()
                    .map(|m| (m.epoch as f64, if f { m.train_loss } else { m.test_loss }))
                    .collect(),
            ));
        }
    }
    table.save(&o.out.join("loss_per_epoch.csv"))?;
    report::line_plot(
        &o.out.join("loss_curves.png"),
        "fashion-cae: BCE per epoch",
        "epoch",
        "BCE",
        &series,
    )?;
    rep.table(&["model", "epoch", "train BCE", "test BCE"], &rows);
    rep.image("loss curves", "loss_curves.png");
    if let Some(note) = batchnorm_lag_note(&runs[0].1) {
        rep.para(&note);
    }

    let spec = preset("fashion-cae").map_err(anyhow::Error::msg)?;
    let enc_spec = ModelSpec {
        layers: spec.layers[..ENCODER_LAYERS].to_vec(),
        ..spec.clone()
    };
    for (sub, _) in &runs {
        let ck = report::load_checkpoint(&o.out.join(sub).join("model.safetensors"))?;
        // The first 10 test images and their reconstructions.
        let full_layout = Inference::layout(&spec)?;
        let mut params = vec![0.0; full_layout.total_len];
        run::copy_named(&mut params, &full_layout, &ck, 0..spec.layers.len(), |n| {
            n.into()
        })?;
        let n = 10.min(n_test);
        let model = Inference::new(gpu, &spec, &params, n)?;
        let first: Vec<f32> = data.test_images[..n * 784]
            .iter()
            .map(|&b| b as f32 / 255.0)
            .collect();
        let recon = model.run_on(&first)?;
        let mut images: Vec<&[f32]> = (0..n).map(|i| &first[i * 784..(i + 1) * 784]).collect();
        images.extend((0..n).map(|i| &recon[i * 784..(i + 1) * 784]));
        let file = format!("{sub}_reconstructions.png");
        report::image_grid(
            &o.out.join(&file),
            &images,
            28,
            28,
            n,
            2,
            &GridText {
                title: Some(format!("{}: first 10 test images", sub.to_uppercase())),
                row_labels: vec!["input".into(), "output".into()],
                ..Default::default()
            },
        )?;
        // The 2-D codes of 500 random test images.
        let enc_layout = Inference::layout(&enc_spec)?;
        let mut ep = vec![0.0; enc_layout.total_len];
        run::copy_named(&mut ep, &enc_layout, &ck, 0..ENCODER_LAYERS, |n| n.into())?;
        let enc = Inference::new(gpu, &enc_spec, &ep, 100)?;
        let mut codes = Vec::new();
        for chunk in picked.chunks(100 * 784) {
            let c = enc.run_on(chunk)?;
            codes.extend(c.chunks(2).map(|p| (p[0] as f64, p[1] as f64)));
        }
        let scatter = format!("{sub}_codes.png");
        report::scatter_plot(
            &o.out.join(&scatter),
            &format!(
                "{}: 2-D codes of {} test images",
                sub.to_uppercase(),
                codes.len()
            ),
            "code 1",
            "code 2",
            &by_class(&codes, &labels, names),
        )?;
        rep.heading(
            2,
            &format!("{}: reconstructions and codes", sub.to_uppercase()),
        );
        rep.para(&format!(
            "The first 10 test images and their reconstructions; the 2-D codes (the BatchNorm after Dense 2) of {} \
             random test images, coloured by class.",
            codes.len()
        ));
        rep.image("reconstructions", &file);
        rep.image("codes", &scatter);
    }
    let pca = pca2(&picked, labels.len(), 784);
    report::scatter_plot(
        &o.out.join("pca.png"),
        &format!("PCA of the same {} test images", labels.len()),
        "principal component 1",
        "principal component 2",
        &by_class(&pca, &labels, names),
    )?;
    rep.heading(2, "PCA of the same images");
    rep.para("The pixels of the same test images projected on their first two principal components, for comparison.");
    rep.image("PCA", "pca.png");
    let path = o.out.join("report.md");
    rep.save(&path)?;
    Ok(path)
}
