//! Your own data: NumPy files (uint8 and float32, one and three channels)
//! and IDX folders of other image sizes load, train, evaluate and resume;
//! every malformed file is refused with one message naming it, from the
//! library and from the CLI (before the GPU opens).

mod common;
mod custom_data_util;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::gpu;
use custom_data_util::*;
use dae::data::{DataError, DataSource, Dataset, NpyFiles};
use dae::kernels::noise::Noise;
use dae::nn::{Act, Layer, Loss, ModelSpec, Shape};
use dae::optim::Optimizer;
use dae::run::{self, EvalOptions, FolderMode, TrainOptions};

fn spec(name: &str, input: Shape, layers: Vec<dae::nn::LayerSpec>, loss: Loss) -> ModelSpec {
    ModelSpec {
        name: name.into(),
        input,
        layers,
        loss,
        optimizer: Optimizer::adam(3e-3),
        l2: 0.0,
        noise: Noise::None,
        epochs: 3,
        batch_size: 32,
        train_limit: None,
        encoder_layers: 0,
        encoder_from: None,
        target_layer: None,
    }
}

fn options(name: &str, source: DataSource, out: &Path) -> TrainOptions {
    let mut o = TrainOptions::new(name, source, out.to_path_buf());
    o.mode = FolderMode::Overwrite;
    o
}

// ---- loading, no GPU ----

#[test]
fn npy_and_idx_data_load_with_their_shape_and_classes() {
    let dir = temp_dir("load");
    let files = write_npy(&dir, 1, false);
    let ds = Dataset::load_source(Path::new(""), &DataSource::Npy(files)).unwrap();
    assert_eq!((ds.image_shape(), ds.num_classes), ((16, 16, 1), 4));
    assert_eq!((ds.train_len(), ds.test_len()), (400, 100));
    assert!(ds.float_images.is_none(), "uint8 data stays bytes");
    assert_eq!(ds.class_names(), ["0", "1", "2", "3"]);

    let rgb = write_npy(&dir, 3, true);
    let ds = Dataset::load_source(Path::new(""), &DataSource::Npy(rgb)).unwrap();
    assert_eq!(ds.image_shape(), (16, 16, 3));
    let f = ds.float_images.as_ref().expect("values off k/255 stay f32");
    assert_eq!(f.train.len(), 400 * 16 * 16 * 3);
    assert!(ds.train_images.is_empty());

    let idx = dir.join("idx");
    std::fs::create_dir_all(&idx).unwrap();
    write_idx(&idx);
    let ds = Dataset::load_source(Path::new(""), &DataSource::IdxDir { idx_dir: idx }).unwrap();
    assert_eq!((ds.image_shape(), ds.num_classes), ((20, 20, 1), 3));
    assert_eq!((ds.train_len(), ds.test_len()), (300, 90));
}

#[test]
fn float32_values_of_exactly_k_over_255_are_kept_as_bytes() {
    let dir = temp_dir("k255");
    let files = write_npy(&dir, 1, false);
    let (images, _) = patterns(400, 16, 1, 4, 1);
    let v: Vec<f32> = images.iter().map(|&b| b as f32 * (1.0 / 255.0)).collect();
    std::fs::write(
        &files.train_images,
        npy("<f4", &[400, 16, 16], &f32_bytes(&v)),
    )
    .unwrap();
    let ds = Dataset::load_source(Path::new(""), &DataSource::Npy(files)).unwrap();
    assert!(ds.float_images.is_none());
    assert_eq!(ds.train_images, images);
}

/// The message of loading `files` after `damage` rewrote one of them.
fn npy_error(tag: &str, damage: impl Fn(&NpyFiles)) -> String {
    let dir = temp_dir(tag);
    let files = write_npy(&dir, 1, false);
    damage(&files);
    let err = Dataset::load_source(Path::new(""), &DataSource::Npy(files))
        .expect_err("damaged data loaded");
    err.to_string()
}

fn contains_all(msg: &str, needles: &[&str]) {
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
}

