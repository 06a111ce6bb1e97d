//! The stacked study: shallow, layer-wise pretrained and fine-tuned
//! autoencoders and denoising autoencoders; interpolation in their code
//! spaces; a walk from pure noise to the data manifold.

use std::path::PathBuf;

use rand::{rngs::StdRng, Rng, SeedableRng};

use super::{ExperimentOptions, Report};
use crate::data::Dataset;
use crate::gpu::{Gpu, Program, StepInfo};
use crate::kernels::activation::{self, Activation};
use crate::kernels::analysis;
use crate::kernels::noise::Noise;
use crate::nn::params::ParamLayout;
use crate::nn::presets::preset;
use crate::nn::{Act, Layer, ModelSpec, Shape};
use crate::report::{self, Checkpoint, Csv, GridText};
use crate::run;
use crate::train::infer::Inference;
use crate::train::Trainer;

const PRETRAIN_EPOCHS: usize = 5;
const FINETUNE_EPOCHS: usize = 5;

fn dense_ae(name: &str, input: usize, hidden: usize, noise: Noise, epochs: usize) -> ModelSpec {
    let mut s = preset("shallow-ae").expect("shallow-ae preset");
    s.name = name.into();
    s.input = Shape::flat(input);
    s.layers = vec![
        Layer::dense(hidden, Act::Relu),
        Layer::dense(input, Act::Sigmoid),
    ];
    s.noise = noise;
    s.epochs = epochs;
    s
}

/// The stacked model, 784 → 512 → 128 → 512 → 784: the deep-ae preset.
fn stacked(name: &str, noise: Noise, epochs: usize) -> ModelSpec {
    let mut s = preset("deep-ae").expect("deep-ae preset");
    s.name = name.into();
    s.noise = noise;
    s.epochs = epochs;
    s
}

fn params_of(spec: &ModelSpec, ck: &Checkpoint) -> anyhow::Result<Vec<f32>> {
    let layout = Inference::layout(spec)?;
    let mut p = vec![0.0; layout.total_len];
    run::copy_named(&mut p, &layout, ck, 0..spec.layers.len(), |n| n.into())?;
    Ok(p)
}

/// One of the six models: its spec, parameters and encoder depth.
struct Model {
    label: String,
    spec: ModelSpec,
    params: Vec<f32>,
    encoder_layers: usize,
}

impl Model {
    fn split(&self) -> (ModelSpec, ModelSpec, Vec<f32>, Vec<f32>, usize) {
        let r = self.spec.resolve_layers().expect("resolved before");
        let enc = ModelSpec {
            layers: self.spec.layers[..self.encoder_layers].to_vec(),
            ..self.spec.clone()
        };
        let mut dec = ModelSpec {
            input: r.outputs[self.encoder_layers - 1],
            layers: self.spec.layers[self.encoder_layers..].to_vec(),
            ..self.spec.clone()
        };
        // Keep the full model's layer names so its checkpoint maps 1:1.
        for (i, l) in dec.layers.iter_mut().enumerate() {
            l.name = r.names[self.encoder_layers + i].clone();
        }
        let layout = ParamLayout::new(&self.spec, &r);
        let pick = |sub: &ModelSpec, range: std::ops::Range<usize>| -> Vec<f32> {
            let sl = Inference::layout(sub).expect("sub-model layout");
            let mut out = vec![0.0; sl.total_len];
            for e in &sl.entries {
                let src = layout
                    .entries
                    .iter()
                    .find(|f| f.name == e.name && range.contains(&f.layer))
                    .expect("same names");
                out[e.offset..e.offset + e.len]
                    .copy_from_slice(&self.params[src.offset..src.offset + src.len]);
            }
            out
        };
        let pe = pick(&enc, 0..self.encoder_layers);
        let pd = pick(&dec, self.encoder_layers..self.spec.layers.len());
        let code = r.outputs[self.encoder_layers - 1].size();
        (enc, dec, pe, pd, code)
    }
}

