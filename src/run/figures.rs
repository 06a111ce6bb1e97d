//! The figures a run rewrites after every epoch: the loss curve, and the
//! accuracy curve (classifiers) or test reconstructions (autoencoders).

use std::path::Path;

use crate::nn::ModelSpec;
use crate::report;
use crate::train::{EpochMetrics, Trainer};

/// `(h, w, c)` is the shape of the dataset's images.
pub(crate) fn write_figures(
    trainer: &mut Trainer,
    spec: &ModelSpec,
    history: &[EpochMetrics],
    out: &Path,
    (h, w, c): (usize, usize, usize),
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
    } else if spec.target_layer.is_none() && h * w * c == spec.input.size() {
        // Reconstructions of the input image (not of inner codes); images
        // of several channels are drawn as their first channel, in gray.
        let n = 10;
        let (clean, noisy, recon) = trainer.test_outputs(n)?;
        let f = h * w * c;
        let n = clean.len() / f;
        let gray = |set: &[f32], i: usize| -> Vec<f32> {
            set[i * f..(i + 1) * f].iter().step_by(c).copied().collect()
        };
        let mut owned: Vec<Vec<f32>> = Vec::new();
        for set in [&clean, &noisy, &recon] {
            for i in 0..n {
                owned.push(gray(set, i));
            }
        }
        let images: Vec<&[f32]> = owned.iter().map(|v| v.as_slice()).collect();
        // Captions: each reconstruction's MSE against its clean image.
        let mut captions = vec![String::new(); 2 * n];
        for i in 0..n {
            let c = &clean[i * f..(i + 1) * f];
            let r = &recon[i * f..(i + 1) * f];
            let mse = c
                .iter()
                .zip(r)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                / f as f64;
            captions.push(format!("MSE {mse:.4}"));
        }
        let text = report::GridText {
            title: Some(format!("{}: test images (noise {})", spec.name, spec.noise)),
            row_labels: vec!["clean".into(), "noisy".into(), "output".into()],
            captions,
            ..Default::default()
        };
        // Small images are drawn larger, so the grid stays readable.
        let scale = (56 / h.max(w).max(1)).clamp(1, 8);
        report::image_grid(
            &out.join("reconstructions.png"),
            &images,
            h,
            w,
            n,
            scale,
            &text,
        )?;
    }
    Ok(())
}