#[test]
fn every_bad_npy_file_is_named_with_what_was_found_and_expected() {
    let msg = npy_error("trunc", |f| {
        let b = std::fs::read(&f.train_images).unwrap();
        std::fs::write(&f.train_images, &b[..b.len() - 100]).unwrap();
    });
    contains_all(
        &msg,
        &[
            "x_train.npy",
            "truncated",
            "(400, 16, 16)",
            "102,400",
            "102,300",
        ],
    );

    let msg = npy_error("count", |f| {
        std::fs::write(&f.test_labels, npy("|u1", &[99], &[0; 99])).unwrap();
    });
    contains_all(
        &msg,
        &["x_test.npy", "100 images", "y_test.npy", "99 labels"],
    );

    let msg = npy_error("range", |f| {
        let mut v = vec![0.5f32; 400 * 256];
        v[256 * 7 + 3] = 2.5;
        std::fs::write(&f.train_images, npy("<f4", &[400, 16, 16], &f32_bytes(&v))).unwrap();
    });
    contains_all(&msg, &["x_train.npy", "2.5", "image 7", "[0, 1]"]);

    let msg = npy_error("nan", |f| {
        let mut v = vec![0.5f32; 100 * 256];
        v[5] = f32::NAN;
        std::fs::write(&f.test_images, npy("<f4", &[100, 16, 16], &f32_bytes(&v))).unwrap();
    });
    contains_all(&msg, &["x_test.npy", "NaN", "image 0"]);

    let msg = npy_error("ndim", |f| {
        std::fs::write(
            &f.train_images,
            npy("|u1", &[400, 256], &vec![0; 400 * 256]),
        )
        .unwrap();
    });
    contains_all(
        &msg,
        &["x_train.npy", "(400, 256)", "2 dimensions", "(N, H, W)"],
    );

    let msg = npy_error("dtype", |f| {
        std::fs::write(
            &f.train_images,
            npy("<f8", &[400, 16, 16], &vec![0; 400 * 256 * 8]),
        )
        .unwrap();
    });
    contains_all(&msg, &["x_train.npy", "float64", "uint8", "float32"]);

    let msg = npy_error("hw", |f| {
        std::fs::write(
            &f.test_images,
            npy("|u1", &[100, 16, 15], &vec![0; 100 * 240]),
        )
        .unwrap();
    });
    contains_all(&msg, &["x_train.npy", "16x16x1", "x_test.npy", "16x15x1"]);

    let msg = npy_error("empty", |f| {
        std::fs::write(&f.test_images, npy("|u1", &[0, 16, 16], &[])).unwrap();
        std::fs::write(&f.test_labels, npy("|u1", &[0], &[])).unwrap();
    });
    contains_all(&msg, &["x_test.npy", "test split is empty"]);

    let msg = npy_error("negative", |f| {
        let mut l = vec![0i32; 400];
        l[12] = -1;
        let b: Vec<u8> = l.iter().flat_map(|x| x.to_le_bytes()).collect();
        std::fs::write(&f.train_labels, npy("<i4", &[400], &b)).unwrap();
    });
    contains_all(&msg, &["y_train.npy", "label -1 at index 12"]);

    let msg = npy_error("absurd", |f| {
        let mut l = vec![0u16; 400];
        l[3] = 1000;
        let b: Vec<u8> = l.iter().flat_map(|x| x.to_le_bytes()).collect();
        std::fs::write(&f.train_labels, npy("<u2", &[400], &b)).unwrap();
    });
    contains_all(
        &msg,
        &["y_train.npy", "label 1000 at index 3", "256 classes"],
    );

    let msg = npy_error("notnpy", |f| {
        std::fs::write(&f.test_labels, b"1,2,3\n").unwrap()
    });
    contains_all(&msg, &["y_test.npy", "not a NumPy .npy file"]);

    let msg = npy_error("missing", |f| {
        std::fs::remove_file(&f.train_labels).unwrap()
    });
    contains_all(&msg, &["y_train.npy", "not found", "Your own data"]);
}

