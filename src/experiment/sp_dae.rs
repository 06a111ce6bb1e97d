//! The sp-dae study: an MLP, an L2 sweep, a CNN, a salt-and-pepper DAE, and
//! the CNN's accuracy on noisy versus denoised test images.

use std::path::PathBuf;

use super::{ExperimentOptions, Report};
use crate::gpu::{Gpu, Program, StepInfo};
use crate::kernels::noise::{self, Noise};
use crate::nn::params::ParamLayout;
use crate::nn::presets::preset;
use crate::nn::{Layer, LayerSpec, ModelSpec};
use crate::report::{self, Csv, GridText, Series};
use crate::run::{self, RunResult};
use crate::train::infer::Inference;
use crate::train::Trainer;

/// The L2 factors of the sweep: linspace(1e-6, 1e-3, 5).
pub fn l2_factors() -> Vec<f32> {
    (0..5)
        .map(|i| (1e-6 + (1e-3 - 1e-6) * i as f64 / 4.0) as f32)
        .collect()
}

/// The salt-and-pepper levels of the sweep: linspace(0, 1, 6).
pub const LEVELS: [f32; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];

fn acc(r: &RunResult) -> f64 {
    r.history.last().and_then(|m| m.test_acc).unwrap_or(0.0)
}

fn named(layers: &[LayerSpec], names: &[String], prefix: &str) -> Vec<LayerSpec> {
    layers
        .iter()
        .zip(names)
        .map(|(l, n)| {
            let mut l = l.clone();
            l.name = format!("{prefix}/{n}");
            l
        })
        .collect()
}

