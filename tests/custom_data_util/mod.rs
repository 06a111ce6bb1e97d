//! Writers of the user's own data for tests/custom_data.rs: NumPy files
//! written by hand (so tests can also write broken ones), IDX files, and
//! separable image patterns.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use dae::data::NpyFiles;

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dae-custom-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A version 1.0 `.npy` file of `descr` (e.g. `|u1`, `<f4`) and `shape`.
pub fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// `n` images of `side`×`side`×`c` and their labels: class k is a bright
/// block in the k-th of `classes` places on a dim, noisy background, so a
/// small model separates them. Values are bytes.
pub fn patterns(n: usize, side: usize, c: usize, classes: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let block = side / 3;
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for i in 0..n {
        let k = i % classes;
        let (by, bx) = ((k / 2) * (side - block), (k % 2) * (side - block));
        for y in 0..side {
            for x in 0..side {
                let inside = (by..by + block).contains(&y) && (bx..bx + block).contains(&x);
                for _ in 0..c {
                    let noise = (next() % 60) as u8;
                    images.push(if inside { 195 + noise } else { noise });
                }
            }
        }
        labels.push(k as u8);
    }
    (images, labels)
}

/// Writes four NumPy files of 16×16×`c` images (400 train, 100 test, four
/// classes): uint8, or float32 with values that are not k/255 where `float`.
pub fn write_npy(dir: &Path, c: usize, float: bool) -> NpyFiles {
    let mut files = Vec::new();
    for (split, n, seed) in [("train", 400, 1), ("test", 100, 2)] {
        let (images, labels) = patterns(n, 16, c, 4, seed);
        let shape: Vec<usize> = if c == 1 {
            vec![n, 16, 16]
        } else {
            vec![n, 16, 16, c]
        };
        let bytes = if float {
            let v: Vec<f32> = images.iter().map(|&b| b as f32 / 300.0).collect();
            npy("<f4", &shape, &f32_bytes(&v))
        } else {
            npy("|u1", &shape, &images)
        };
        let labels: Vec<u8> = labels
            .iter()
            .flat_map(|&l| (l as i64).to_le_bytes())
            .collect();
        let (x, y) = (
            dir.join(format!("x_{split}.npy")),
            dir.join(format!("y_{split}.npy")),
        );
        std::fs::write(&x, bytes).unwrap();
        std::fs::write(&y, npy("<i8", &[n], &labels)).unwrap();
        files.push((x, y));
    }
    NpyFiles {
        train_images: files[0].0.clone(),
        train_labels: files[0].1.clone(),
        test_images: files[1].0.clone(),
        test_labels: files[1].1.clone(),
    }
}

pub fn idx_images(n: usize, side: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0x803u32, n as u32, side as u32, side as u32] {
        out.extend(v.to_be_bytes());
    }
    out.extend(pixels);
    out
}

pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0x801u32, labels.len() as u32] {
        out.extend(v.to_be_bytes());
    }
    out.extend(labels);
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An IDX folder of 20×20 images, three classes: the training files plain,
/// the test files gzipped.
pub fn write_idx(dir: &Path) {
    let (xi, yi) = patterns(300, 20, 1, 3, 3);
    let (xt, yt) = patterns(90, 20, 1, 3, 4);
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        idx_images(300, 20, &xi),
    )
    .unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx_labels(&yi)).unwrap();
    std::fs::write(
        dir.join("t10k-images-idx3-ubyte.gz"),
        gzip(&idx_images(90, 20, &xt)),
    )
    .unwrap();
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte.gz"),
        gzip(&idx_labels(&yt)),
    )
    .unwrap();
}