fn image(data: &Dataset, i: usize) -> Vec<f32> {
    data.test_images[i * 784..(i + 1) * 784]
        .iter()
        .map(|&b| b as f32 / 255.0)
        .collect()
}

pub fn run(gpu: &Gpu, o: &ExperimentOptions) -> anyhow::Result<PathBuf> {
    let full = o.load()?;
    // The study trains on the first 50,000 training images and validates
    // (each epoch's "test" figures) on the last 10,000; the final table
    // scores every model on the test set.
    let split = full.split_train(50_000);
    let mut rep = Report::default();
    rep.heading(1, &format!("stacked study on {}", o.dataset));
    rep.para(&format!(
        "Adapter: {} ({:?}). Scale {} (epochs × {}), seed {}. Training uses the first 50,000 training images; each training's per-epoch \
         validation figures (metrics.csv) come from the last 10,000, the table below from the test set.",
        gpu.info.name, gpu.info.backend, o.scale, o.scale, o.seed
    ));
    let limit = Some(o.train_limit.unwrap_or(50_000).min(50_000));
    let epochs = |n: usize| o.epochs(n);
    let opts = |sub: &str| {
        let mut t = o.train("shallow-ae", sub, 1);
        t.train_limit = limit;
        t
    };
    let train =
        |spec: ModelSpec, sub: &str, init: Option<Vec<f32>>| -> anyhow::Result<Checkpoint> {
            let mut spec = spec;
            spec.train_limit = limit;
            let t = opts(sub);
            run::train_spec(gpu, &t, spec, split.clone(), init)?;
            Ok(report::load_checkpoint(&t.out.join("model.safetensors"))?)
        };

    let mut models: Vec<Model> = Vec::new();
    for (kind, noise_shallow, noise_deep) in [
        ("AE", Noise::None, Noise::None),
        (
            "DAE",
            Noise::Gaussian {
                sigma: 0.4,
                clip: false,
            },
            Noise::Gaussian {
                sigma: 0.2,
                clip: false,
            },
        ),
    ] {
        let k = kind.to_lowercase();
        // Shallow: 784 → 128 → 784.
        let shallow = dense_ae(
            &format!("shallow-{k}"),
            784,
            128,
            noise_shallow,
            epochs(if kind == "AE" { 5 } else { 10 }),
        );
        let ck = train(shallow.clone(), &format!("shallow-{k}"), None)?;
        models.push(Model {
            label: format!("shallow {kind}"),
            params: params_of(&shallow, &ck)?,
            spec: shallow,
            encoder_layers: 1,
        });
        // Level 1: 784 → 512 → 784.
        let l1 = dense_ae(
            &format!("{k}-level1"),
            784,
            512,
            noise_deep,
            epochs(PRETRAIN_EPOCHS),
        );
        let ck1 = train(l1, &format!("{k}-level1"), None)?;
        // Level 2: the frozen level-1 encoder computes codes on the GPU in
        // the same pass; a 512 → 128 → 512 AE learns to reconstruct them.
        let mut l2 = dense_ae(
            &format!("{k}-level2"),
            784,
            128,
            noise_deep,
            epochs(PRETRAIN_EPOCHS),
        );
        l2.noise = Noise::None;
        let mut layers = vec![Layer::dense(512, Act::Relu).frozen()];
        if let Noise::Gaussian { .. } = noise_deep {
            layers.push(Layer::noise(noise_deep));
        }
        layers.push(Layer::dense(128, Act::Relu));
        layers.push(Layer::dense(512, Act::Sigmoid));
        l2.layers = layers;
        l2.target_layer = Some(0);
        let l2_layout = Inference::layout(&l2)?;
        let mut l2_init = l2_layout.init(&l2, o.seed);
        run::copy_named(&mut l2_init, &l2_layout, &ck1, 0..1, |n| n.into())?;
        let ck2 = train(l2, &format!("{k}-level2"), Some(l2_init))?;
        // Stacked: enc1, enc2, dec2, dec1 from the two levels.
        let st = stacked(&format!("stacked-{k}"), noise_deep, epochs(FINETUNE_EPOCHS));
        let st_layout = Inference::layout(&st)?;
        let mut st_params = vec![0.0; st_layout.total_len];
        run::copy_named(&mut st_params, &st_layout, &ck1, 0..1, |n| n.into())?;
        // Level 2 names its trainable layers dense_1 and dense_2, as the
        // stack does (its noise layer does not count).
        run::copy_named(&mut st_params, &st_layout, &ck2, 1..3, |n| n.to_string())?;
        run::copy_named(&mut st_params, &st_layout, &ck1, 3..4, |n| {
            n.replace("dense_3", "dense_1")
        })?;
        models.push(Model {
            label: format!("layer-wise {kind}"),
            spec: st.clone(),
            params: st_params.clone(),
            encoder_layers: 2,
        });
        // Fine-tuned: the stack trained further end to end.
        let ckf = train(st.clone(), &format!("finetuned-{k}"), Some(st_params))?;
        models.push(Model {
            label: format!("fine-tuned {kind}"),
            params: params_of(&st, &ckf)?,
            spec: st,
            encoder_layers: 2,
        });
    }

    // Test MSE of all six on clean test images.
    let mut csv = Csv::new(&["model", "test_mse"]);
    let mut rows = Vec::new();
    for m in &models {
        let mut s = m.spec.clone();
        s.noise = Noise::None;
        s.train_limit = Some(s.batch_size);
        let mut t = Trainer::new(gpu, s, &full, Some(m.params.clone()), o.seed)?;
        let (mse, _) = t.evaluate()?;
        csv.push_row(&[m.label.clone(), format!("{mse:.6}")]);
        rows.push(vec![m.label.clone(), format!("{mse:.5}")]);
    }
    csv.save(&o.out.join("test_mse.csv"))?;
    rep.heading(2, "Test MSE of the six models");
    rep.para(
        "Reconstruction MSE on the clean test images. Shallow: 784-128-784 (AE 5 epochs; DAE 10 epochs with \
         N(0, 0.4²)). Layer-wise: two shallow AEs [512, 128] trained 5 epochs each, the second on the first's \
         codes (DAE: N(0, 0.2²) on each level's input), stacked with the pretrained weights. Fine-tuned: the \
         stack trained 5 more epochs end to end.",
    );
    rep.table(&["model", "test MSE"], &rows);

    // Interpolation strips: a same-class and a different-class pair.
    let labels = &full.test_labels;
    let b = 5.min(labels.len() - 1);
    let c = (b + 1).min(labels.len() - 1);
    let a = (0..labels.len())
        .find(|&i| i != b && labels[i] == labels[b])
        .unwrap_or(0);
    let alphas: Vec<f32> = (0..=10).map(|i| i as f32 / 10.0).collect();
    rep.heading(2, "Interpolating codes");
    rep.para(&format!(
        "z = a·z1 + (1 − a)·z2 for a = 0.0, 0.1 … 1.0, decoded; top row a same-class pair (test images {a} and {b}, \
         both {}), bottom row a different-class pair (test images {b} and {c}: {} and {}).",
        labels[b], labels[b], labels[c]
    ));
    let alpha_t = gpu.upload_f32("alphas", &alphas)?;
    for (mi, m) in models.iter().enumerate() {
        let (enc_s, dec_s, pe, pd, code) = m.split();
        let enc = Inference::new(gpu, &enc_s, &pe, 2)?;
        let dec = Inference::new(gpu, &dec_s, &pd, alphas.len())?;
        let mut strip: Vec<Vec<f32>> = Vec::new();
        for (p, q) in [(a, b), (b, c)] {
            let mut two = image(&full, p);
            two.extend(image(&full, q));
            let z = enc.run_on(&two)?;
            let z1 = gpu.upload_f32("z1", &z[..code])?;
            let z2 = gpu.upload_f32("z2", &z[code..2 * code])?;
            let mut prog = Program::default();
            prog.push(analysis::lerp_rows(
                gpu,
                dec.input(),
                &z1,
                &z2,
                &alpha_t,
                alphas.len(),
                code,
            )?);
            prog.run(gpu, &StepInfo::default())?;
            dec.run()?;
            let out = gpu.read_f32(dec.output())?;
            strip.extend((0..alphas.len()).map(|i| out[i * 784..(i + 1) * 784].to_vec()));
        }
        let refs: Vec<&[f32]> = strip.iter().map(|v| v.as_slice()).collect();
        let file = format!("interpolation_{mi}.png");
        report::image_grid(
            &o.out.join(&file),
            &refs,
            28,
            28,
            alphas.len(),
            2,
            &GridText {
                title: Some(format!("{}: decoded a·z1 + (1 − a)·z2", m.label)),
                row_labels: vec!["same class".into(), "different".into()],
                captions: alphas
                    .iter()
                    .chain(&alphas)
                    .map(|a| format!("a={a:.1}"))
                    .collect(),
                ..Default::default()
            },
        )?;
        rep.image(&m.label, &file);
    }

    // The walk from pure noise with the shallow DAE: x ← x + η(r(x) − x),
    // each step renormalised to [0, 1].
    let dae = models
        .iter()
        .find(|m| m.label == "shallow DAE")
        .expect("trained above");
    let walkers = 6;
    let model = Inference::new(gpu, &dae.spec, &dae.params, walkers)?;
    let mut rng = StdRng::seed_from_u64(o.seed);
    let x0: Vec<f32> = (0..walkers * 784).map(|_| rng.random::<f32>()).collect();
    gpu.write_f32(model.input(), &x0);
    let next = gpu.zeros("walk next", walkers * 784)?;
    let eta = 0.5;
    let mut step = Program::default();
    step.push(analysis::walk_step(
        gpu,
        &next,
        model.input(),
        model.output(),
        eta,
        true,
        walkers,
        784,
    )?);
    step.push(activation::forward(
        gpu,
        model.input(),
        &next,
        walkers * 784,
        Activation::Identity,
    )?);
    let shots = [0usize, 1, 2, 3, 5, 8, 13, 20, 30, 50];
    let mut frames: Vec<Vec<f32>> = vec![Vec::new(); walkers];
    let mut done = 0;
    for &s in &shots {
        while done < s {
            model.run()?;
            step.run(gpu, &StepInfo::default())?;
            done += 1;
        }
        let x = gpu.read_f32(model.input())?;
        for w in 0..walkers {
            frames[w].extend_from_slice(&x[w * 784..(w + 1) * 784]);
        }
    }
    let refs: Vec<&[f32]> = frames.iter().flat_map(|f| f.chunks(784)).collect();
    report::image_grid(
        &o.out.join("manifold_walk.png"),
        &refs,
        28,
        28,
        shots.len(),
        2,
        &GridText {
            title: Some(format!(
                "walk from noise: x ← x + {eta}·(r(x) − x), renormalised"
            )),
            captions: (0..walkers)
                .flat_map(|_| shots.iter().map(|s| format!("step {s}")))
                .collect(),
            ..Default::default()
        },
    )?;
    rep.heading(2, "Walking from noise to the data manifold");
    rep.para(&format!(
        "{walkers} walkers start from uniform noise; each step moves x a fraction η = {eta} towards the shallow DAE's \
         reconstruction r(x) and rescales it to [0, 1] (a walk_step kernel); columns are steps {shots:?}."
    ));
    rep.image("manifold walk", "manifold_walk.png");
    let path = o.out.join("report.md");
    rep.save(&path)?;
    Ok(path)
}
