//! Shared by the IDX tests (data, data_errors, fuzz): temporary folders and
//! small IDX files built in memory.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use dae::data::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use flate2::write::GzEncoder;
use flate2::Compression;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A fresh empty folder under the system temp dir, unique per test.
pub fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dae-data-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

pub fn idx_images(magic: u32, count: u32, rows: u32, cols: u32, payload_images: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [magic, count, rows, cols] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    let n = payload_images * rows as usize * cols as usize;
    v.extend((0..n).map(|i| (i * 7 % 256) as u8));
    v
}

pub fn idx_labels(magic: u32, labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&magic.to_be_bytes());
    v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    v.extend_from_slice(labels);
    v
}

/// Writes a small valid dataset (`n_train`, `n_test` examples) under
/// `root/mnist/`; tests then damage one file.
pub fn write_synthetic(root: &Path, n_train: usize, n_test: usize) -> PathBuf {
    let dir = root.join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
    let files = [
        (
            TRAIN_IMAGES,
            idx_images(0x803, n_train as u32, 28, 28, n_train),
        ),
        (TRAIN_LABELS, idx_labels(0x801, &labels(n_train))),
        (
            TEST_IMAGES,
            idx_images(0x803, n_test as u32, 28, 28, n_test),
        ),
        (TEST_LABELS, idx_labels(0x801, &labels(n_test))),
    ];
    for (name, raw) in files {
        std::fs::write(dir.join(name), gzip(&raw)).unwrap();
    }
    dir
}

/// One file of the shipped MNIST copy.
pub fn root_file(name: &str) -> PathBuf {
    root().join("mnist").join(name)
}