#[test]
fn idx_folder_errors_name_the_file() {
    let dir = temp_dir("idxerr");
    write_idx(&dir);
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let source = DataSource::IdxDir {
        idx_dir: dir.clone(),
    };
    let err = Dataset::load_source(Path::new(""), &source).unwrap_err();
    contains_all(&err.to_string(), &["t10k-labels-idx1-ubyte", "neither"]);
    // Test images of another size than the training images.
    write_idx(&dir);
    let (x, _) = patterns(90, 18, 1, 3, 4);
    std::fs::write(
        dir.join("t10k-images-idx3-ubyte.gz"),
        gzip(&idx_images(90, 18, &x)),
    )
    .unwrap();
    let err = Dataset::load_source(Path::new(""), &source).unwrap_err();
    assert!(matches!(err, DataError::Inconsistent { .. }), "{err}");
    contains_all(&err.to_string(), &["20x20x1", "18x18x1"]);
}

#[test]
fn data_sources_serialise_and_old_names_still_parse() {
    let old: DataSource = serde_json::from_str("\"fashion-mnist\"").unwrap();
    assert_eq!(
        old,
        DataSource::Builtin(dae::data::DatasetName::FashionMnist)
    );
    let idx = DataSource::IdxDir {
        idx_dir: "/x/y".into(),
    };
    assert_eq!(DataSource::from_json(&idx.to_json()).unwrap(), idx);
    assert_eq!(DataSource::from_json("mnist").unwrap().to_json(), "mnist");
    assert_eq!(idx.short_name(), "y");
}

#[test]
fn a_preset_classifier_on_data_with_other_classes_is_refused_with_the_fix() {
    let dir = temp_dir("classes");
    let (images, labels) = patterns(40, 28, 1, 4, 5);
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), bytes).unwrap();
    write("train-images-idx3-ubyte", idx_images(40, 28, &images));
    write("train-labels-idx1-ubyte", idx_labels(&labels));
    write("t10k-images-idx3-ubyte", idx_images(40, 28, &images));
    write("t10k-labels-idx1-ubyte", idx_labels(&labels));
    let source = DataSource::IdxDir { idx_dir: dir };
    let data = Dataset::load_source(Path::new(""), &source).unwrap();
    let spec = dae::nn::presets::preset("sp-mlp").unwrap();
    let err = dae::train::fit::check_fit(&spec, &data).unwrap_err();
    contains_all(&err, &["10 outputs", "4 classes", "Dense layer of 4 units"]);
    // An autoencoder preset takes any 28x28 data.
    let ae = dae::nn::presets::preset("sp-dae").unwrap();
    dae::train::fit::check_fit(&ae, &data).unwrap();
}

// ---- training on the GPU, through the library ----

#[test]
fn a_classifier_learns_16x16_uint8_npy_data_and_evaluates() {
    let Some(gpu) = gpu() else { return };
    let dir = temp_dir("u8train");
    let source = DataSource::Npy(write_npy(&dir, 1, false));
    let data = Dataset::load_source(Path::new(""), &source).unwrap();
    let layers = vec![
        Layer::flatten(),
        Layer::dense(32, Act::Relu),
        Layer::dense(4, Act::Softmax),
    ];
    let s = spec(
        "npy16-mlp",
        Shape::image(16, 16, 1),
        layers,
        Loss::SoftmaxCrossEntropy,
    );
    let o = options(&s.name, source, &dir.join("run"));
    let r = run::train_spec(gpu, &o, s, data, None).unwrap();
    let (first, last) = (&r.history[0], r.history.last().unwrap());
    assert!(last.train_loss < first.train_loss, "{:?}", r.history);
    // Four classes: chance is 25%.
    assert!(last.test_acc.unwrap() > 0.6, "{:?}", r.history);
    assert!(dir.join("run/accuracy.png").exists());
    // The checkpoint records the data: eval needs no data flags.
    let e = run::eval(
        gpu,
        &dir.join("run/model.safetensors"),
        &EvalOptions::default(),
    )
    .unwrap();
    assert_eq!(e.images, 100);
    assert!((e.accuracy.unwrap() - last.test_acc.unwrap()).abs() < 1e-6);
}

