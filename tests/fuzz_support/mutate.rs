//! Seeded mutations of valid inputs: generic byte damage, IDX header fields
//! set to huge values before compression, and checkpoint header edits.

use rand::rngs::StdRng;
use rand::Rng;

use crate::idx_util::gzip;

pub const INTERESTING: [u8; 5] = [0x00, 0xff, 0x7f, 0x80, 0x01];
pub const HUGE_U32: [u32; 6] = [
    u32::MAX,
    0x7fff_ffff,
    0x8000_0000,
    0x0100_0000,
    0x0001_0000,
    0,
];
pub const HUGE_NUMBERS: [&str; 6] = [
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "4294967296",
    "0",
    "-1",
];

/// One random generic mutation of `b`, described for the failure report.
pub fn mutate_bytes(rng: &mut StdRng, b: &mut Vec<u8>) -> String {
    let len = b.len().max(1);
    match rng.random_range(0..5) {
        0 if !b.is_empty() => {
            let (i, bit) = (rng.random_range(0..b.len()), rng.random_range(0..8));
            b[i] ^= 1 << bit;
            format!("flip bit {bit} of byte {i}")
        }
        1 if !b.is_empty() => {
            let (i, v) = (
                rng.random_range(0..b.len()),
                INTERESTING[rng.random_range(0..5)],
            );
            b[i] = v;
            format!("byte {i} = {v:#04x}")
        }
        2 => {
            let n = rng.random_range(0..len);
            b.truncate(n);
            format!("truncate to {n}")
        }
        3 => {
            let (i, n) = (rng.random_range(0..=b.len()), rng.random_range(1..17));
            let ins: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            b.splice(i..i, ins);
            format!("insert {n} random bytes at {i}")
        }
        _ => {
            let a = rng.random_range(0..len);
            let n = rng.random_range(0..=(len - a).min(512));
            let at = rng.random_range(0..=b.len());
            let chunk: Vec<u8> = b.get(a..a + n).unwrap_or_default().to_vec();
            b.splice(at..at, chunk);
            format!("copy {n} bytes from {a} to {at}")
        }
    }
}

/// Overwrites a big-endian u32 at a 4-aligned offset below `limit` with a
/// huge (or zero) value: the IDX header fields, before compression.
pub fn mutate_field(rng: &mut StdRng, b: &mut [u8], limit: usize) -> String {
    let slots = limit.min(b.len()) / 4;
    if slots == 0 {
        return "no header field left to overwrite".to_string();
    }
    let at = 4 * rng.random_range(0..slots);
    let v = HUGE_U32[rng.random_range(0..HUGE_U32.len())];
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
    format!("u32 at {at} = {v:#x}")
}

/// A seeded damaged gzip IDX file: mutations of the raw IDX bytes (header
/// fields included) before compressing, of the gzip bytes after, or both;
/// sometimes a second member is appended.
pub fn damaged_idx(rng: &mut StdRng, raw: &[u8], header: usize) -> (Vec<u8>, Vec<String>) {
    let mut raw = raw.to_vec();
    let mut what = Vec::new();
    let stage = rng.random_range(0..3);
    if stage != 1 {
        for _ in 0..rng.random_range(1..4) {
            what.push(if rng.random_bool(0.6) {
                mutate_field(rng, &mut raw, header)
            } else {
                mutate_bytes(rng, &mut raw)
            });
        }
    }
    let mut gz = gzip(&raw);
    if rng.random_bool(0.1) {
        gz.extend(gzip(&raw[..raw.len() / 3]));
        what.push("second member appended".to_string());
    }
    if stage != 0 {
        for _ in 0..rng.random_range(1..4) {
            what.push(format!("gz: {}", mutate_bytes(rng, &mut gz)));
        }
    }
    (gz, what)
}

pub const DTYPES: [&str; 8] = ["I32", "U32", "F16", "BF16", "F64", "U8", "BOOL", "F8_E4M3"];

/// One edit of a checkpoint's JSON header text, kept valid UTF-8 and with
/// the length field rewritten to match, so the damage reaches the checks
/// past the header's framing: huge numbers in shapes and offsets, other
/// dtypes, a tensor renamed to another's name.
pub fn edit_header(rng: &mut StdRng, header: &mut String) -> String {
    match rng.random_range(0..3) {
        0 => {
            let digits: Vec<usize> = header
                .match_indices(|c: char| c.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            if digits.is_empty() {
                return "no number to replace".to_string();
            }
            let i = digits[rng.random_range(0..digits.len())];
            let end = header[i..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(header.len(), |e| i + e);
            let v = HUGE_NUMBERS[rng.random_range(0..HUGE_NUMBERS.len())];
            header.replace_range(i..end, v);
            format!("header number at {i} = {v}")
        }
        1 => {
            let d = DTYPES[rng.random_range(0..DTYPES.len())];
            *header = header.replacen("\"F32\"", &format!("\"{d}\""), 1);
            format!("first dtype = {d}")
        }
        _ => {
            let names = ["enc.weight", "enc.bias", "bn.var"];
            let (from, to) = (names[rng.random_range(0..3)], names[rng.random_range(0..3)]);
            *header = header.replacen(&format!("\"{from}\""), &format!("\"{to}\""), 1);
            format!("tensor {from} renamed {to}")
        }
    }
}

/// A seeded damaged checkpoint: header edits with the length kept right
/// (see [`edit_header`]), the 8-byte header length set to a huge value,
/// generic byte mutations, or a mix.
pub fn damaged_checkpoint(rng: &mut StdRng, valid: &[u8]) -> (Vec<u8>, Vec<String>) {
    let n = u64::from_le_bytes(valid[..8].try_into().unwrap()) as usize;
    let mut header = String::from_utf8(valid[8..8 + n].to_vec()).unwrap();
    let data = &valid[8 + n..];
    let mut what = Vec::new();
    if rng.random_bool(0.5) {
        for _ in 0..rng.random_range(1..3) {
            what.push(edit_header(rng, &mut header));
        }
    }
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    let generic = if what.is_empty() { 1 } else { 0 };
    for _ in 0..rng.random_range(generic..3) {
        what.push(if b.len() >= 8 && rng.random_bool(0.25) {
            let v = [u64::MAX, 1 << 40, 100_000_001, b.len() as u64][rng.random_range(0..4)];
            b[..8].copy_from_slice(&v.to_le_bytes());
            format!("header length = {v}")
        } else {
            mutate_bytes(rng, &mut b)
        });
    }
    (b, what)
}
