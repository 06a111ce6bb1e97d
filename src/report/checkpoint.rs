//! Checkpoints as safetensors files: named f32 tensors with shapes, plus a
//! string-to-string metadata map (preset, epoch, seed, ...). Readable by any
//! safetensors tool (e.g. Python's `safetensors.numpy.load_file`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::{write_file, ReportError};

/// (name, shape, row-major values).
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Sorted by name (safetensors keeps no insertion order).
    pub tensors: Vec<NamedTensor>,
    pub metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// The tensor called `name`, if the checkpoint has it.
    pub fn get(&self, name: &str) -> Option<&NamedTensor> {
        self.tensors.iter().find(|(n, _, _)| n == name)
    }
}

/// Writes `tensors` and `metadata` to `path` atomically. Each tensor's
/// values must number the product of its shape, and names must be unique.
pub fn save_checkpoint(
    path: &Path,
    tensors: &[NamedTensor],
    metadata: BTreeMap<String, String>,
) -> Result<(), ReportError> {
    let input_err = |detail: String| ReportError::Input {
        path: path.to_path_buf(),
        detail,
    };
    let mut seen = HashSet::new();
    for (name, shape, data) in tensors {
        if !seen.insert(name.as_str()) {
            return Err(input_err(format!("tensor name {name:?} appears twice")));
        }
        let want: usize = shape.iter().product();
        if want != data.len() {
            return Err(input_err(format!(
                "tensor {name:?} has shape {shape:?} ({want} values) but {} values",
                data.len()
            )));
        }
    }
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, data)| data.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, shape, _), b) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, shape.clone(), b)
            .map_err(|e| input_err(format!("tensor {name:?}: {e}")))?;
        views.push((name.clone(), view));
    }
    let info: HashMap<String, String> = metadata.into_iter().collect();
    let out = safetensors::serialize(views, Some(info))
        .map_err(|e| input_err(format!("safetensors serialisation failed: {e}")))?;
    write_file(path, &out)
}

/// Reads a checkpoint written by [`save_checkpoint`] (or any safetensors
/// file holding only f32 tensors).
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint, ReportError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ReportError::CheckpointMissing {
                path: path.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(ReportError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let corrupt = |detail: String| ReportError::CheckpointCorrupt {
        path: path.to_path_buf(),
        detail,
    };
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let mut tensors = Vec::with_capacity(st.len());
    for (name, view) in st.iter() {
        if view.dtype() != Dtype::F32 {
            return Err(corrupt(format!(
                "tensor {name:?} has dtype {:?}; only F32 is supported",
                view.dtype()
            )));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        tensors.push((name.to_string(), view.shape().to_vec(), data));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let metadata = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok(Checkpoint { tensors, metadata })
}