#[test]
fn a_conv_autoencoder_learns_float32_rgb_npy_data() {
    let Some(gpu) = gpu() else { return };
    let dir = temp_dir("f32train");
    let source = DataSource::Npy(write_npy(&dir, 3, true));
    let data = Dataset::load_source(Path::new(""), &source).unwrap();
    assert!(data.float_images.is_some());
    let layers = vec![
        Layer::conv(8, 3, true, Act::Relu),
        Layer::conv(3, 3, true, Act::Sigmoid),
    ];
    let mut s = spec("npy16-rgb-cae", Shape::image(16, 16, 3), layers, Loss::Bce);
    s.noise = Noise::Masking { p: 0.2 };
    let o = options(&s.name, source, &dir.join("run"));
    let r = run::train_spec(gpu, &o, s, data, None).unwrap();
    assert!(
        r.history.last().unwrap().train_loss < r.history[0].train_loss,
        "{:?}",
        r.history
    );
    assert!(dir.join("run/reconstructions.png").exists());
}

#[test]
fn a_20x20_idx_folder_trains_resumes_and_evaluates() {
    let Some(gpu) = gpu() else { return };
    let dir = temp_dir("idxtrain");
    let idx = dir.join("idx");
    std::fs::create_dir_all(&idx).unwrap();
    write_idx(&idx);
    let source = DataSource::IdxDir { idx_dir: idx };
    let data = Dataset::load_source(Path::new(""), &source).unwrap();
    let layers = vec![Layer::dense(64, Act::Relu), Layer::dense(400, Act::Sigmoid)];
    let mut s = spec("idx20-dae", Shape::flat(400), layers, Loss::Bce);
    s.epochs = 1;
    let out = dir.join("run");
    let r = run::train_spec(gpu, &options(&s.name, source.clone(), &out), s, data, None).unwrap();
    assert_eq!(r.history.len(), 1);
    // --resume finds the folder again from the run state.
    let (o, s) = run::resume_options(&out, Some(3), None, None).unwrap();
    assert_eq!(o.dataset, source.absolute().unwrap());
    let data = Dataset::load_source(&o.data_root, &o.dataset).unwrap();
    let r = run::train_spec(gpu, &o, s, data, None).unwrap();
    assert_eq!(r.history.len(), 3);
    assert!(
        r.history[2].test_loss < r.history[0].test_loss,
        "{:?}",
        r.history
    );
    let e = run::eval(gpu, &out.join("model.safetensors"), &EvalOptions::default()).unwrap();
    assert!((e.loss - r.history[2].test_loss).abs() < 1e-5 * e.loss.max(1.0));
}

// ---- the CLI ----