pub fn run(gpu: &Gpu, o: &ExperimentOptions) -> anyhow::Result<PathBuf> {
    let data = o.load()?;
    let mut rep = Report::default();
    rep.heading(1, &format!("sp-dae study on {}", o.dataset));
    rep.para(&format!(
        "Adapter: {} ({:?}). Scale {} (epochs × {}), seed {}.",
        gpu.info.name, gpu.info.backend, o.scale, o.scale, o.seed
    ));

    // 1. The MLP.
    let mlp = run::train_on(gpu, &o.train("sp-mlp", "sp-mlp", 10), data.clone())?;
    rep.heading(2, "MLP 784-64-64-10, SGD 0.1");
    rep.para(&format!(
        "Test accuracy after {}: {:.2}% (study: 97.25% after 10).",
        super::epochs_text(mlp.history.len()),
        100.0 * acc(&mlp)
    ));

    // 2. The L2 sweep: 5 factors x 3 seeds.
    let mut sweep = Csv::new(&["l2", "seed", "test_accuracy"]);
    let mut points = Vec::new();
    let mut errs = Vec::new();
    let mut rows = Vec::new();
    for (i, f) in l2_factors().into_iter().enumerate() {
        let mut accs = Vec::new();
        for run_i in 0..3u64 {
            let mut t = o.train("sp-mlp-l2", &format!("l2/{i}-{run_i}"), 40);
            t.l2 = Some(f);
            t.seed = o.seed + run_i;
            let r = run::train_on(gpu, &t, data.clone())?;
            sweep.push_row(&[
                format!("{f:e}"),
                t.seed.to_string(),
                format!("{:.4}", acc(&r)),
            ]);
            accs.push(acc(&r));
        }
        let mean = accs.iter().sum::<f64>() / 3.0;
        let std = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
        points.push((f as f64, mean));
        errs.push(std);
        rows.push(vec![
            format!("{f:.2e}"),
            format!("{:.2}%", 100.0 * mean),
            format!("{:.2}%", 100.0 * std),
        ]);
    }
    sweep.save(&o.out.join("l2_sweep.csv"))?;
    report::line_plot(
        &o.out.join("l2_sweep.png"),
        "784-500-300-10 with L2: test accuracy (mean ± std of 3 runs)",
        "L2 factor",
        "test accuracy",
        &[Series::new("test accuracy", points).with_errors(errs)],
    )?;
    rep.heading(2, "L2 sweep");
    rep.para("784-500-300-10, SGD 0.1, batch 128, L2 on the kernels; three seeds per factor (study: best 98.26%).");
    rep.table(&["L2", "mean test accuracy", "std"], &rows);
    rep.image("L2 sweep", "l2_sweep.png");

    // 3. The CNN and 4. the salt-and-pepper DAE.
    let cnn_opts = o.train("sp-cnn", "sp-cnn", 10);
    let cnn = run::train_on(gpu, &cnn_opts, data.clone())?;
    let dae_opts = o.train("sp-dae", "sp-dae", 32);
    let dae = run::train_on(gpu, &dae_opts, data.clone())?;
    rep.heading(2, "CNN and salt-and-pepper DAE");
    rep.para(&format!(
        "The CNN (Conv 32 → Conv 64 → MaxPool 3 → Dropout 0.4 → Dense 64 → 10, SGD 0.1) reaches {:.2}% test \
         accuracy after {} (study: 99.08% after 10). The DAE 784-128-96-128-784 (BCE, Adam, batch 64), \
         trained at p = 0.4 for {}, ends at test BCE {:.4}.",
        100.0 * acc(&cnn),
        super::epochs_text(cnn.history.len()),
        super::epochs_text(dae.history.len()),
        dae.history.last().map_or(0.0, |m| m.test_loss)
    ));

    // 5. The noise sweep: grids, and the CNN on noisy vs denoised images.
    let cnn_ck = report::load_checkpoint(&cnn_opts.out.join("model.safetensors"))?;
    let dae_ck = report::load_checkpoint(&dae_opts.out.join("model.safetensors"))?;
    let dae_spec = preset("sp-dae").map_err(anyhow::Error::msg)?;
    let dae_r = dae_spec.resolve(10).map_err(anyhow::Error::msg)?;
    let dae_layout = ParamLayout::new(&dae_spec, &dae_r);
    let mut dae_params = vec![0.0; dae_layout.total_len];
    run::copy_named(
        &mut dae_params,
        &dae_layout,
        &dae_ck,
        0..dae_spec.layers.len(),
        |n| n.into(),
    )?;
    let cnn_spec = preset("sp-cnn").map_err(anyhow::Error::msg)?;
    let cnn_r = cnn_spec.resolve(10).map_err(anyhow::Error::msg)?;
    // DAE then CNN in one model: the DAE's sigmoid output, reshaped to an
    // image, is the CNN's input; evaluation runs on the GPU end to end.
    let mut layers = named(&dae_spec.layers, &dae_r.names, "dae");
    let n_dae = layers.len();
    layers.push(Layer::reshape(28, 28, 1));
    layers.extend(named(&cnn_spec.layers, &cnn_r.names, "cnn"));
    let chain = ModelSpec {
        name: "sp-dae + sp-cnn".into(),
        layers,
        ..cnn_spec.clone()
    };
    let chain_r = chain.resolve(10).map_err(anyhow::Error::msg)?;
    let chain_layout = ParamLayout::new(&chain, &chain_r);
    let mut chain_params = vec![0.0; chain_layout.total_len];
    let strip = |p: &'static str| move |n: &str| n.strip_prefix(p).unwrap_or(n).to_string();
    run::copy_named(
        &mut chain_params,
        &chain_layout,
        &dae_ck,
        0..n_dae,
        strip("dae/"),
    )?;
    run::copy_named(
        &mut chain_params,
        &chain_layout,
        &cnn_ck,
        n_dae + 1..chain.layers.len(),
        strip("cnn/"),
    )?;
    let mut cnn_params = vec![0.0; ParamLayout::new(&cnn_spec, &cnn_r).total_len];
    run::copy_named(
        &mut cnn_params,
        &ParamLayout::new(&cnn_spec, &cnn_r),
        &cnn_ck,
        0..cnn_spec.layers.len(),
        |n| n.into(),
    )?;
    let mut table = Csv::new(&["p", "cnn_acc_noisy", "cnn_acc_denoised", "dae_test_bce"]);
    let mut noisy_pts = Vec::new();
    let mut denoised_pts = Vec::new();
    let mut grids: Vec<(f32, String)> = Vec::new();
    let mut rows = Vec::new();
    let n_img = 10.min(data.test_labels.len());
    let ids: Vec<u32> = (0..n_img as u32).collect();
    for p in LEVELS {
        let noise = Noise::SaltPepper { p };
        let with = |mut s: ModelSpec| {
            s.noise = noise;
            s.batch_size = 128;
            s.train_limit = Some(128);
            s
        };
        let mut t = Trainer::new(
            gpu,
            with(dae_spec.clone()),
            &data,
            Some(dae_params.clone()),
            o.seed,
        )?;
        let (bce, _) = t.evaluate()?;
        let (clean, noisy, out) = t.test_outputs_for(&ids)?;
        let mut images: Vec<&[f32]> = Vec::new();
        for set in [&clean, &noisy, &out] {
            images.extend((0..n_img).map(|i| &set[i * 784..(i + 1) * 784]));
        }
        let file = format!("salt_pepper_{p:.1}.png");
        report::image_grid(
            &o.out.join(&file),
            &images,
            28,
            28,
            n_img,
            2,
            &GridText {
                title: Some(format!("salt-and-pepper p = {p:.1}")),
                row_labels: vec!["clean".into(), "noisy".into(), "denoised".into()],
                ..Default::default()
            },
        )?;
        let mut tn = Trainer::new(
            gpu,
            with(cnn_spec.clone()),
            &data,
            Some(cnn_params.clone()),
            o.seed,
        )?;
        let noisy_acc = tn.evaluate()?.1.unwrap_or(0.0);
        let mut td = Trainer::new(
            gpu,
            with(chain.clone()),
            &data,
            Some(chain_params.clone()),
            o.seed,
        )?;
        let den_acc = td.evaluate()?.1.unwrap_or(0.0);
        table.push_row(&[
            format!("{p:.1}"),
            format!("{noisy_acc:.4}"),
            format!("{den_acc:.4}"),
            format!("{bce:.5}"),
        ]);
        noisy_pts.push((p as f64, noisy_acc));
        denoised_pts.push((p as f64, den_acc));
        rows.push(vec![
            format!("{p:.1}"),
            format!("{:.2}%", 100.0 * noisy_acc),
            format!("{:.2}%", 100.0 * den_acc),
            format!("[grid]({file})"),
        ]);
        grids.push((p, file));
    }
    table.save(&o.out.join("noise_sweep.csv"))?;
    report::line_plot(
        &o.out.join("noise_sweep.png"),
        "CNN test accuracy under salt-and-pepper noise",
        "noise level p",
        "test accuracy",
        &[
            Series::new("noisy input", noisy_pts),
            Series::new("denoised by the DAE", denoised_pts),
        ],
    )?;
    rep.heading(2, "Noisy versus denoised test images");
    rep.para(
        "For each p, every test pixel is kept with probability 1 − p, else set to 0 or 1 with equal odds; the \
         CNN classifies the noisy images, and the same images after the DAE (the two models chained on the GPU).",
    );
    rep.table(&["p", "CNN on noisy", "CNN on denoised", "images"], &rows);
    rep.image("accuracy against p", "noise_sweep.png");
    for (p, file) in &grids {
        rep.image(&format!("salt-and-pepper p = {p:.1}"), file);
    }

    // 6. Synthetic digits: the DAE's 96-d codes of 10 test images, perturbed
    // on the GPU by N(0, σ²) and decoded.
    let enc_spec = ModelSpec {
        layers: named(&dae_spec.layers[..2], &dae_r.names[..2], "enc"),
        ..dae_spec.clone()
    };
    let dec_spec = ModelSpec {
        input: dae_r.outputs[1],
        layers: named(&dae_spec.layers[2..], &dae_r.names[2..], "dec"),
        ..dae_spec.clone()
    };
    let part = |spec: &ModelSpec, prefix: &'static str| -> anyhow::Result<Vec<f32>> {
        let layout = Inference::layout(spec)?;
        let mut p = vec![0.0; layout.total_len];
        run::copy_named(
            &mut p,
            &layout,
            &dae_ck,
            0..spec.layers.len(),
            strip(prefix),
        )?;
        Ok(p)
    };
    let enc = Inference::new(gpu, &enc_spec, &part(&enc_spec, "enc/")?, n_img)?;
    let dec = Inference::new(gpu, &dec_spec, &part(&dec_spec, "dec/")?, n_img)?;
    let clean: Vec<f32> = data.test_images[..n_img * 784]
        .iter()
        .map(|&b| b as f32 / 255.0)
        .collect();
    enc.run_on(&clean)?;
    let code_len = n_img * dae_r.outputs[1].size();
    let sigmas = [0.0f32, 0.5, 1.0, 2.0];
    let mut images: Vec<Vec<f32>> = Vec::new();
    for (k, sigma) in sigmas.iter().enumerate() {
        let mut prog = Program::default();
        prog.push(noise::apply(
            gpu,
            dec.input(),
            enc.output(),
            code_len,
            Noise::Gaussian {
                sigma: *sigma,
                clip: false,
            },
            7,
        )?);
        prog.run(
            gpu,
            &StepInfo {
                seed: o.seed as u32,
                step: k as u32,
                ..Default::default()
            },
        )?;
        dec.run()?;
        let out = gpu.read_f32(dec.output())?;
        images.extend((0..n_img).map(|i| out[i * 784..(i + 1) * 784].to_vec()));
    }
    let refs: Vec<&[f32]> = images.iter().map(|v| v.as_slice()).collect();
    report::image_grid(
        &o.out.join("synthetic_digits.png"),
        &refs,
        28,
        28,
        n_img,
        2,
        &GridText {
            title: Some("decoded codes z + N(0, σ²) of 10 test images".into()),
            row_labels: sigmas.iter().map(|s| format!("σ = {s}")).collect(),
            ..Default::default()
        },
    )?;
    rep.heading(2, "Synthetic digits");
    rep.para("Each row decodes the 96-d codes of the same 10 test images after adding Gaussian noise of the given σ.");
    rep.image("synthetic digits", "synthetic_digits.png");
    let path = o.out.join("report.md");
    rep.save(&path)?;
    Ok(path)
}
