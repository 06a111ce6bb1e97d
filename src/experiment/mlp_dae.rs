//! The mlp-dae study: the deep dense DAE trained on Gaussian noise, scored
//! under uniform noise of five intensities, and a classifier on its codes
//! beside the same classifier on raw pixels.

use std::path::PathBuf;

use rand::seq::index::sample;
use rand::{rngs::StdRng, SeedableRng};

use super::{ExperimentOptions, Report};
use crate::gpu::Gpu;
use crate::kernels::noise::Noise;
use crate::nn::params::ParamLayout;
use crate::nn::presets::preset;
use crate::report::{self, Csv, GridText};
use crate::run;
use crate::train::Trainer;

/// The uniform-noise intensities of the study.
pub const LEVELS: [f32; 5] = [0.1, 0.2, 0.3, 0.4, 0.5];

pub fn run(gpu: &Gpu, o: &ExperimentOptions) -> anyhow::Result<PathBuf> {
    let data = o.load()?;
    let mut rep = Report::default();
    rep.heading(1, &format!("mlp-dae study on {}", o.dataset));
    rep.para(&format!(
        "Adapter: {} ({:?}). Scale {} (epochs × {}), seed {}.",
        gpu.info.name, gpu.info.backend, o.scale, o.scale, o.seed
    ));

    // 1. The DAE, trained on x + 0.1·N(0,1), clipped.
    let t0 = std::time::Instant::now();
    let dae_opts = o.train("mlp-dae", "mlp-dae", 100);
    let dae = run::train_on(gpu, &dae_opts, data.clone())?;
    let last = dae.history.last().expect("at least one epoch");
    rep.heading(2, "The denoising autoencoder");
    rep.para(&format!(
        "784-512-512-256-196-256-512-784 with BatchNorm, dropout 0.2 and LeakyReLU, trained {} on \
         Gaussian noise (σ = 0.1, clipped) with MSE and Adam: train MSE {:.5}, test MSE {:.5} ({:.0} s). \
         Per-epoch figures are in `mlp-dae/metrics.csv`.",
        super::epochs_text(dae.history.len()),
        last.train_loss,
        last.test_loss,
        t0.elapsed().as_secs_f64()
    ));
    rep.image("loss per epoch", "mlp-dae/loss.png");
    let ck = dae_opts.out.join("model.safetensors");

    // 2. Denoising under uniform noise it was not trained on.
    let spec = preset("mlp-dae").map_err(anyhow::Error::msg)?;
    let layout = ParamLayout::new(&spec, &spec.resolve(10).map_err(anyhow::Error::msg)?);
    let (params, _) = run::load_params(&ck, &layout)?;
    let mut rng = StdRng::seed_from_u64(o.seed);
    let n_test = data.test_labels.len();
    let ids: Vec<u32> = sample(&mut rng, n_test, 10.min(n_test))
        .into_iter()
        .map(|i| i as u32)
        .collect();
    let mut table = Csv::new(&["level", "test_mse"]);
    let mut rows = Vec::new();
    rep.heading(2, "Denoising uniform noise");
    rep.para(
        "Each test image gets x + P·U(−1, 1), clipped to [0, 1], for five intensities P; the table gives the \
         mean reconstruction MSE against the clean images over the whole test set, and each grid shows 10 \
         random test images (clean, noisy, denoised) with each reconstruction's MSE under it.",
    );
    for level in LEVELS {
        let mut s = spec.clone();
        s.noise = Noise::Uniform { level };
        s.train_limit = Some(s.batch_size);
        let mut t = Trainer::new(gpu, s, &data, Some(params.clone()), o.seed)?;
        let (mse, _) = t.evaluate()?;
        let (clean, noisy, out) = t.test_outputs_for(&ids)?;
        let n = ids.len();
        let img = |v: &Vec<f32>, i: usize| v[i * 784..(i + 1) * 784].to_vec();
        let mut images: Vec<Vec<f32>> = Vec::new();
        for set in [&clean, &noisy, &out] {
            images.extend((0..n).map(|i| img(set, i)));
        }
        let mut captions = vec![String::new(); 2 * n];
        for i in 0..n {
            let e = clean[i * 784..(i + 1) * 784]
                .iter()
                .zip(&out[i * 784..(i + 1) * 784])
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                / 784.0;
            captions.push(format!("MSE {e:.4}"));
        }
        let file = format!("uniform_{level:.1}.png");
        let refs: Vec<&[f32]> = images.iter().map(|v| v.as_slice()).collect();
        report::image_grid(
            &o.out.join(&file),
            &refs,
            28,
            28,
            n,
            2,
            &GridText {
                title: Some(format!("uniform noise P = {level:.1}: test MSE {mse:.5}")),
                row_labels: vec!["clean".into(), "noisy".into(), "denoised".into()],
                captions,
                ..Default::default()
            },
        )?;
        table.push_row(&[format!("{level:.1}"), format!("{mse:.6}")]);
        rows.push(vec![
            format!("{level:.1}"),
            format!("{mse:.5}"),
            format!("[grid]({file})"),
        ]);
    }
    table.save(&o.out.join("uniform_noise.csv"))?;
    rep.table(&["P", "test MSE", "images"], &rows);
    for level in LEVELS {
        rep.image(
            &format!("uniform noise P = {level:.1}"),
            &format!("uniform_{level:.1}.png"),
        );
    }

    // 3. The classifier on the DAE's codes beside the same one on pixels.
    let mut code_opts = o.train("code-classifier", "code-classifier", 100);
    code_opts.encoder = Some(ck.clone());
    let code = run::train_on(gpu, &code_opts, data.clone())?;
    let raw_opts = o.train("raw-classifier", "raw-classifier", 100);
    let raw = run::train_on(gpu, &raw_opts, data)?;
    let acc = |r: &run::RunResult| r.history.last().and_then(|m| m.test_acc).unwrap_or(0.0);
    let mut cls = Csv::new(&["model", "inputs", "epochs", "test_accuracy", "test_loss"]);
    for (name, inputs, r) in [
        ("code-classifier", "196-d DAE codes", &code),
        ("raw-classifier", "784 pixels", &raw),
    ] {
        let m = r.history.last().expect("at least one epoch");
        cls.push_row(&[
            name.to_string(),
            inputs.to_string(),
            r.history.len().to_string(),
            format!("{:.4}", acc(r)),
            format!("{:.5}", m.test_loss),
        ]);
    }
    cls.save(&o.out.join("classifiers.csv"))?;
    rep.heading(2, "Classifying codes versus pixels");
    rep.para(
        "The same head (Dense 64 → Dropout → Dense 32 → Dropout → BatchNorm → Dense 10 softmax, Adam, batch 128) \
         trained on the frozen encoder's 196-d codes and on the raw 784 pixels:",
    );
    rep.table(
        &["model", "inputs", "epochs", "test accuracy"],
        &[
            vec![
                "code-classifier".into(),
                "196-d DAE codes".into(),
                code.history.len().to_string(),
                format!("{:.2}%", 100.0 * acc(&code)),
            ],
            vec![
                "raw-classifier".into(),
                "784 pixels".into(),
                raw.history.len().to_string(),
                format!("{:.2}%", 100.0 * acc(&raw)),
            ],
        ],
    );
    rep.image("code classifier accuracy", "code-classifier/accuracy.png");
    rep.image("raw classifier accuracy", "raw-classifier/accuracy.png");
    let path = o.out.join("report.md");
    rep.save(&path)?;
    Ok(path)
}
