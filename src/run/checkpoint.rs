//! The clean weights file of a run (`model.safetensors`): one named tensor
//! per parameter, Keras names, the run's settings and its whole model spec
//! as metadata; loading it into a parameter layout, by name.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};

use crate::nn::params::ParamLayout;
use crate::nn::ModelSpec;
use crate::report;

use super::TrainOptions;

/// Checkpoint metadata: enough to rebuild the spec for `dae eval` and to
/// evaluate it as training did (seed, batch size, test limit).
pub(crate) fn metadata(
    spec: &ModelSpec,
    o: &TrainOptions,
    epochs_done: usize,
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("format".into(), "dae-checkpoint-1".into());
    m.insert("preset".into(), spec.name.clone());
    // The whole spec, so that models built outside the presets (the
    // studies' stacked levels, fine-tuned stacks) can be rebuilt too.
    if let Ok(json) = serde_json::to_string(spec) {
        m.insert("spec".into(), json);
    }
    // The same model as a model file (`dae spec --checkpoint`), readable
    // without dae.
    m.insert("model".into(), crate::nn::file::to_toml(spec));
    let source = o
        .dataset
        .clone()
        .absolute()
        .unwrap_or_else(|_| o.dataset.clone());
    m.insert("dataset".into(), source.to_json());
    m.insert("noise".into(), spec.noise.to_string());
    m.insert("l2".into(), spec.l2.to_string());
    m.insert("batch_size".into(), spec.batch_size.to_string());
    m.insert("epochs_done".into(), epochs_done.to_string());
    m.insert("seed".into(), o.seed.to_string());
    if let Some(n) = o.test_limit {
        m.insert("test_limit".into(), n.to_string());
    }
    m
}

/// The named tensors of a parameter buffer.
pub(crate) fn named_tensors(layout: &ParamLayout, params: &[f32]) -> Vec<report::NamedTensor> {
    layout
        .entries
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                e.shape.clone(),
                params[e.offset..e.offset + e.len].to_vec(),
            )
        })
        .collect()
}

/// Saves the parameter buffer as one named tensor per parameter.
pub fn save_checkpoint(
    path: &Path,
    layout: &ParamLayout,
    params: &[f32],
    meta: BTreeMap<String, String>,
) -> anyhow::Result<()> {
    report::save_checkpoint(path, &named_tensors(layout, params), meta)
        .with_context(|| format!("writing checkpoint {}", path.display()))?;
    Ok(())
}

/// The first tensor of `layout` holding a NaN or an infinity, with its
/// first bad value.
pub fn first_nonfinite(layout: &ParamLayout, params: &[f32]) -> Option<(String, f32)> {
    layout.entries.iter().find_map(|e| {
        params[e.offset..e.offset + e.len]
            .iter()
            .find(|v| !v.is_finite())
            .map(|v| (e.name.clone(), *v))
    })
}

/// Loads a checkpoint into a parameter buffer of `layout`, checking that
/// every tensor is present with the right shape and every value finite.
pub fn load_params(
    path: &Path,
    layout: &ParamLayout,
) -> anyhow::Result<(Vec<f32>, BTreeMap<String, String>)> {
    let ck = report::load_checkpoint(path)?;
    let mut out = vec![0.0f32; layout.total_len];
    for e in &layout.entries {
        let Some((_, shape, data)) = ck.get(&e.name) else {
            bail!(
                "checkpoint {} has no tensor {:?}; it was written for a different model",
                path.display(),
                e.name
            );
        };
        if *shape != e.shape {
            bail!(
                "checkpoint {}: tensor {} has shape {:?}, the model expects {:?}",
                path.display(),
                e.name,
                shape,
                e.shape
            );
        }
        out[e.offset..e.offset + e.len].copy_from_slice(data);
    }
    if let Some((name, v)) = first_nonfinite(layout, &out) {
        bail!(
            "checkpoint {}: tensor {name} holds {v}; a model with non-finite weights or \
             BatchNorm statistics computes nothing meaningful. Fix: use a checkpoint of a run \
             that did not diverge (dae keeps the last finite one), or retrain with a lower \
             learning rate",
            path.display()
        );
    }
    Ok((out, ck.metadata))
}

/// Copies into `params` every parameter of the layers in `layers` from the
/// checkpoint tensor named `rename(name)`, checking shapes.
pub fn copy_named(
    params: &mut [f32],
    layout: &ParamLayout,
    ck: &report::Checkpoint,
    layers: std::ops::Range<usize>,
    rename: impl Fn(&str) -> String,
) -> anyhow::Result<()> {
    for e in layout.entries.iter().filter(|e| layers.contains(&e.layer)) {
        let source = rename(&e.name);
        let Some((_, shape, data)) = ck.get(&source) else {
            bail!("the checkpoint has no tensor {source:?} (for {})", e.name);
        };
        if *shape != e.shape {
            bail!(
                "tensor {source} has shape {:?}, but {} needs {:?}",
                shape,
                e.name,
                e.shape
            );
        }
        params[e.offset..e.offset + e.len].copy_from_slice(data);
    }
    Ok(())
}

/// Initial parameters for a spec built on a trained encoder: seeded values,
/// with the encoder's layers replaced by the checkpoint's tensors of the
/// same names and shapes. `None` for specs without an encoder.
pub(crate) fn encoder_init(spec: &ModelSpec, o: &TrainOptions) -> anyhow::Result<Option<Vec<f32>>> {
    if spec.encoder_layers == 0 {
        if o.encoder.is_some() {
            bail!("--encoder: preset {} does not take an encoder", spec.name);
        }
        return Ok(None);
    }
    let from = spec.encoder_from.clone().unwrap_or_default();
    let Some(path) = &o.encoder else {
        bail!(
            "preset {} classifies with a trained {from} encoder. Fix: train one first \
             (dae train --preset {from} --out DIR) and pass --encoder DIR/model.safetensors",
            spec.name
        );
    };
    if !path.exists() {
        bail!("--encoder: {} does not exist", path.display());
    }
    let resolved = spec.resolve(10).map_err(anyhow::Error::msg)?;
    let layout = ParamLayout::new(spec, &resolved);
    let mut params = layout.init(spec, o.seed);
    let ck = report::load_checkpoint(path)?;
    copy_named(&mut params, &layout, &ck, 0..spec.encoder_layers, |n| {
        n.to_string()
    })
    .with_context(|| {
        format!(
            "--encoder {}: pass a checkpoint of a {from} run",
            path.display()
        )
    })?;
    Ok(Some(params))
}
