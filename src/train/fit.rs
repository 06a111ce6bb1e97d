//! Whether a model fits a dataset: its input takes the dataset's images and
//! a classifier has one output per class. Checked on the host, before a GPU
//! buffer is allocated, with a message that names both sides and the fix.

use crate::data::Dataset;
use crate::nn::{ModelSpec, Resolved, Shape};

/// Whether `input` takes images of (rows, cols, channels): the same image
/// shape, or a flat vector of as many values (a dense model).
pub fn input_fits(input: Shape, (rows, cols, channels): (usize, usize, usize)) -> bool {
    input == Shape::image(rows, cols, channels)
        || (input.is_flat() && input.elements() == Some((rows * cols * channels) as u64))
}

/// `spec` resolved for `data`'s classes, or why it cannot train on `data`.
pub fn check_fit(spec: &ModelSpec, data: &Dataset) -> Result<Resolved, String> {
    let (h, w, c) = data.image_shape();
    if !input_fits(spec.input, (h, w, c)) {
        let input = spec.input;
        let given = if input.is_flat() {
            format!("[{}]", input.c)
        } else {
            format!("[{}, {}, {}]", input.h, input.w, input.c)
        };
        return Err(format!(
            "model {} takes input {given} but the images of {} are {h}x{w}x{c} (HxWxC). Fix: \
             use a model whose input is [{h}, {w}, {c}] (or [{}] for a dense model), e.g. a model \
             file with input = [{h}, {w}, {c}]; the presets take the shipped datasets' 28x28x1",
            spec.name,
            data.source,
            h * w * c
        ));
    }
    let classes = data.num_classes;
    if spec.loss.is_classifier() {
        let resolved = spec.resolve_layers()?;
        let out = resolved.outputs.last().map_or(0, |s| s.size());
        if out != classes {
            return Err(format!(
                "model {} is a classifier with {out} outputs but {} has {classes} classes \
                 (labels 0..={}). Fix: end the model in a Dense layer of {classes} units",
                spec.name,
                data.source,
                classes - 1
            ));
        }
    }
    spec.resolve(classes)
        .map_err(|e| format!("model {}: {e}", spec.name))
}
