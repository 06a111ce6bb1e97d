//! The IDX loader: the shipped datasets load with the published counts, and
//! every kind of damaged file gives one error that names the file.

use std::io::Write;
use std::path::{Path, PathBuf};

use dae::data::{
    label_histogram, thousands, DataError, Dataset, DatasetName, TEST_IMAGES, TEST_LABELS,
    TRAIN_IMAGES, TRAIN_LABELS,
};
use flate2::write::GzEncoder;
use flate2::Compression;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A fresh empty folder under the system temp dir, unique per test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dae-data-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn idx_images(magic: u32, count: u32, rows: u32, cols: u32, payload_images: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [magic, count, rows, cols] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    let n = payload_images * rows as usize * cols as usize;
    v.extend((0..n).map(|i| (i * 7 % 256) as u8));
    v
}

fn idx_labels(magic: u32, labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&magic.to_be_bytes());
    v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    v.extend_from_slice(labels);
    v
}

/// Writes a small valid dataset (`n_train`, `n_test` examples) under
/// `root/mnist/`; tests then damage one file.
fn write_synthetic(root: &Path, n_train: usize, n_test: usize) -> PathBuf {
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

/// Loads `root` and returns the error message, checking it names `file`.
fn load_err(root: &Path, file: &Path) -> (DataError, String) {
    let err = Dataset::load(root, DatasetName::Mnist).expect_err("a damaged file must not load");
    let msg = err.to_string();
    // Shown with --nocapture, to read the messages as a user would.
    eprintln!("{msg}\n");
    assert!(
        msg.contains(&file.display().to_string()),
        "message does not name {}: {msg}",
        file.display()
    );
    assert!(msg.contains("Fix:"), "message gives no fix: {msg}");
    (err, msg)
}

#[test]
fn mnist_loads_with_published_counts_and_histograms() {
    let ds = Dataset::load(&root(), DatasetName::Mnist).unwrap();
    assert_eq!((ds.rows, ds.cols), (28, 28));
    assert_eq!(ds.train_len(), 60_000);
    assert_eq!(ds.test_len(), 10_000);
    assert_eq!(ds.train_images.len(), 60_000 * 784);
    assert_eq!(ds.test_images.len(), 10_000 * 784);
    // The published MNIST class counts.
    assert_eq!(
        label_histogram(&ds.train_labels),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        label_histogram(&ds.test_labels),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // The first training digit is the well-known 5; pixels span 0..=255.
    assert_eq!(ds.train_labels[0], 5);
    assert_eq!(*ds.train_images.iter().max().unwrap(), 255);
    assert_eq!(*ds.train_images.iter().min().unwrap(), 0);
}

#[test]
fn fashion_mnist_loads_with_balanced_classes() {
    let ds = Dataset::load(&root(), DatasetName::FashionMnist).unwrap();
    assert_eq!(ds.train_len(), 60_000);
    assert_eq!(ds.test_len(), 10_000);
    assert_eq!(ds.train_images.len(), 60_000 * 784);
    assert_eq!(label_histogram(&ds.train_labels), [6000; 10]);
    assert_eq!(label_histogram(&ds.test_labels), [1000; 10]);
    assert_eq!(ds.name.class_names()[9], "Ankle boot");
}

#[test]
fn default_root_finds_the_shipped_data_and_honours_dae_data() {
    // The only test that reads or sets DAE_DATA, so the change cannot race.
    let saved = std::env::var_os("DAE_DATA");
    std::env::remove_var("DAE_DATA");
    // cargo runs tests from the crate root, where ./data holds both datasets.
    let r = Dataset::default_root();
    assert!(
        r.join("mnist").join(TRAIN_LABELS).is_file(),
        "{}",
        r.display()
    );
    let elsewhere = temp_dir("env");
    std::env::set_var("DAE_DATA", &elsewhere);
    assert_eq!(Dataset::default_root(), elsewhere);
    match saved {
        Some(v) => std::env::set_var("DAE_DATA", v),
        None => std::env::remove_var("DAE_DATA"),
    }
    std::fs::remove_dir_all(&elsewhere).unwrap();
}

#[test]
fn dataset_names_parse_and_display() {
    for name in DatasetName::ALL {
        assert_eq!(name.to_string().parse::<DatasetName>().unwrap(), name);
    }
    assert_eq!(
        "fashion-mnist".parse::<DatasetName>().unwrap(),
        DatasetName::FashionMnist
    );
    assert_eq!(DatasetName::Mnist.dir_name(), "mnist");
    assert_eq!(DatasetName::Mnist.class_names()[3], "3");
    let err = "cifar".parse::<DatasetName>().unwrap_err().to_string();
    assert!(
        err.contains("cifar") && err.contains("fashion-mnist"),
        "{err}"
    );
}

#[test]
fn synthetic_dataset_loads_and_splits() {
    let root = temp_dir("ok");
    write_synthetic(&root, 12, 5);
    let ds = Dataset::load(&root, DatasetName::Mnist).unwrap();
    assert_eq!((ds.train_len(), ds.test_len()), (12, 5));

    let (imgs, labs) = ds.train_range(3..7);
    assert_eq!(imgs.len(), 4 * 784);
    assert_eq!(labs, &[3, 4, 5, 6]);
    assert_eq!(imgs, &ds.train_images[3 * 784..7 * 784]);

    let sub = ds.subset(4, 100);
    assert_eq!((sub.train_len(), sub.test_len()), (4, 5));
    assert_eq!(sub.train_images, ds.train_images[..4 * 784]);

    let split = ds.split_train(10);
    assert_eq!((split.train_len(), split.test_len()), (10, 2));
    assert_eq!(split.test_labels, vec![0, 1]);
    assert_eq!(split.test_images, ds.train_images[10 * 784..]);

    let x = ds.test_image_f32(1);
    assert_eq!(x.len(), 784);
    assert!(x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert_eq!(x[1], ds.test_images[784 + 1] as f32 / 255.0);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn missing_file_is_named() {
    let root = temp_dir("missing");
    let dir = write_synthetic(&root, 3, 2);
    let file = dir.join(TEST_LABELS);
    std::fs::remove_file(&file).unwrap();
    let (err, msg) = load_err(&root, &file);
    assert!(matches!(err, DataError::Missing { .. }), "{msg}");
    assert!(msg.contains("not found"), "{msg}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn truncated_gzip_is_caught() {
    let root = temp_dir("truncated");
    let dir = write_synthetic(&root, 20, 2);
    let file = dir.join(TRAIN_IMAGES);
    let gz = std::fs::read(&file).unwrap();
    // Cut mid-stream: the deflate data stops early.
    std::fs::write(&file, &gz[..gz.len() / 2]).unwrap();
    let (err, msg) = load_err(&root, &file);
    assert!(matches!(err, DataError::Truncated { .. }), "{msg}");
    assert!(msg.contains("truncated"), "{msg}");
    // Cut only the gzip trailer (CRC and length): every byte decodes, but the
    // stream is still incomplete and must not pass.
    std::fs::write(&file, &gz[..gz.len() - 4]).unwrap();
    let (err, msg) = load_err(&root, &file);
    assert!(matches!(err, DataError::Truncated { .. }), "{msg}");
    // An empty file.
    std::fs::write(&file, b"").unwrap();
    let (_, msg) = load_err(&root, &file);
    assert!(msg.contains("truncated"), "{msg}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn truncated_shipped_file_reports_expected_and_found_sizes() {
    // The same cut as the known truncated copy of the original download
    // (first 3,252,224 bytes of train-images): the error says how much of
    // the promised 47,040,016 bytes it found.
    let root = temp_dir("truncated-real");
    let dir = root.join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
        std::fs::copy(root_file(f), dir.join(f)).unwrap();
    }
    let gz = std::fs::read(root_file(TRAIN_IMAGES)).unwrap();
    let file = dir.join(TRAIN_IMAGES);
    std::fs::write(&file, &gz[..3_252_224]).unwrap();
    let (err, msg) = load_err(&root, &file);
    match err {
        DataError::Truncated {
            expected, found, ..
        } => {
            assert_eq!(expected, Some(47_040_016));
            assert!(found > 0 && found < 47_040_016);
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    assert!(msg.contains("47,040,016"), "{msg}");
    std::fs::remove_dir_all(&root).unwrap();
}

fn root_file(name: &str) -> PathBuf {
    root().join("mnist").join(name)
}

#[test]
fn not_gzip_is_corrupt() {
    let root = temp_dir("notgzip");
    let dir = write_synthetic(&root, 3, 2);
    let file = dir.join(TRAIN_LABELS);
    // Uncompressed IDX bytes where gzip is expected.
    std::fs::write(&file, idx_labels(0x801, &[1, 2, 3])).unwrap();
    let (err, msg) = load_err(&root, &file);
    assert!(matches!(err, DataError::Corrupt { .. }), "{msg}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn damaged_deflate_data_is_caught() {
    let root = temp_dir("crc");
    let dir = write_synthetic(&root, 30, 2);
    let file = dir.join(TRAIN_IMAGES);
    let mut gz = std::fs::read(&file).unwrap();
    // Flip bits in the middle of the compressed stream: either the deflate
    // decoder or the CRC check must object.
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 8] {
        *b ^= 0x5a;
    }
    std::fs::write(&file, &gz).unwrap();
    let err = Dataset::load(&root, DatasetName::Mnist).expect_err("damaged stream loaded");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn bad_magic_is_named() {
    let root = temp_dir("magic");
    let dir = write_synthetic(&root, 3, 2);
    let file = dir.join(TEST_IMAGES);
    // A labels magic in an images file.
    std::fs::write(&file, gzip(&idx_images(0x801, 2, 28, 28, 2))).unwrap();
    let (err, msg) = load_err(&root, &file);
    assert!(
        matches!(err, DataError::BadMagic { found: 0x801, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("0x00000803") && msg.contains("0x00000801"),
        "{msg}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn wrong_image_size_is_named() {
    let root = temp_dir("dims");
    let dir = write_synthetic(&root, 3, 2);
    let file = dir.join(TEST_IMAGES);
    std::fs::write(&file, gzip(&idx_images(0x803, 2, 32, 32, 2))).unwrap();
    let (err, msg) = load_err(&root, &file);
    assert!(matches!(err, DataError::BadDims { .. }), "{msg}");
    assert!(msg.contains("32x32"), "{msg}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn declared_count_must_match_payload() {
    let root = temp_dir("count");
    let dir = write_synthetic(&root, 3, 2);
    let file = dir.join(TRAIN_IMAGES);
    // Header says 5 images, payload holds 4.
    std::fs::write(&file, gzip(&idx_images(0x803, 5, 28, 28, 4))).unwrap();
    let (err, msg) = load_err(&root, &file);
    assert!(
        matches!(
            err,
            DataError::LengthMismatch {
                count: 5,
                expected: 3936,
                found: 3152,
                ..
            }
        ),
        "{msg}"
    );
    // Header says 3 images, payload holds 4 (extra bytes are an error too).
    std::fs::write(&file, gzip(&idx_images(0x803, 3, 28, 28, 4))).unwrap();
    let (err, msg) = load_err(&root, &file);
    assert!(matches!(err, DataError::LengthMismatch { .. }), "{msg}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn label_and_image_counts_must_agree() {
    let root = temp_dir("mismatch");
    let dir = write_synthetic(&root, 4, 2);
    let labels = dir.join(TRAIN_LABELS);
    std::fs::write(&labels, gzip(&idx_labels(0x801, &[0, 1, 2]))).unwrap();
    let (err, msg) = load_err(&root, &labels);
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                images: 4,
                labels: 3,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains(&dir.join(TRAIN_IMAGES).display().to_string()),
        "{msg}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn label_out_of_range_is_named() {
    let root = temp_dir("label");
    let dir = write_synthetic(&root, 3, 2);
    let file = dir.join(TEST_LABELS);
    std::fs::write(&file, gzip(&idx_labels(0x801, &[4, 10]))).unwrap();
    let (err, msg) = load_err(&root, &file);
    assert!(
        matches!(
            err,
            DataError::BadLabel {
                index: 1,
                label: 10,
                ..
            }
        ),
        "{msg}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn thousands_separators() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(47_040_016), "47,040,016");
}