fn dae(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dae"))
        .args(args)
        .env("DAE_DATA", concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
        .env("DAE_TUNE", "0")
        .output()
        .expect("run dae");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn npy_args(f: &NpyFiles) -> Vec<String> {
    let p = |x: &PathBuf| x.display().to_string();
    vec![
        "--train-images".into(),
        p(&f.train_images),
        "--train-labels".into(),
        p(&f.train_labels),
        "--test-images".into(),
        p(&f.test_images),
        "--test-labels".into(),
        p(&f.test_labels),
    ]
}

/// `dae train --preset sp-mlp` on `files` fails, before any GPU work, with
/// every needle in its one `error:` line.
fn cli_fails(files: &NpyFiles, out: &Path, needles: &[&str]) {
    let mut args: Vec<String> = ["train", "--preset", "sp-mlp", "--quiet", "--out"]
        .map(String::from)
        .to_vec();
    args.push(out.display().to_string());
    args.extend(npy_args(files));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, _, err) = dae(&args);
    assert!(!ok, "{args:?} succeeded");
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    contains_all(&err, needles);
}

#[test]
fn cli_refuses_a_preset_on_16x16_data_and_every_bad_file() {
    let dir = temp_dir("cli");
    let f = write_npy(&dir, 1, false);
    let out = dir.join("run");
    cli_fails(
        &f,
        &out,
        &["sp-mlp", "[784]", "16x16x1", "input = [16, 16, 1]"],
    );
    assert!(!out.join("state.safetensors").exists());

    let b = std::fs::read(&f.train_images).unwrap();
    std::fs::write(&f.train_images, &b[..b.len() - 1]).unwrap();
    cli_fails(&f, &out, &["x_train.npy", "truncated"]);
    std::fs::write(&f.train_images, &b).unwrap();

    std::fs::write(&f.train_labels, npy("|u1", &[399], &[0; 399])).unwrap();
    cli_fails(&f, &out, &["x_train.npy", "400 images", "399 labels"]);

    let f = write_npy(&dir, 1, false);
    let v = vec![1.5f32; 100 * 256];
    std::fs::write(&f.test_images, npy("<f4", &[100, 16, 16], &f32_bytes(&v))).unwrap();
    cli_fails(&f, &out, &["x_test.npy", "1.5", "[0, 1]"]);

    std::fs::write(&f.test_images, npy("|u1", &[100, 256], &vec![0; 25_600])).unwrap();
    cli_fails(&f, &out, &["x_test.npy", "(100, 256)", "2 dimensions"]);

    let mut gone = write_npy(&dir, 1, false);
    gone.test_labels = dir.join("nowhere.npy");
    cli_fails(&gone, &out, &["nowhere.npy", "not found"]);
}

#[test]
fn cli_asks_for_all_four_npy_files_and_one_kind_of_data() {
    let (ok, _, err) = dae(&["train", "--preset", "sp-mlp", "--train-images", "a.npy"]);
    assert!(!ok);
    assert!(err.contains("--train-labels"), "{err}");
    let (ok, _, err) = dae(&[
        "train",
        "--preset",
        "sp-mlp",
        "--data-dir",
        "x",
        "--dataset",
        "mnist",
    ]);
    assert!(!ok);
    assert!(err.contains("cannot be used with"), "{err}");
    let (ok, _, err) = dae(&[
        "train",
        "--preset",
        "sp-mlp",
        "--data-dir",
        "/nonexistent-dae",
    ]);
    assert!(!ok);
    contains_all(
        &err,
        &[
            "/nonexistent-dae",
            "does not exist",
            "train-images-idx3-ubyte",
        ],
    );
}

/// A model file taking [16, 16, 1] (tests/data/model16.toml: a conv layer,
/// max-pooling, Dense 32, Dense 4 softmax) trains on the NumPy data through
/// the CLI, and `dae eval --checkpoint` scores it with no data flags.
#[test]
fn cli_trains_a_model_file_on_16x16_npy_data() {
    let dir = temp_dir("climodel");
    let f = write_npy(&dir, 1, false);
    let out = dir.join("run").display().to_string();
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/model16.toml");
    let mut args: Vec<String> = [
        "train", "--model", model, "--quiet", "--epochs", "3", "--out",
    ]
    .map(String::from)
    .to_vec();
    args.push(out.clone());
    args.extend(npy_args(&f));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, stdout, err) = dae(&args);
    assert!(ok, "{stdout}\n{err}");
    let ck = format!("{out}/model.safetensors");
    let (ok, stdout, err) = dae(&["eval", "--checkpoint", &ck]);
    assert!(ok && stdout.contains("100 images"), "{stdout}\n{err}");
    // It learned: well above the 25% of chance on four classes.
    let acc: f64 = stdout
        .split("test accuracy ")
        .nth(1)
        .and_then(|s| s.split('%').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in {stdout}"));
    assert!(
        acc > 50.0,
        "model16 reached only {acc}% on 4 classes:\n{stdout}"
    );
}
