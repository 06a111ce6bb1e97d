//! Reading one gzip-compressed IDX file (the format MNIST and Fashion-MNIST
//! ship in) with every check that can fail named in its error.
//!
//! IDX layout, all integers big-endian:
//! - images: magic 0x00000803, count, rows, cols, then count·rows·cols bytes;
//! - labels: magic 0x00000801, count, then count bytes.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use super::error::DataError;

/// Magic number of an IDX file holding unsigned bytes in 3 dimensions.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file holding unsigned bytes in 1 dimension.
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Header length of an images file: magic, count, rows, cols.
pub const IMAGES_HEADER: usize = 16;
/// Header length of a labels file: magic, count.
pub const LABELS_HEADER: usize = 8;

/// Which of the two IDX kinds a file should hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxKind {
    Images,
    Labels,
}

impl IdxKind {
    fn magic(self) -> u32 {
        match self {
            IdxKind::Images => IMAGES_MAGIC,
            IdxKind::Labels => LABELS_MAGIC,
        }
    }

    fn header_len(self) -> usize {
        match self {
            IdxKind::Images => IMAGES_HEADER,
            IdxKind::Labels => LABELS_HEADER,
        }
    }
}

/// The payload of one IDX file, header checked and stripped.
#[derive(Debug, Clone)]
pub struct Idx {
    pub count: usize,
    /// (rows, cols) for images; (1, 1) for labels.
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<u8>,
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Decompresses `path` completely. A stream that stops early (a cut-off
/// download) and a stream that is damaged are told apart, because the fix
/// differs in what the user should look for; either way the decoded prefix
/// is kept so the error can say how far it got.
fn gunzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let compressed = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DataError::Missing {
                path: path.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(DataError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::with_capacity(compressed.len() * 4);
    let mut decoder = GzDecoder::new(compressed.as_slice());
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(DataError::Truncated {
                    path: path.to_path_buf(),
                    expected: expected_from_header(&out),
                    found: out.len(),
                })
            }
            Err(e) => {
                return Err(DataError::Corrupt {
                    path: path.to_path_buf(),
                    detail: format!(
                        "{e} (after {} decompressed bytes)",
                        super::thousands(out.len())
                    ),
                })
            }
        }
    }
    Ok(out)
}

/// The decompressed length a header promises, when enough of it is there.
fn expected_from_header(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < 8 {
        return None;
    }
    let count = be_u32(bytes, 4) as usize;
    match be_u32(bytes, 0) {
        IMAGES_MAGIC if bytes.len() >= IMAGES_HEADER => {
            let rows = be_u32(bytes, 8) as usize;
            let cols = be_u32(bytes, 12) as usize;
            Some(IMAGES_HEADER + count * rows * cols)
        }
        LABELS_MAGIC => Some(LABELS_HEADER + count),
        _ => None,
    }
}

/// Reads and checks one `.gz` IDX file of the given kind. `dims` is the
/// image size the caller requires (ignored for labels).
pub fn read_idx_gz(path: &Path, kind: IdxKind, dims: (usize, usize)) -> Result<Idx, DataError> {
    let bytes = gunzip(path)?;
    let header_len = kind.header_len();
    if bytes.len() < header_len {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: None,
            found: bytes.len(),
        });
    }
    let magic = be_u32(&bytes, 0);
    if magic != kind.magic() {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            expected: kind.magic(),
            found: magic,
        });
    }
    let count = be_u32(&bytes, 4) as usize;
    let (rows, cols) = match kind {
        IdxKind::Images => {
            let rows = be_u32(&bytes, 8) as usize;
            let cols = be_u32(&bytes, 12) as usize;
            if (rows, cols) != dims {
                return Err(DataError::BadDims {
                    path: path.to_path_buf(),
                    expected: dims,
                    found: (rows, cols),
                });
            }
            (rows, cols)
        }
        IdxKind::Labels => (1, 1),
    };
    let expected = header_len + count * rows * cols;
    if bytes.len() != expected {
        return Err(DataError::LengthMismatch {
            path: path.to_path_buf(),
            count,
            item: match kind {
                IdxKind::Images => "images",
                IdxKind::Labels => "labels",
            },
            expected,
            found: bytes.len(),
        });
    }
    let mut data = bytes;
    data.drain(..header_len);
    Ok(Idx {
        count,
        rows,
        cols,
        data,
    })
}
