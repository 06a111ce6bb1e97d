//! Reading one IDX file (the format MNIST and Fashion-MNIST ship in,
//! gzip-compressed; [`read_idx`] also takes plain files) with every check
//! that can fail named in its error.
//!
//! IDX layout, all integers big-endian:
//! - images: magic 0x00000803, count, rows, cols, then count·rows·cols bytes;
//! - labels: magic 0x00000801, count, then count bytes.
//!
//! The file is inflated as a stream: the header is read first, the payload
//! size it declares is computed with checked arithmetic and bounded, and then
//! exactly that many bytes are read. Memory never exceeds the declared size,
//! nor what the compressed input could possibly inflate to (see
//! [`MAX_INFLATE_RATIO`]), so a damaged 1 MB file cannot take 1 GiB.

use std::io::{ErrorKind, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::error::DataError;

/// Magic number of an IDX file holding unsigned bytes in 3 dimensions.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file holding unsigned bytes in 1 dimension.
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Header length of an images file: magic, count, rows, cols.
pub const IMAGES_HEADER: usize = 16;
/// Header length of a labels file: magic, count.
pub const LABELS_HEADER: usize = 8;
/// The largest payload (bytes after the header) a header may declare: 4 GiB.
/// The largest shipped file holds 47 MB, and 4 GiB is also the most a labels
/// file (u32 count of one byte each) can declare, so no real file comes near.
pub const MAX_PAYLOAD: u64 = 4 << 30;
/// The most bytes one compressed byte can inflate to. Deflate codes a
/// 258-byte match in no fewer than 2 bits (a 1-bit length code and a 1-bit
/// distance code), and every other symbol yields fewer bytes per bit, so a
/// C-byte gzip input (even several members) inflates to at most 1032·C
/// bytes. The payload buffer is never reserved beyond that.
pub const MAX_INFLATE_RATIO: u64 = 1032;

/// Which of the two IDX kinds a file should hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxKind {
    /// An idx3 file of u8 images (magic 0x00000803).
    Images,
    /// An idx1 file of u8 labels (magic 0x00000801).
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

    fn item(self) -> &'static str {
        match self {
            IdxKind::Images => "images",
            IdxKind::Labels => "labels",
        }
    }
}

/// The payload of one IDX file, header checked and stripped.
#[derive(Debug, Clone)]
pub struct Idx {
    /// Images or labels in the file.
    pub count: usize,
    /// (rows, cols) for images; (1, 1) for labels.
    pub rows: usize,
    /// See `rows`.
    pub cols: usize,
    /// count·rows·cols bytes, row-major.
    pub data: Vec<u8>,
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Reads and checks one `.gz` IDX file of the given kind. `dims` is the
/// image size the caller requires (ignored for labels).
pub fn read_idx_gz(path: &Path, kind: IdxKind, dims: (usize, usize)) -> Result<Idx, DataError> {
    read_idx_gz_bytes(&read_file(path)?, path, kind, dims)
}

/// Reads and checks one IDX file, gzipped (recognised by the gzip magic
/// bytes `1f 8b`, whatever its name) or plain. `dims` is the image size the
/// caller requires, or `None` for any (ignored for labels).
pub fn read_idx(
    path: &Path,
    kind: IdxKind,
    dims: Option<(usize, usize)>,
) -> Result<Idx, DataError> {
    let bytes = read_file(path)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let decoder = MultiGzDecoder::new(&bytes[..]);
        let inflatable = (bytes.len() as u64).saturating_mul(MAX_INFLATE_RATIO);
        read_stream(decoder, inflatable, path, kind, dims)
    } else {
        read_stream(&bytes[..], bytes.len() as u64, path, kind, dims)
    }
}

