//! Reading NumPy `.npy` files (through the `npyz` crate) as images or
//! labels, with every refusal one message that names the file, what it
//! holds and what is expected.
//!
//! Images: shape (N, H, W) or (N, H, W, C) in C order, dtype uint8 (0..=255)
//! or float32 (finite, in \[0, 1\]). Labels: shape (N) or (N, 1), any integer
//! dtype, values 0..=255 (at most [`MAX_CLASSES`] classes).

use std::path::Path;

use npyz::{DType, NpyFile, Order, TypeChar, TypeStr};

use super::error::fix_for;
use super::{thousands, DataError};

/// The most classes a dataset may have: labels live on the GPU as bytes.
pub const MAX_CLASSES: usize = 256;

/// The pixels of an images file, in its own type.
#[derive(Clone, Debug, PartialEq)]
pub enum Pixels {
    /// uint8 values, 0..=255 (scaled by 1/255 on the GPU).
    U8(Vec<u8>),
    /// float32 values, each finite and in \[0, 1\].
    F32(Vec<f32>),
}

/// An images file: `count` images of (rows, cols, channels), NHWC.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    /// N, the number of images.
    pub count: usize,
    /// H.
    pub rows: usize,
    /// W.
    pub cols: usize,
    /// C: 1 for an (N, H, W) array.
    pub channels: usize,
    /// N·H·W·C values, row-major (NHWC).
    pub pixels: Pixels,
}

/// `(300, 16, 16)`, as NumPy prints a shape.
fn shape_str(shape: &[u64]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    }
}

/// NumPy's name of a plain dtype (`uint8`, `float32`), else its type string.
fn dtype_name(dtype: &DType) -> String {
    match dtype {
        DType::Plain(t) => {
            let bits = t.size_field() * 8;
            match t.type_char() {
                TypeChar::Uint => format!("uint{bits}"),
                TypeChar::Int => format!("int{bits}"),
                TypeChar::Float => format!("float{bits}"),
                TypeChar::Bool => "bool".into(),
                _ => format!("{t}"),
            }
        }
        other => format!("a structured dtype ({})", other.descr()),
    }
}

/// A parsed `.npy` file whose data part holds exactly what its header
/// declares, in C order.
struct Checked<'a> {
    npy: NpyFile<&'a [u8]>,
    shape: Vec<u64>,
    dtype: DType,
    path: &'a Path,
}

impl Checked<'_> {
    fn invalid(&self, problem: String) -> DataError {
        invalid(self.path, problem)
    }

    fn described(&self) -> String {
        format!(
            "{} of shape {}",
            dtype_name(&self.dtype),
            shape_str(&self.shape)
        )
    }
}

fn invalid(path: &Path, problem: String) -> DataError {
    DataError::Invalid {
        path: path.to_path_buf(),
        problem,
    }
}

/// Reads `path` and checks its magic, header, order and length.
fn open<'a>(path: &'a Path, bytes: &'a [u8]) -> Result<Checked<'a>, DataError> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if !bytes.starts_with(MAGIC) {
        return Err(invalid(
            path,
            format!(
                "not a NumPy .npy file: it does not start with \\x93NUMPY ({} bytes in all); \
                 expected a file written by numpy.save. {}",
                thousands(bytes.len()),
                fix_for(path)
            ),
        ));
    }
    // The header's own length: 2 bytes after version 1.0, 4 after 2.0 and 3.0.
    let header_end = match bytes.get(6) {
        Some(1) => bytes
            .get(8..10)
            .map(|b| 10 + u16::from_le_bytes([b[0], b[1]]) as usize),
        Some(_) => bytes
            .get(8..12)
            .map(|b| 12 + u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize),
        None => None,
    };
    let truncated_header = || {
        invalid(
            path,
            format!(
                "is truncated: its {} bytes stop inside the .npy header. {}",
                thousands(bytes.len()),
                fix_for(path)
            ),
        )
    };
    let header_end = header_end
        .filter(|&e| e <= bytes.len())
        .ok_or_else(truncated_header)?;
    let npy = NpyFile::new(bytes).map_err(|e| {
        invalid(
            path,
            format!("its .npy header does not parse ({e}). {}", fix_for(path)),
        )
    })?;
    let shape = npy.shape().to_vec();
    let dtype = npy.dtype();
    let c = Checked {
        npy,
        shape,
        dtype,
        path,
    };
    if c.npy.order() == Order::Fortran {
        return Err(c.invalid(format!(
            "holds {} in Fortran order; expected C order. Fix: save it with \
             numpy.save(path, numpy.ascontiguousarray(x))",
            c.described()
        )));
    }
    let item = match &c.dtype {
        DType::Plain(t) => t.num_bytes().unwrap_or(0) as u64,
        _ => 0,
    };
    let declared = c
        .shape
        .iter()
        .try_fold(item, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= super::idx::MAX_PAYLOAD)
        .ok_or_else(|| {
            c.invalid(format!(
                "declares {}, more than the 4 GiB dae reads from one file",
                c.described()
            ))
        })?;
    let found = (bytes.len() - header_end) as u64;
    if found != declared {
        let what = if found < declared {
            "is truncated"
        } else {
            "is longer than its header says"
        };
        return Err(c.invalid(format!(
            "{what}: its header declares {}, {} bytes of data, but the file holds {} after \
             the header. {}",
            c.described(),
            super::thousands_u64(declared),
            super::thousands_u64(found),
            fix_for(path)
        )));
    }
    Ok(c)
}

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing {
            path: path.to_path_buf(),
        },
        _ => DataError::Io {
            path: path.to_path_buf(),
            error,
        },
    })
}

