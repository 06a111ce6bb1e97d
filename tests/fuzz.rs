//! Mutation fuzzing of the two readers of untrusted files: the gzip IDX
//! reader and the safetensors checkpoint reader. Valid small inputs are
//! damaged by thousands of seeded mutations; each result must be `Ok` or
//! `Err`, never a panic, and no single allocation during a read may exceed
//! the bound the reader promises (measured by a counting global allocator).
//!
//! Each fuzz test stops after `DAE_FUZZ_CASES` cases (default 20,000) or
//! `DAE_FUZZ_SECS` seconds (default 10), whichever comes first, and prints
//! how many ran. `DAE_FUZZ_SEED=n` replays the one case a failure named.

mod fuzz_support;
mod idx_util;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use dae::data::idx::{read_idx_gz_bytes, IdxKind, MAX_INFLATE_RATIO};
use dae::data::DataError;
use dae::report::{load_checkpoint_bytes, save_checkpoint, ReportError};
use fuzz_support::mutate::{damaged_checkpoint, damaged_idx};
use fuzz_support::{fuzz, largest_allocation, outcome, FIXED};
use idx_util::{gzip, idx_images, idx_labels, temp_dir};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The payload the first 16 decompressed bytes of `gz` declare for `kind`
/// (0 where no header decompresses), saturating: what the reader may
/// allocate at most besides [`FIXED`], together with the inflate bound.
fn declared_payload(gz: &[u8], kind: IdxKind) -> u64 {
    let mut head = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(gz)
        .take(16)
        .read_to_end(&mut head);
    let field = |i: usize| {
        head.get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64)
    };
    match kind {
        IdxKind::Images => match (field(4), field(8), field(12)) {
            (Some(n), Some(r), Some(c)) => n.saturating_mul(r).saturating_mul(c),
            _ => 0,
        },
        IdxKind::Labels => field(4).unwrap_or(0),
    }
}

/// Reads `gz` as `kind` and checks the allocation bound: never more than
/// the declared payload, nor than 1032 bytes per compressed byte.
fn check_idx(gz: &[u8], kind: IdxKind, dims: (usize, usize)) -> (Option<String>, String) {
    let (result, largest) =
        largest_allocation(|| read_idx_gz_bytes(gz, Path::new("fuzz.gz"), kind, dims));
    let inflatable = gz.len() as u64 * MAX_INFLATE_RATIO;
    let bound = FIXED as u64 + declared_payload(gz, kind).min(inflatable);
    let seen = outcome(&result);
    if largest as u64 > bound {
        let problem = format!(
            "{kind:?}: allocated {largest} bytes at once, bound {bound} ({} compressed bytes)",
            gz.len()
        );
        return (Some(problem), seen);
    }
    match result {
        Err(e) if !e.to_string().contains("fuzz.gz") => {
            (Some(format!("error names no file: {e}")), seen)
        }
        _ => (None, seen),
    }
}

#[test]
fn idx_reader_survives_mutations() {
    let dims = (8, 8);
    let images = idx_images(0x803, 40, 8, 8, 40);
    let labels = idx_labels(0x801, &(0..40).map(|i| (i % 10) as u8).collect::<Vec<_>>());
    // The valid inputs load, so the mutations start from a passing case.
    read_idx_gz_bytes(&gzip(&images), Path::new("i.gz"), IdxKind::Images, dims).unwrap();
    read_idx_gz_bytes(&gzip(&labels), Path::new("l.gz"), IdxKind::Labels, dims).unwrap();
    // The header overwrites must reach the size checks, not only the magic.
    let must_reach = [
        "Oversized",
        "LengthMismatch",
        "Truncated",
        "Corrupt",
        "BadDims",
    ];
    fuzz("IDX", &must_reach, |seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        let (raw, header) = if seed % 2 == 0 {
            (&images, 16)
        } else {
            (&labels, 8)
        };
        let (gz, what) = damaged_idx(&mut rng, raw, header);
        // Each damaged file is read as both kinds (one of them the wrong one).
        let (p1, o1) = check_idx(&gz, IdxKind::Images, dims);
        let (p2, o2) = check_idx(&gz, IdxKind::Labels, dims);
        (what, p1.or(p2), vec![o1, o2])
    });
}

fn valid_checkpoint() -> Vec<u8> {
    let dir = temp_dir("fuzz-ckpt");
    let path = dir.join("model.safetensors");
    let tensors = vec![
        (
            "enc.weight".to_string(),
            vec![3, 2],
            vec![0.5, -1.0, 2.25, 1e-8, -0.0, 7.0],
        ),
        ("enc.bias".to_string(), vec![2], vec![0.1, f32::MAX]),
        ("bn.var".to_string(), vec![1, 1, 2], vec![1.0, 2.0]),
    ];
    let meta = BTreeMap::from([
        ("preset".to_string(), "mlp-dae".to_string()),
        ("epoch".to_string(), "12".to_string()),
    ]);
    save_checkpoint(&path, &tensors, meta).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    bytes
}