/// The whole file, or the error that names it.
fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(DataError::Missing {
            path: path.to_path_buf(),
        }),
        Err(error) => Err(DataError::Io {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// [`read_idx_gz`] on the compressed bytes of a file already in memory;
/// `path` only names the file in errors.
pub fn read_idx_gz_bytes(
    compressed: &[u8],
    path: &Path,
    kind: IdxKind,
    dims: (usize, usize),
) -> Result<Idx, DataError> {
    let inflatable = (compressed.len() as u64).saturating_mul(MAX_INFLATE_RATIO);
    let decoder = MultiGzDecoder::new(compressed);
    read_stream(decoder, inflatable, path, kind, Some(dims))
}

/// The IDX file that `decoder` yields, which can hold at most `inflatable`
/// bytes (its size if plain, the gzip bound if compressed).
fn read_stream<R: Read>(
    decoder: R,
    inflatable: u64,
    path: &Path,
    kind: IdxKind,
    dims: Option<(usize, usize)>,
) -> Result<Idx, DataError> {
    let mut stream = Stream {
        decoder,
        path,
        got: 0,
    };
    let header_len = kind.header_len();
    let mut header = [0u8; IMAGES_HEADER];
    // Magic and count first, so a labels file where images belong is named
    // by its magic rather than called short.
    stream.fill(&mut header[..LABELS_HEADER])?;
    let magic = be_u32(&header, 0);
    if magic != kind.magic() {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            expected: kind.magic(),
            found: magic,
        });
    }
    let count = be_u32(&header, 4);
    let (rows, cols) = match kind {
        IdxKind::Images => {
            stream.fill(&mut header[LABELS_HEADER..IMAGES_HEADER])?;
            let found = (be_u32(&header, 8) as usize, be_u32(&header, 12) as usize);
            match dims {
                Some(expected) if found != expected => {
                    return Err(DataError::BadDims {
                        path: path.to_path_buf(),
                        expected,
                        found,
                    })
                }
                _ => found,
            }
        }
        IdxKind::Labels => (1, 1),
    };
    let oversized = |declared: Option<u64>| DataError::Oversized {
        path: path.to_path_buf(),
        count: count as u64,
        item: kind.item(),
        rows: rows as u64,
        cols: cols as u64,
        declared,
    };
    let payload = (count as u64)
        .checked_mul(rows as u64)
        .and_then(|n| n.checked_mul(cols as u64))
        .ok_or_else(|| oversized(None))?;
    if payload > MAX_PAYLOAD {
        return Err(oversized(Some(payload)));
    }
    let payload = usize::try_from(payload).map_err(|_| oversized(Some(payload)))?;
    let expected = header_len + payload;
    // Never more than the stream could inflate to, however much is declared:
    // a short stream then fails as truncated, saying how far it got.
    let reserve = (payload as u64).min(inflatable) as usize;
    let mut data = Vec::with_capacity(reserve);
    stream.read_payload(&mut data, payload, expected)?;
    if data.len() < payload {
        return Err(DataError::LengthMismatch {
            path: path.to_path_buf(),
            count: count as usize,
            item: kind.item(),
            expected,
            found: stream.got,
        });
    }
    let extra = stream.drain(expected)?;
    if extra > 0 {
        return Err(DataError::LengthMismatch {
            path: path.to_path_buf(),
            count: count as usize,
            item: kind.item(),
            expected,
            found: expected + extra,
        });
    }
    Ok(Idx {
        count: count as usize,
        rows,
        cols,
        data,
    })
}

/// The decompressing reader and how many decompressed bytes it has given.
struct Stream<'a, R: Read> {
    decoder: R,
    path: &'a Path,
    got: usize,
}

impl<R: Read> Stream<'_, R> {
    /// One read, retried on interruption; a failure becomes the error that
    /// says whether the stream was cut off or damaged, and how far it got.
    fn read(&mut self, buf: &mut [u8], expected: Option<usize>) -> Result<usize, DataError> {
        loop {
            match self.decoder.read(buf) {
                Ok(n) => {
                    self.got += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    return Err(DataError::Truncated {
                        path: self.path.to_path_buf(),
                        expected,
                        found: self.got,
                    })
                }
                Err(e) => {
                    return Err(DataError::Corrupt {
                        path: self.path.to_path_buf(),
                        detail: format!(
                            "{e} (after {} decompressed bytes)",
                            super::thousands(self.got)
                        ),
                    })
                }
            }
        }
    }

    /// Fills `buf` with header bytes; a stream that ends first is truncated.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), DataError> {
        let mut at = 0;
        while at < buf.len() {
            match self.read(&mut buf[at..], None)? {
                0 => {
                    return Err(DataError::Truncated {
                        path: self.path.to_path_buf(),
                        expected: None,
                        found: self.got,
                    })
                }
                n => at += n,
            }
        }
        Ok(())
    }

    /// Appends up to `payload` bytes to `data`, stopping early only where the
    /// stream ends cleanly. `data` grows (if it must) by doubling, capped at
    /// `payload`, so its capacity never exceeds the declared size.
    fn read_payload(
        &mut self,
        data: &mut Vec<u8>,
        payload: usize,
        expected: usize,
    ) -> Result<(), DataError> {
        let mut chunk = [0u8; 1 << 14];
        while data.len() < payload {
            let want = (payload - data.len()).min(chunk.len());
            let n = self.read(&mut chunk[..want], Some(expected))?;
            if n == 0 {
                return Ok(());
            }
            if data.len() + n > data.capacity() {
                let more = data.capacity().max(n).min(payload - data.len());
                data.reserve_exact(more);
            }
            data.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    }

    /// Reads to the end of the stream without keeping anything and returns
    /// how many bytes there were past `expected` (so the gzip trailer is
    /// checked, and extra data can be reported with its size).
    fn drain(&mut self, expected: usize) -> Result<usize, DataError> {
        let mut chunk = [0u8; 1 << 14];
        let start = self.got;
        while self.read(&mut chunk, Some(expected))? > 0 {}
        Ok(self.got - start)
    }
}
