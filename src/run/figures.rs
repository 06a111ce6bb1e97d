//! The figures a run rewrites after every epoch: the loss curve, and the
//! accuracy curve (classifiers) or test reconstructions (autoencoders).

use std::path::Path;

use crate::nn::ModelSpec;
use crate::report;
use crate::train::{EpochMetrics, Trainer};

pub(crate) fn write_figures(
    trainer: &mut Trainer,
    spec: &ModelSpec,
    history: &[EpochMetrics],
    out: &Path,
) -> anyhow::Result<()> {
    let series = |name: &str, f: &dyn Fn(&EpochMetrics) -> f64| report::Series {
        name: name.to_string(),
        points: history.iter().map(|m| (m.epoch as f64, f(m))).collect(),
        y_err: None,
    };
    report::line_plot(
        &out.join("loss.png"),
        &format!("{}: loss per epoch", spec.name),
        "epoch",
        spec.loss.name(),
        &[
            series("train", &|m| m.train_loss),
            series("test", &|m| m.test_loss),
        ],
    )?;
    if spec.loss.is_classifier() {
        report::line_plot(
            &out.join("accuracy.png"),
            &format!("{}: accuracy per epoch", spec.name),
            "epoch",
            "accuracy",
            &[
                series("train", &|m| m.train_acc.unwrap_or(0.0)),
                series("test", &|m| m.test_acc.unwrap_or(0.0)),
            ],
        )?;
    } else if spec.target_layer.is_none() && spec.input.size() == 784 {
        // Reconstructions of the input image (not of inner codes).
        let n = 10;
        let (clean, noisy, recon) = trainer.test_outputs(n)?;
        let n = clean.len() / 784;
        let mut images: Vec<&[f32]> = Vec::new();
        for set in [&clean, &noisy, &recon] {
            for i in 0..n {
                images.push(&set[i * 784..(i + 1) * 784]);
            }
        }
        // Captions: each reconstruction's MSE against its clean image.
        let mut captions = vec![String::new(); 2 * n];
        for i in 0..n {
            let c = &clean[i * 784..(i + 1) * 784];
            let r = &recon[i * 784..(i + 1) * 784];
            let mse = c
                .iter()
                .zip(r)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                / 784.0;
            captions.push(format!("MSE {mse:.4}"));
        }
        let text = report::GridText {
            title: Some(format!("{}: test images (noise {})", spec.name, spec.noise)),
            row_labels: vec!["clean".into(), "noisy".into(), "output".into()],
            captions,
            ..Default::default()
        };
        report::image_grid(
            &out.join("reconstructions.png"),
            &images,
            28,
            28,
            n,
            2,
            &text,
        )?;
    }
    Ok(())
}