#[test]
fn checkpoint_reader_survives_mutations() {
    let valid = valid_checkpoint();
    let ck = load_checkpoint_bytes(&valid, Path::new("ok.safetensors")).unwrap();
    assert_eq!(ck.tensors.len(), 3);
    // Damage must reach past the first check: the length, the JSON, the
    // names, the offsets and the tensors each reject some inputs.
    let must_reach = [
        "the header claims  bytes but only  follow the header length",
        "invalid header: name ",
        "invalid offset for tensor ",
        "overflow computing buffer size from shape and/or element type",
        "tensor ",
    ];
    fuzz("checkpoint", &must_reach, |seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        let (bytes, what) = damaged_checkpoint(&mut rng, &valid);
        let (result, largest) =
            largest_allocation(|| load_checkpoint_bytes(&bytes, Path::new("fuzz.safetensors")));
        let bound = FIXED.max(JSON_FACTOR * bytes.len());
        // The tally by what the message says, numbers and names left out.
        let seen = match &result {
            Err(ReportError::CheckpointCorrupt { detail, .. }) => {
                let end = detail.find(['"', '`']).unwrap_or(detail.len());
                detail[..end].replace(|c: char| c.is_ascii_digit(), "")
            }
            other => outcome(other),
        };
        let problem = if largest > bound {
            Some(format!(
                "allocated {largest} bytes at once from {} bytes",
                bytes.len()
            ))
        } else {
            match result {
                Err(e) if !e.to_string().contains("fuzz.safetensors") => {
                    Some(format!("error names no file: {e}"))
                }
                _ => None,
            }
        };
        (what, problem, vec![seen])
    });
}

/// JSON parsed into memory takes more room than its text: an array of
/// one-digit numbers is 2 bytes per element in the file and up to 32 bytes
/// per element in serde's buffered form (safetensors' header uses
/// `#[serde(flatten)]`), and a growing Vec may double that once more.
const JSON_FACTOR: usize = 32;

#[test]
fn checkpoint_with_a_long_shape_stays_within_the_json_factor() {
    // The worst case for JSON_FACTOR: a header that is one long array.
    let n = 200_000;
    let shape = vec!["1"; n].join(",");
    let header = format!(r#"{{"w":{{"dtype":"F32","shape":[{shape}],"data_offsets":[0,4]}}}}"#);
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&1.5f32.to_le_bytes());
    let (result, largest) = largest_allocation(|| load_checkpoint_bytes(&bytes, Path::new("x")));
    let ck = result.expect("a 200,000-dimensional 1x...x1 tensor is valid");
    assert_eq!(ck.tensors[0].2, vec![1.5]);
    println!(
        "long shape: largest allocation {largest} bytes for a {} byte file",
        bytes.len()
    );
    assert!(
        largest <= JSON_FACTOR * bytes.len(),
        "{largest} bytes at once for a {} byte file",
        bytes.len()
    );
}

#[test]
fn small_idx_file_declaring_gigabytes_allocates_little() {
    // 5,000,000 images of 28x28 (3.9 GB, under the 4 GiB cap) declared by a
    // file of a few hundred bytes that holds one image.
    let gz = gzip(&idx_images(0x803, 5_000_000, 28, 28, 1));
    assert!(gz.len() < 1000, "{}", gz.len());
    let (result, largest) = largest_allocation(|| {
        read_idx_gz_bytes(&gz, Path::new("big.gz"), IdxKind::Images, (28, 28))
    });
    match result {
        Err(DataError::LengthMismatch {
            expected, found, ..
        }) => {
            assert_eq!(expected, 16 + 5_000_000 * 784);
            assert_eq!(found, 16 + 784);
        }
        other => panic!("expected LengthMismatch, got {other:?}"),
    }
    let bound = FIXED + gz.len() * MAX_INFLATE_RATIO as usize;
    assert!(largest <= bound, "{largest} bytes at once, bound {bound}");
}

#[test]
fn valid_idx_file_allocates_its_payload_once() {
    // The counter sees the payload buffer, and there is no doubling beyond it.
    let n = 1000;
    let gz = gzip(&idx_images(0x803, n, 28, 28, n as usize));
    let (result, largest) = largest_allocation(|| {
        read_idx_gz_bytes(&gz, Path::new("ok.gz"), IdxKind::Images, (28, 28))
    });
    let idx = result.unwrap();
    let payload = n as usize * 784;
    assert_eq!((idx.count, idx.data.len()), (n as usize, payload));
    assert_eq!(idx.data.capacity(), payload);
    assert!(
        (payload..payload + FIXED).contains(&largest),
        "largest allocation {largest}, payload {payload}"
    );
}
