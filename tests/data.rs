//! The IDX loader: the shipped datasets load with the published counts,
//! synthetic ones split as asked, and the accepted variants (multi-member
//! gzip) load; what is refused is in data_errors.rs.

mod idx_util;

use dae::data::{
    label_histogram, thousands, DataError, Dataset, DatasetName, TEST_IMAGES, TEST_LABELS,
    TRAIN_IMAGES, TRAIN_LABELS,
};
use idx_util::{gzip, idx_images, idx_labels, root, temp_dir, write_synthetic};

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
    assert_eq!(ds.class_names()[9], "Ankle boot");
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
fn thousands_separators() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(47_040_016), "47,040,016");
}

#[test]
fn multi_member_gzip_loads() {
    // `cat a.gz b.gz` is a valid gzip file (RFC 1952 allows several members);
    // split each file after its header and after half the payload.
    let root = temp_dir("multi");
    let dir = write_synthetic(&root, 6, 3);
    let whole = Dataset::load(&root, DatasetName::Mnist).unwrap();
    for (name, header) in [
        (TRAIN_IMAGES, 16),
        (TRAIN_LABELS, 8),
        (TEST_IMAGES, 16),
        (TEST_LABELS, 8),
    ] {
        let file = dir.join(name);
        let raw = gunzip(&std::fs::read(&file).unwrap());
        let cut = header + (raw.len() - header) / 2;
        let mut two = gzip(&raw[..cut]);
        two.extend(gzip(&raw[cut..]));
        std::fs::write(&file, two).unwrap();
    }
    let ds = Dataset::load(&root, DatasetName::Mnist).expect("two concatenated members load");
    assert_eq!(ds.train_images, whole.train_images);
    assert_eq!(ds.train_labels, whole.train_labels);
    assert_eq!(ds.test_images, whole.test_images);
    assert_eq!(ds.test_labels, whole.test_labels);
    std::fs::remove_dir_all(&root).unwrap();
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut out).unwrap();
    out
}

#[test]
fn empty_split_is_refused_naming_the_file() {
    for (split, images, labels) in [
        ("train", TRAIN_IMAGES, TRAIN_LABELS),
        ("test", TEST_IMAGES, TEST_LABELS),
    ] {
        let root = temp_dir(&format!("empty-{split}"));
        let dir = write_synthetic(&root, 3, 2);
        // A well-formed pair of files with count 0: each alone is valid IDX.
        std::fs::write(dir.join(images), gzip(&idx_images(0x803, 0, 28, 28, 0))).unwrap();
        std::fs::write(dir.join(labels), gzip(&idx_labels(0x801, &[]))).unwrap();
        let err = Dataset::load(&root, DatasetName::Mnist).expect_err("an empty split loaded");
        let msg = err.to_string();
        eprintln!("{msg}\n");
        match &err {
            DataError::EmptySplit { path, split: s } => {
                assert_eq!(path, &dir.join(images), "{msg}");
                assert_eq!(*s, split, "{msg}");
            }
            other => panic!("expected EmptySplit, got {other:?}"),
        }
        assert!(
            msg.contains(&dir.join(images).display().to_string()),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("the {split} split is empty")),
            "{msg}"
        );
        assert!(msg.contains("Fix:"), "{msg}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
