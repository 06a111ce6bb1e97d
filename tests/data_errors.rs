//! The IDX loader on damaged files: every kind of damage gives one error
//! that names the file, says what is wrong and gives a fix.

mod idx_util;

use std::path::{Path, PathBuf};

use dae::data::idx::{read_idx_gz_bytes, IdxKind};
use dae::data::{
    DataError, Dataset, DatasetName, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS,
};
use idx_util::{gzip, idx_images, idx_labels, root_file, temp_dir, write_synthetic};

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
    // Header says 3 images, payload holds 4 (extra bytes are an error too,
    // reported with the full size found).
    std::fs::write(&file, gzip(&idx_images(0x803, 3, 28, 28, 4))).unwrap();
    let (err, msg) = load_err(&root, &file);
    assert!(
        matches!(
            err,
            DataError::LengthMismatch {
                count: 3,
                expected: 2368,
                found: 3152,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("2,368") && msg.contains("3,152"), "{msg}");
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
fn header_declaring_more_than_4_gib_is_refused_naming_its_dimensions() {
    let root = temp_dir("oversized");
    let dir = write_synthetic(&root, 3, 2);
    let file = dir.join(TRAIN_IMAGES);
    // 4,294,967,295 images of 28x28: 3.4 TB declared by a file of a few bytes.
    std::fs::write(&file, gzip(&idx_images(0x803, u32::MAX, 28, 28, 1))).unwrap();
    let (err, msg) = load_err(&root, &file);
    assert!(
        matches!(
            err,
            DataError::Oversized {
                count: 4_294_967_295,
                rows: 28,
                cols: 28,
                declared: Some(3_367_254_359_280),
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("4,294,967,295 images of 28x28") && msg.contains("4 GiB"),
        "{msg}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn header_whose_size_overflows_64_bits_is_refused() {
    // Only a caller asking for huge images can get past the dims check; the
    // product u32::MAX^3 must still not wrap.
    let raw = idx_images(0x803, u32::MAX, u32::MAX, u32::MAX, 0);
    let big = u32::MAX as usize;
    let err = read_idx_gz_bytes(&gzip(&raw), Path::new("x.gz"), IdxKind::Images, (big, big))
        .expect_err("an overflowing header was accepted");
    assert!(
        matches!(err, DataError::Oversized { declared: None, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("x.gz"), "{err}");
}

#[test]
fn short_file_declaring_much_more_says_how_far_it_got() {
    let root = temp_dir("short");
    let dir = write_synthetic(&root, 3, 2);
    let file = dir.join(TRAIN_IMAGES);
    // 60,000 images declared, 2 present, stream complete: a length mismatch.
    std::fs::write(&file, gzip(&idx_images(0x803, 60_000, 28, 28, 2))).unwrap();
    let (err, msg) = load_err(&root, &file);
    assert!(
        matches!(
            err,
            DataError::LengthMismatch {
                expected: 47_040_016,
                found: 1_584,
                ..
            }
        ),
        "{msg}"
    );
    // The same with the stream cut: truncated, with both sizes.
    let gz = gzip(&idx_images(0x803, 60_000, 28, 28, 200));
    std::fs::write(&file, &gz[..gz.len() - 20]).unwrap();
    let (err, msg) = load_err(&root, &file);
    match err {
        DataError::Truncated {
            expected: Some(47_040_016),
            found,
            ..
        } => assert!(found > 16 && found < 200 * 784 + 16, "{msg}"),
        other => panic!("expected Truncated, got {other:?}"),
    }
    assert!(msg.contains("47,040,016"), "{msg}");
    std::fs::remove_dir_all(&root).unwrap();
}

/// How often `needle` occurs in `hay`.
fn occurrences(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

#[test]
fn os_error_is_printed_once_under_anyhow() {
    // A folder where a file belongs: a real OS error (EISDIR).
    let root = temp_dir("isdir");
    let dir = write_synthetic(&root, 3, 2);
    let file = dir.join(TRAIN_IMAGES);
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let err = Dataset::load(&root, DatasetName::Mnist).expect_err("a folder loaded as a file");
    assert!(matches!(err, DataError::Io { .. }), "{err}");
    let os = std::fs::read(&file).unwrap_err().to_string();
    let shown = format!("{:#}", anyhow::Error::from(err));
    eprintln!("{shown}\n");
    assert_eq!(occurrences(&shown, &os), 1, "{shown}");
    assert!(
        shown.starts_with(&format!("cannot read {}: {os}. Fix:", file.display())),
        "{shown}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn permission_error_gets_a_permission_fix() {
    // Built by hand: tests may run as root, where chmod denies nothing.
    let path = PathBuf::from("/data/mnist/train-images-idx3-ubyte.gz");
    let error = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    let os = error.to_string();
    let err = DataError::Io {
        path: path.clone(),
        error,
    };
    let shown = format!("{:#}", anyhow::Error::from(err));
    eprintln!("{shown}\n");
    assert_eq!(occurrences(&shown, &os), 1, "{shown}");
    assert!(shown.contains(&path.display().to_string()), "{shown}");
    assert!(
        shown.contains("Fix:") && shown.contains("permissions"),
        "{shown}"
    );
    assert!(
        !shown.contains("git"),
        "a permission error is not fixed from git: {shown}"
    );
}