fn type_str(dtype: &DType) -> Option<&TypeStr> {
    match dtype {
        DType::Plain(t) => Some(t),
        _ => None,
    }
}

/// Reads an images file (see the module documentation for what it may hold).
pub fn read_images(path: &Path) -> Result<Images, DataError> {
    let bytes = read(path)?;
    let c = open(path, &bytes)?;
    let s = &c.shape;
    let (count, rows, cols, channels) = match s.len() {
        3 => (s[0], s[1], s[2], 1),
        4 => (s[0], s[1], s[2], s[3]),
        n => {
            return Err(c.invalid(format!(
                "holds an array of shape {} ({n} dimension{}); expected images of shape \
                 (N, H, W) or (N, H, W, C). Fix: reshape it, e.g. x.reshape(-1, H, W)",
                shape_str(s),
                if n == 1 { "" } else { "s" }
            )))
        }
    };
    if rows == 0 || cols == 0 || channels == 0 {
        return Err(c.invalid(format!(
            "holds images of shape {}: an image needs H, W and C of at least 1",
            shape_str(s)
        )));
    }
    let kind = type_str(&c.dtype).map(|t| (t.type_char(), t.size_field()));
    let bad = |e: std::io::Error| c.invalid(format!("its data cannot be read ({e})"));
    let pixels = match kind {
        Some((TypeChar::Uint, 1)) => Pixels::U8(c.npy.clone().into_vec::<u8>().map_err(bad)?),
        Some((TypeChar::Float, 4)) => {
            let v = c.npy.clone().into_vec::<f32>().map_err(bad)?;
            let per_image = (rows * cols * channels) as usize;
            if let Some((i, &x)) = v
                .iter()
                .enumerate()
                .find(|(_, x)| !(x.is_finite() && (0.0..=1.0).contains(*x)))
            {
                return Err(c.invalid(format!(
                    "holds {x} in image {} (value {} of {}); expected float32 pixels in \
                     [0, 1]. Fix: scale them, e.g. x / 255.0 for 0..255 data, and replace \
                     NaN or infinite values",
                    i / per_image,
                    i % per_image,
                    per_image
                )));
            }
            Pixels::F32(v)
        }
        _ => {
            return Err(c.invalid(format!(
                "holds {}; expected uint8 (0..255) or float32 (0..1) images. Fix: convert, \
                 e.g. x.astype(numpy.float32) / 255 or x.astype(numpy.uint8)",
                c.described()
            )))
        }
    };
    Ok(Images {
        count: count as usize,
        rows: rows as usize,
        cols: cols as usize,
        channels: channels as usize,
        pixels,
    })
}

/// Reads a labels file as bytes: integer labels 0..=255.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = read(path)?;
    let c = open(path, &bytes)?;
    let s = &c.shape;
    if !(s.len() == 1 || (s.len() == 2 && s[1] == 1)) {
        return Err(c.invalid(format!(
            "holds labels of shape {}; expected one integer label per image, shape (N,) \
             or (N, 1). Fix: store class indices, e.g. y.argmax(axis=1) for one-hot labels",
            shape_str(s)
        )));
    }
    let bad = |e: std::io::Error| c.invalid(format!("its data cannot be read ({e})"));
    let n = c.npy.clone();
    let kind = type_str(&c.dtype).map(|t| (t.type_char(), t.size_field()));
    let wide: Vec<i128> = match kind {
        Some((TypeChar::Uint, 1)) => widen(n.into_vec::<u8>().map_err(bad)?),
        Some((TypeChar::Uint, 2)) => widen(n.into_vec::<u16>().map_err(bad)?),
        Some((TypeChar::Uint, 4)) => widen(n.into_vec::<u32>().map_err(bad)?),
        Some((TypeChar::Uint, 8)) => widen(n.into_vec::<u64>().map_err(bad)?),
        Some((TypeChar::Int, 1)) => widen(n.into_vec::<i8>().map_err(bad)?),
        Some((TypeChar::Int, 2)) => widen(n.into_vec::<i16>().map_err(bad)?),
        Some((TypeChar::Int, 4)) => widen(n.into_vec::<i32>().map_err(bad)?),
        Some((TypeChar::Int, 8)) => widen(n.into_vec::<i64>().map_err(bad)?),
        _ => {
            return Err(c.invalid(format!(
                "holds {}; expected integer labels (any of int8..int64, uint8..uint64). \
                 Fix: convert, e.g. y.astype(numpy.int64)",
                c.described()
            )))
        }
    };
    let mut labels = Vec::with_capacity(wide.len());
    for (i, &l) in wide.iter().enumerate() {
        match u8::try_from(l) {
            Ok(b) => labels.push(b),
            Err(_) if l < 0 => {
                return Err(c.invalid(format!(
                    "has label {l} at index {i}; labels are class indices 0, 1, 2, ... \
                     Fix: map the classes to 0..K-1"
                )))
            }
            Err(_) => {
                return Err(c.invalid(format!(
                    "has label {l} at index {i}; dae takes at most {MAX_CLASSES} classes \
                     (labels 0..={}). Fix: map the classes to 0..K-1",
                    MAX_CLASSES - 1
                )))
            }
        }
    }
    Ok(labels)
}

fn widen<T: Into<i128>>(v: Vec<T>) -> Vec<i128> {
    v.into_iter().map(Into::into).collect()
}
