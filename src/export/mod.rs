//! `dae export`: a checkpoint as a self-contained model for PyTorch or
//! Keras 3.
//!
//! Each target writes two files into the output folder: `model.py`, whose
//! `build()` returns the framework's model for the checkpoint's spec and
//! whose `load(path=None)` returns it with the weights, and
//! `model.safetensors`, the weights in that framework's own layout and
//! names. Everything is computed in memory first (so a layer a target
//! cannot express is an error before anything is written), then each file
//! is written atomically.
//!
//! The checkpoint is read the way `dae eval` reads it:
//! [`crate::run::checkpoint_spec`] for the model and
//! [`crate::run::load_params`] for the tensors, checked by name and shape.

mod keras;
mod pytorch;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context};

use crate::nn::params::{ParamLayout, Role};
use crate::nn::{ModelSpec, Resolved, Shape};
use crate::report::{self, NamedTensor};

/// The framework a checkpoint is exported to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// PyTorch: an `nn.Sequential` over NCHW input, `state_dict` names.
    Pytorch,
    /// Keras 3: a `keras.Sequential` over NHWC input, dae's layer names.
    Keras,
}

impl Target {
    /// The name `--to` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Target::Pytorch => "pytorch",
            Target::Keras => "keras",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Target, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pytorch" | "torch" => Ok(Target::Pytorch),
            "keras" => Ok(Target::Keras),
            _ => Err(format!(
                "unknown export target {s:?}; accepted: pytorch, keras"
            )),
        }
    }
}

/// The name of the Python file an export writes.
pub const MODEL_PY: &str = "model.py";
/// The name of the weights file an export writes, beside [`MODEL_PY`].
pub const WEIGHTS: &str = "model.safetensors";

/// A checkpoint's model as the targets read it: the spec, its resolution
/// (layer names and shapes) and every tensor by its Keras-style name.
struct Model<'a> {
    /// The checkpoint's spec.
    spec: &'a ModelSpec,
    /// Its layers' names and shapes.
    resolved: &'a Resolved,
    layout: &'a ParamLayout,
    params: &'a [f32],
}

impl Model<'_> {
    /// Layer `layer`'s tensor of `role`, as dae stores it: (shape, values).
    ///
    /// # Panics
    /// If the layer has no such tensor (the targets ask only for tensors
    /// its kind has, and [`ParamLayout`] lays out all of them).
    fn tensor(&self, layer: usize, role: Role) -> (&[usize], &[f32]) {
        let e = self
            .layout
            .find(layer, role)
            .unwrap_or_else(|| panic!("layer {layer} has no {role:?}"));
        (&e.shape, &self.params[e.offset..e.offset + e.len])
    }
}

/// What a target produces: the text of `model.py` and the tensors of
/// `model.safetensors`.
pub struct Files {
    /// `model.py`.
    pub python: String,
    /// `model.safetensors`, in the target's layout and names.
    pub tensors: Vec<NamedTensor>,
}

/// Builds the files of `target` for the checkpoint at `checkpoint`,
/// without writing anything.
pub fn build(checkpoint: &Path, target: Target) -> anyhow::Result<Files> {
    if !checkpoint.exists() {
        bail!(
            "checkpoint {} does not exist. Fix: pass a model.safetensors that `dae train` or \
             `dae experiment` wrote (in its --out folder)",
            checkpoint.display()
        );
    }
    let ck = report::load_checkpoint(checkpoint)?;
    let spec = crate::run::checkpoint_spec(checkpoint, &ck)?;
    let resolved = spec.resolve_layers().map_err(|e| {
        anyhow::anyhow!(
            "checkpoint {}: its model spec is not a valid model: {e}",
            checkpoint.display()
        )
    })?;
    let layout = ParamLayout::try_new(&spec, &resolved).map_err(anyhow::Error::msg)?;
    let (params, _) = crate::run::load_params(checkpoint, &layout)?;
    for (i, name) in resolved.names.iter().enumerate() {
        check_name(i, name, target)?;
    }
    let model = Model {
        spec: &spec,
        resolved: &resolved,
        layout: &layout,
        params: &params,
    };
    let source = checkpoint.display().to_string();
    match target {
        Target::Pytorch => pytorch::files(&model, &source),
        Target::Keras => keras::files(&model, &source),
    }
}

