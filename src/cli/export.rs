//! `dae export`: a checkpoint as a PyTorch or Keras model folder.

use std::path::Path;

use dae::export::{self, Target};

/// Writes `model.py` and `model.safetensors` for `to` into `out` (see
/// [`dae::export`]) and prints the paths.
pub fn export(checkpoint: &Path, to: &str, out: &Path, overwrite: bool) -> anyhow::Result<()> {
    let target: Target = to.parse().map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    for path in export::export(checkpoint, target, out, overwrite)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}
