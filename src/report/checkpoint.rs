//! Checkpoints as safetensors files: named f32 tensors with shapes, plus a
//! string-to-string metadata map (preset, epoch, seed, ...). Readable by any
//! safetensors tool (e.g. Python's `safetensors.numpy.load_file`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::{write_file, ReportError};

/// (name, shape, row-major values).
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// A checkpoint as read from a safetensors file.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Sorted by name (safetensors keeps no insertion order).
    pub tensors: Vec<NamedTensor>,
    /// The file's string metadata (preset, epoch, seed, ...).
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
            return Err(ReportError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    load_checkpoint_bytes(&bytes, path)
}

/// [`load_checkpoint`] on a file's bytes already in memory; `path` only
/// names the file in errors. Any input gives `Ok` or `Err`, never a panic,
/// and nothing is allocated beyond a small multiple of `bytes.len()`: the
/// header length, every tensor's offsets and its shape's product are checked
/// against the input before any tensor is copied out.
pub fn load_checkpoint_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint, ReportError> {
    let corrupt = |detail: String| ReportError::CheckpointCorrupt {
        path: path.to_path_buf(),
        detail,
    };
    precheck(bytes).map_err(corrupt)?;
    let (n, header) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(e.to_string()))?;
    // read_metadata checked n + 8 <= bytes.len(); `get` keeps this panic-free.
    let data = bytes
        .get(HEADER_LEN_BYTES + n..)
        .ok_or_else(|| corrupt("header runs past the end of the file".to_string()))?;
    let mut tensors = Vec::new();
    for (name, info) in header.tensors() {
        if info.dtype != Dtype::F32 {
            return Err(corrupt(format!(
                "tensor {name:?} has dtype {:?}; only F32 is supported",
                info.dtype
            )));
        }
        let (start, end) = info.data_offsets;
        let raw = data.get(start..end).ok_or_else(|| {
            corrupt(format!(
                "tensor {name:?} has data offsets {start}..{end} outside the {} data bytes",
                data.len()
            ))
        })?;
        let values: usize = info
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(usize::MAX);
        if raw.len() % 4 != 0 || values != raw.len() / 4 {
            return Err(corrupt(format!(
                "tensor {name:?} has shape {:?} but {} data bytes",
                info.shape,
                raw.len()
            )));
        }
        let values: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        tensors.push((name, info.shape.clone(), values));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let metadata = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok(Checkpoint { tensors, metadata })
}

/// Length of the little-endian u64 that starts a safetensors file.
const HEADER_LEN_BYTES: usize = 8;

/// What the safetensors crate does not check, or checks with arithmetic
/// that can overflow (`buffer_end + 8 + n` panics in a debug build when a
/// tensor's end offset is near `usize::MAX`): the header length against the
/// file, each tensor's end offset against the data, and names appearing
/// twice in the header (JSON maps keep only the last of two equal keys, so
/// one tensor would silently vanish).
fn precheck(bytes: &[u8]) -> Result<(), String> {
    let Some(len_bytes) = bytes.get(..HEADER_LEN_BYTES) else {
        return Err(format!(
            "the file holds {} bytes, too few for the 8-byte header length",
            bytes.len()
        ));
    };
    let mut le = [0u8; HEADER_LEN_BYTES];
    le.copy_from_slice(len_bytes);
    let n = u64::from_le_bytes(le);
    let room = (bytes.len() - HEADER_LEN_BYTES) as u64;
    if n > room {
        return Err(format!(
            "the header claims {n} bytes but only {room} follow the header length"
        ));
    }
    let header = &bytes[HEADER_LEN_BYTES..HEADER_LEN_BYTES + n as usize];
    let header = std::str::from_utf8(header).map_err(|e| format!("header is not UTF-8: {e}"))?;
    let data_len = room - n;
    let mut de = serde_json::Deserializer::from_str(header);
    serde::Deserializer::deserialize_map(&mut de, HeaderCheck { data_len })
        .map_err(|e| format!("invalid header: {e}"))
}

/// Visits the header's top-level map, checking names and end offsets.
struct HeaderCheck {
    data_len: u64,
}

impl<'de> serde::de::Visitor<'de> for HeaderCheck {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object of tensors")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        use serde::de::Error;
        let mut seen = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if name == "__metadata__" {
                map.next_value::<serde::de::IgnoredAny>()?;
            } else {
                // Only the offsets are kept; other fields are skipped
                // without being stored.
                let entry: Offsets = map.next_value()?;
                if let Some((_, end)) = entry.data_offsets.filter(|&(_, e)| e > self.data_len) {
                    return Err(A::Error::custom(format!(
                        "tensor {name:?} ends at byte {end} of data, but the file holds {} data bytes",
                        self.data_len
                    )));
                }
            }
            if !seen.insert(name.clone()) {
                return Err(A::Error::custom(format!("name {name:?} appears twice")));
            }
        }
        Ok(())
    }
}

/// The one field of a header entry [`HeaderCheck`] looks at.
#[derive(serde::Deserialize)]
struct Offsets {
    #[serde(default)]
    data_offsets: Option<(u64, u64)>,
}