/// `dae export`: writes `model.py` and `model.safetensors` for `target`
/// into `out`, refusing a folder that holds anything unless `overwrite`
/// (which replaces those two files and leaves others alone). Returns the
/// paths written.
pub fn export(
    checkpoint: &Path,
    target: Target,
    out: &Path,
    overwrite: bool,
) -> anyhow::Result<Vec<PathBuf>> {
    if out.is_file() {
        bail!("--out {} is a file; name a folder", out.display());
    }
    if !overwrite && out.is_dir() {
        let mut entries =
            std::fs::read_dir(out).with_context(|| format!("reading --out {}", out.display()))?;
        if entries.next().is_some() {
            bail!(
                "--out {} is not empty. Fix: name a new or empty folder, or pass --overwrite to \
                 replace its {MODEL_PY} and {WEIGHTS}",
                out.display()
            );
        }
    }
    let files = build(checkpoint, target)?;
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("format".to_string(), format!("dae-export-{target}-1"));
    meta.insert("source".to_string(), checkpoint.display().to_string());
    let weights = out.join(WEIGHTS);
    report::save_checkpoint(&weights, &files.tensors, meta)
        .with_context(|| format!("writing {}", weights.display()))?;
    let py = out.join(MODEL_PY);
    report::atomic_write(&py, files.python.as_bytes())
        .with_context(|| format!("writing {}", py.display()))?;
    Ok(vec![py, weights])
}

/// Layer names become Python identifiers and string literals: only ASCII
/// letters, digits and `_`, not starting with a digit.
fn check_name(i: usize, name: &str, target: Target) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        bail!(
            "layer {i} ({name:?}) cannot be exported to {target}: its name must hold only ASCII \
             letters, digits and _ (and not start with a digit). Fix: rename it in the model"
        );
    }
    Ok(())
}

/// One clear error when two of the modules or layers a target generates
/// share a name (the targets add `NAME_act`, `NAME_flatten`, ... beside
/// the model's own layers).
fn check_unique<'a>(
    names: impl IntoIterator<Item = &'a str>,
    target: Target,
) -> anyhow::Result<()> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name) {
            bail!(
                "layer {name:?} cannot be exported to {target}: the name is used twice among the \
                 generated layers (the export adds NAME_act, NAME_flatten, ... beside the model's \
                 own). Fix: rename the layer in the model"
            );
        }
    }
    Ok(())
}

/// Whether the CHW and HWC orders of `s` differ (they agree when it has
/// one channel or one position).
fn reorders(s: Shape) -> bool {
    s.c > 1 && s.h * s.w > 1
}

/// `p[q]` = the HWC (dae) flat index of CHW (PyTorch) flat index `q` of
/// an (h, w, c) tensor.
pub fn chw_to_hwc(s: Shape) -> Vec<usize> {
    let mut p = Vec::with_capacity(s.size());
    for c in 0..s.c {
        for y in 0..s.h {
            for x in 0..s.w {
                p.push((y * s.w + x) * s.c + c);
            }
        }
    }
    p
}

/// A float as a Python literal that reads back to the same f32.
fn py_float(v: f32) -> String {
    let s = format!("{v:?}");
    if s.contains(['.', 'e', 'i', 'N']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// The first lines of every model.py docstring: where it came from and
/// what the model was trained with.
fn provenance(m: &Model, source: &str) -> String {
    // Inside a """docstring""": no backslash or quote may end it early.
    let source = source.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "Exported by `dae export` from {source}\n(model {}, loss {}, trained with input noise {}: \
         the noise is not part of the model).",
        m.spec.name,
        m.spec.loss.name(),
        m.spec.noise
    )
}
