//! Model files on the command line: `--model FILE`, `dae summary` and
//! `dae spec`.

use std::path::Path;

use anyhow::{bail, Context};

use dae::nn::params::ParamLayout;
use dae::nn::{file, presets, summary as nn_summary, ModelSpec};

/// Reads and checks a model file: its fields, then its shapes, before any
/// data loads or the GPU opens. Every error names the file.
pub fn load(path: &Path) -> anyhow::Result<ModelSpec> {
    if !path.is_file() {
        bail!(
            "model file {} does not exist. Fix: pass a TOML model file (start from one: \
             `dae spec --preset conv-dae > model.toml`, or see examples/models/)",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading model file {}", path.display()))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let spec = file::parse(&text, &stem)
        .map_err(|e| anyhow::anyhow!("model file {}: {e}", path.display()))?;
    resolve(&spec).map_err(|e| anyhow::anyhow!("model file {}: {e}", path.display()))?;
    Ok(spec)
}

/// Resolves a model before its data is known: every layer's shape and the
/// loss's demands on the output, with a classifier's class count taken
/// from its own output (checked against the data's labels once they load).
fn resolve(spec: &ModelSpec) -> Result<dae::nn::Resolved, String> {
    let outputs = spec.resolve_layers()?.outputs;
    spec.resolve(outputs.last().map_or(0, |s| s.size()))
}

/// `dae summary --preset NAME` or `--model FILE`.
pub fn summary(preset: Option<&str>, model: Option<&Path>) -> anyhow::Result<()> {
    let spec = match (preset, model) {
        (_, Some(path)) => load(path)?,
        (Some(name), None) => presets::preset(name).map_err(anyhow::Error::msg)?,
        (None, None) => bail!("pass --preset NAME or --model FILE"),
    };
    let resolved = resolve(&spec).map_err(anyhow::Error::msg)?;
    let layout = ParamLayout::new(&spec, &resolved);
    print!("{}", nn_summary::summary(&spec, &resolved, &layout));
    Ok(())
}

/// `dae spec --preset NAME` or `--checkpoint FILE`: the model as a model
/// file, on stdout.
pub fn spec(preset: Option<&str>, checkpoint: Option<&Path>) -> anyhow::Result<()> {
    let spec = match (preset, checkpoint) {
        (_, Some(ck)) => checkpoint_spec(ck)?,
        (Some(name), None) => presets::preset(name).map_err(anyhow::Error::msg)?,
        (None, None) => bail!("pass --preset NAME or --checkpoint FILE"),
    };
    print!("{}", file::to_toml(&spec));
    Ok(())
}

/// The model a checkpoint stores: its model file, or (checkpoints written
/// before model files) its spec as JSON.
fn checkpoint_spec(ck: &Path) -> anyhow::Result<ModelSpec> {
    if !ck.is_file() {
        bail!(
            "checkpoint {} does not exist. Fix: pass a model.safetensors that `dae train` wrote",
            ck.display()
        );
    }
    let meta = dae::report::load_checkpoint(ck)?.metadata;
    if let Some(text) = meta.get("model") {
        return file::parse(text, "model")
            .map_err(|e| anyhow::anyhow!("checkpoint {}: its model file: {e}", ck.display()));
    }
    match meta.get("spec") {
        Some(json) => serde_json::from_str(json).map_err(|e| {
            anyhow::anyhow!(
                "checkpoint {}: its model spec does not parse ({e})",
                ck.display()
            )
        }),
        None => bail!(
            "checkpoint {} stores no model (written by an older dae); `dae spec --preset {}` \
             prints its preset",
            ck.display(),
            meta.get("preset").map_or("NAME", |s| s.as_str())
        ),
    }
}
