//! `dae export`: the tensors each target writes (names, shapes, where a
//! known value lands after each permutation), what model.py says, and the
//! command's errors. Checkpoints are written with known values through the
//! crate's own checkpoint writer, so no GPU (and no Python) is needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use dae::export::{self, Target};
use dae::kernels::noise::Noise;
use dae::nn::params::{ParamLayout, Role};
use dae::nn::{presets, Act, Layer, Loss, ModelSpec, Shape};
use dae::report::{load_checkpoint, Checkpoint};

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dae-export-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A checkpoint of `spec` whose parameter at flat offset i holds i, so
/// that every value says where it came from. Returns its path and layout.
fn checkpoint(dir: &Path, spec: &ModelSpec) -> (PathBuf, ParamLayout) {
    let resolved = spec.resolve(10).unwrap();
    let layout = ParamLayout::new(spec, &resolved);
    let params: Vec<f32> = (0..layout.total_len).map(|i| i as f32).collect();
    let mut meta = BTreeMap::new();
    meta.insert("preset".to_string(), spec.name.clone());
    meta.insert("spec".to_string(), serde_json::to_string(spec).unwrap());
    meta.insert("noise".to_string(), spec.noise.to_string());
    meta.insert("dataset".to_string(), "mnist".to_string());
    let path = dir.join("model.safetensors");
    dae::run::save_checkpoint(&path, &layout, &params, meta).unwrap();
    (path, layout)
}

/// The value dae stores at `index` of layer `layer`'s `role` tensor.
fn dae_value(layout: &ParamLayout, layer: usize, role: Role, index: usize) -> f32 {
    (layout.find(layer, role).unwrap().offset + index) as f32
}

/// Exports to `target` in `dir/<target>` and reads back what it wrote.
fn export_to(ck: &Path, dir: &Path, target: Target) -> (Checkpoint, String) {
    let out = dir.join(target.name());
    export::export(ck, target, &out, false).unwrap();
    let weights = load_checkpoint(&out.join("model.safetensors")).unwrap();
    let py = std::fs::read_to_string(out.join("model.py")).unwrap();
    (weights, py)
}

/// (shape, values) of tensor `name`.
fn tensor<'a>(c: &'a Checkpoint, name: &str) -> (&'a [usize], &'a [f32]) {
    let (_, shape, v) = c
        .get(name)
        .unwrap_or_else(|| panic!("no tensor {name}; have {:?}", names(c)));
    (shape, v)
}

fn names(c: &Checkpoint) -> Vec<&str> {
    c.tensors.iter().map(|(n, _, _)| n.as_str()).collect()
}

fn spec(name: &str, input: Shape, layers: Vec<dae::nn::LayerSpec>, loss: Loss) -> ModelSpec {
    let mut s = presets::preset("sp-mlp").unwrap();
    s.name = name.into();
    s.input = input;
    s.layers = layers;
    s.loss = loss;
    s
}

#[test]
fn pytorch_dense_kernels_are_transposed() {
    let dir = temp_dir("dense");
    let s = presets::preset("sp-mlp").unwrap();
    let (ck, layout) = checkpoint(&dir, &s);
    let (w, py) = export_to(&ck, &dir, Target::Pytorch);
    let mut want = vec![
        "dense.bias",
        "dense.weight",
        "dense_1.bias",
        "dense_1.weight",
        "dense_2.bias",
        "dense_2.weight",
    ];
    want.sort();
    assert_eq!(names(&w), want);
    let (shape, v) = tensor(&w, "dense.weight");
    assert_eq!(shape, [64, 784]);
    // torch weight[o][i] = dae kernel[i][o], kernel (784, 64).
    for (o, i) in [(0, 0), (5, 700), (63, 783)] {
        assert_eq!(
            v[o * 784 + i],
            dae_value(&layout, 0, Role::Kernel, i * 64 + o)
        );
    }
    let (shape, v) = tensor(&w, "dense_2.bias");
    assert_eq!(shape, [10]);
    assert_eq!(v[3], dae_value(&layout, 2, Role::Bias, 3));
    // A flat-input model accepts (N, 784) or (N, 1, 28, 28).
    assert!(py.contains("(\"input_flatten\", nn.Flatten())"), "{py}");
    assert!(py.contains("(\"dense_2_act\", nn.Softmax(dim=1))"), "{py}");
    assert!(py.contains("(N, 10) softmax probabilities"), "{py}");
}

#[test]
fn pytorch_conv_kernels_become_oihw_and_flatten_rows_chw() {
    let dir = temp_dir("conv");
    let s = presets::preset("sp-cnn").unwrap();
    let (ck, layout) = checkpoint(&dir, &s);
    let (w, py) = export_to(&ck, &dir, Target::Pytorch);
    let (shape, v) = tensor(&w, "conv2d_1.weight");
    assert_eq!(shape, [64, 32, 3, 3]);
    // OIHW [o][i][y][x] = HWIO [y][x][i][o].
    let (o, i, y, x) = (7, 30, 2, 1);
    assert_eq!(
        v[((o * 32 + i) * 3 + y) * 3 + x],
        dae_value(&layout, 1, Role::Kernel, ((y * 3 + x) * 32 + i) * 64 + o)
    );
    // The Dense after Flatten of (8, 8, 64): torch reads the flattened
    // NCHW image, index (c·8 + h)·8 + w; dae the NHWC one, (h·8 + w)·64 + c.
    let (shape, v) = tensor(&w, "dense.weight");
    assert_eq!(shape, [64, 4096]);
    let (o, h, x, c) = (9, 3, 5, 17);
    assert_eq!(
        v[o * 4096 + (c * 8 + h) * 8 + x],
        dae_value(&layout, 5, Role::Kernel, ((h * 8 + x) * 64 + c) * 64 + o)
    );
    for layer in [
        "conv2d",
        "conv2d_1",
        "max_pooling2d",
        "dropout",
        "flatten",
        "dense",
        "dense_1",
    ] {
        assert!(py.contains(&format!("(\"{layer}\", ")), "{layer} in {py}");
    }
    assert!(py.contains("nn.Conv2d(1, 32, 3, padding=0)"), "{py}");
    assert!(py.contains("nn.MaxPool2d(3, 3)"), "{py}");
    assert!(py.contains("nn.Dropout(0.4)"), "{py}");
    assert!(py.contains("(N, 1, 28, 28) NCHW images"), "{py}");
}

/// Dense -> BatchNorm -> Reshape to (2, 3, 4): the Dense's columns and the
/// BatchNorm's features are written in CHW order, so nn.Unflatten works;
/// Conv -> Flatten -> BatchNorm -> Dense: the BatchNorm's features and the
/// Dense's rows are read in CHW order.
#[test]
fn pytorch_reorders_features_around_reshape_and_flatten() {
    let dir = temp_dir("reshape");
    let s = spec(
        "reorder",
        Shape::flat(16),
        vec![
            Layer::dense(24, Act::Linear),
            Layer::batchnorm(),
            Layer::reshape(2, 3, 4),
            Layer::conv(5, 1, true, Act::Relu),
            Layer::flatten(),
            Layer::batchnorm(),
            Layer::dense(10, Act::Softmax),
        ],
        Loss::SoftmaxCrossEntropy,
    );
    let (ck, layout) = checkpoint(&dir, &s);
    let (w, py) = export_to(&ck, &dir, Target::Pytorch);
    // Torch output p of (c, h, w) = (4, 2, 3) is dae column (h·3 + w)·4 + c.
    let chw = |c: usize, h: usize, x: usize| (c * 2 + h) * 3 + x;
    let hwc = |c: usize, h: usize, x: usize| (h * 3 + x) * 4 + c;
    let (shape, v) = tensor(&w, "dense.weight");
    assert_eq!(shape, [24, 16]);
    let (c, h, x, i) = (3, 1, 2, 11);
    assert_eq!(
        v[chw(c, h, x) * 16 + i],
        dae_value(&layout, 0, Role::Kernel, i * 24 + hwc(c, h, x))
    );
    let (_, v) = tensor(&w, "dense.bias");
    assert_eq!(
        v[chw(c, h, x)],
        dae_value(&layout, 0, Role::Bias, hwc(c, h, x))
    );
    for (field, role) in [
        ("weight", Role::Gamma),
        ("bias", Role::Beta),
        ("running_mean", Role::MovingMean),
        ("running_var", Role::MovingVariance),
    ] {
        let (_, v) = tensor(&w, &format!("batch_normalization.{field}"));
        assert_eq!(v[chw(c, h, x)], dae_value(&layout, 1, role, hwc(c, h, x)));
    }
    assert!(
        py.contains("(\"reshape\", nn.Unflatten(1, (4, 2, 3)))"),
        "{py}"
    );
    // After the conv, (2, 3, 5) flattened: BatchNorm1d and Dense rows in CHW.
    let chw5 = |c: usize, h: usize, x: usize| (c * 2 + h) * 3 + x;
    let hwc5 = |c: usize, h: usize, x: usize| (h * 3 + x) * 5 + c;
    let (c, h, x) = (4, 0, 2);
    let (_, v) = tensor(&w, "batch_normalization_1.running_var");
    assert_eq!(
        v[chw5(c, h, x)],
        dae_value(&layout, 5, Role::MovingVariance, hwc5(c, h, x))
    );
    let (shape, v) = tensor(&w, "dense_1.weight");
    assert_eq!(shape, [10, 30]);
    assert_eq!(
        v[6 * 30 + chw5(c, h, x)],
        dae_value(&layout, 6, Role::Kernel, hwc5(c, h, x) * 10 + 6)
    );
    assert!(
        py.contains("nn.BatchNorm1d(24, eps=0.001, momentum=0.01)"),
        "{py}"
    );
    assert!(
        py.contains("nn.BatchNorm1d(30, eps=0.001, momentum=0.01)"),
        "{py}"
    );
}

#[test]
fn pytorch_conventions_of_the_mlp_and_conv_daes() {
    let dir = temp_dir("conventions");
    let (ck, _) = checkpoint(&dir.join("mlp"), &presets::preset("mlp-dae").unwrap());
    let (w, py) = export_to(&ck, &dir.join("mlp"), Target::Pytorch);
    assert!(py.contains("nn.LeakyReLU(0.3)"), "{py}");
    assert!(
        py.contains("nn.BatchNorm1d(512, eps=0.001, momentum=0.01)"),
        "{py}"
    );
    assert!(w.get("batch_normalization.running_var").is_some());
    let (ck, _) = checkpoint(&dir.join("conv"), &presets::preset("conv-dae").unwrap());
    let (_, py) = export_to(&ck, &dir.join("conv"), Target::Pytorch);
    // Pool 2 on 7x7: TensorFlow pads one row at the end only.
    assert!(
        py.contains("(\"max_pooling2d_2\", nn.MaxPool2d(2, 2, padding=(0, 0), ceil_mode=True))"),
        "{py}"
    );
    assert!(py.contains("nn.Conv2d(1, 32, 3, padding=1)"), "{py}");
    assert!(
        py.contains("nn.Upsample(scale_factor=2, mode=\"nearest\")"),
        "{py}"
    );
    assert!(py.contains("(N, 1, 28, 28) NCHW images"), "{py}");
}

/// "same" pooling 3 on 10 pixels: TensorFlow pads 2, one before and one
/// after, so PyTorch needs padding=1 besides ceil_mode.
#[test]
fn pytorch_same_pool_pads_before_where_tensorflow_does() {
    let dir = temp_dir("pool3");
    let s = spec(
        "pool3",
        Shape::image(10, 10, 2),
        vec![
            Layer::maxpool(3, true),
            Layer::flatten(),
            Layer::dense(200, Act::Sigmoid),
        ],
        Loss::Mse,
    );
    let (ck, _) = checkpoint(&dir, &s);
    let (_, py) = export_to(&ck, &dir, Target::Pytorch);
    assert!(
        py.contains("nn.MaxPool2d(3, 3, padding=(1, 1), ceil_mode=True)"),
        "{py}"
    );
}

#[test]
fn keras_tensors_keep_dae_names_and_layout() {
    let dir = temp_dir("keras");
    for preset in ["mlp-dae", "sp-cnn", "conv-dae"] {
        let sub = dir.join(preset);
        let (ck, _) = checkpoint(&sub, &presets::preset(preset).unwrap());
        let source = load_checkpoint(&ck).unwrap();
        let (w, py) = export_to(&ck, &sub, Target::Keras);
        assert_eq!(names(&w), names(&source), "{preset}");
        for (name, shape, values) in &source.tensors {
            let (s, v) = tensor(&w, name);
            assert_eq!(
                (s, v),
                (shape.as_slice(), values.as_slice()),
                "{preset} {name}"
            );
        }
        let resolved = presets::preset(preset).unwrap().resolve(10).unwrap();
        for name in &resolved.names {
            assert!(
                py.contains(&format!("name=\"{name}\")")),
                "{preset}: {name} in {py}"
            );
        }
    }
    let py = std::fs::read_to_string(dir.join("mlp-dae/keras/model.py")).unwrap();
    assert!(py.contains("keras.Input(shape=(784,))"), "{py}");
    assert!(
        py.contains(
            "layers.BatchNormalization(momentum=0.99, epsilon=0.001, name=\"batch_normalization\")"
        ),
        "{py}"
    );
    assert!(
        py.contains("layers.LeakyReLU(negative_slope=0.3, name=\"leaky_re_lu\")"),
        "{py}"
    );
    let py = std::fs::read_to_string(dir.join("sp-cnn/keras/model.py")).unwrap();
    assert!(py.contains("keras.Input(shape=(28, 28, 1))"), "{py}");
    assert!(
        py.contains("layers.Dense(10, activation=\"softmax\", name=\"dense_1\")"),
        "{py}"
    );
}

#[test]
fn noise_layers_export_to_both_targets() {
    let dir = temp_dir("noise");
    let s = spec(
        "noisy",
        Shape::flat(784),
        vec![
            Layer::noise(Noise::Gaussian {
                sigma: 0.5,
                clip: false,
            }),
            Layer::dense(784, Act::Sigmoid),
        ],
        Loss::Bce,
    );
    let (ck, _) = checkpoint(&dir, &s);
    let (_, py) = export_to(&ck, &dir, Target::Pytorch);
    assert!(
        py.contains("(\"noise\", DaeNoise(\"gaussian\", 0.5, False))"),
        "{py}"
    );
    let (_, py) = export_to(&ck, &dir, Target::Keras);
    assert!(
        py.contains("DaeNoise(\"gaussian\", 0.5, False, name=\"noise\")"),
        "{py}"
    );
}

#[test]
fn a_name_python_cannot_hold_is_one_error_before_anything_is_written() {
    let dir = temp_dir("name");
    let mut s = presets::preset("sp-mlp").unwrap();
    s.layers[1].name = "hidden layer".into();
    let (ck, _) = checkpoint(&dir, &s);
    for target in [Target::Pytorch, Target::Keras] {
        let out = dir.join(target.name());
        let e = export::export(&ck, target, &out, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("layer 1 (\"hidden layer\")") && e.contains(target.name()),
            "{e}"
        );
        assert!(!out.exists(), "{target}: {out:?} was created");
    }
}

fn dae(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dae"))
        .args(args)
        .env("DAE_TUNE", "0")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn cli_writes_both_files_and_refuses_bad_input() {
    let dir = temp_dir("cli");
    let (ck, _) = checkpoint(&dir.join("run"), &presets::preset("conv-dae").unwrap());
    let ck = ck.to_str().unwrap();
    let out = dir.join("torch");
    let out_s = out.to_str().unwrap();
    let (ok, text) = dae(&[
        "export",
        "--checkpoint",
        ck,
        "--to",
        "pytorch",
        "--out",
        out_s,
    ]);
    assert!(ok, "{text}");
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    // No temporary file is left behind.
    assert_eq!(files, ["model.py", "model.safetensors"]);

    let (ok, text) = dae(&[
        "export",
        "--checkpoint",
        ck,
        "--to",
        "pytorch",
        "--out",
        out_s,
    ]);
    assert!(
        !ok && text.contains("is not empty") && text.contains("--overwrite"),
        "{text}"
    );
    let (ok, text) = dae(&[
        "export",
        "--checkpoint",
        ck,
        "--to",
        "keras",
        "--out",
        out_s,
        "--overwrite",
    ]);
    assert!(ok, "{text}");
    let py = std::fs::read_to_string(out.join("model.py")).unwrap();
    assert!(py.contains("import keras"), "{py}");

    let fresh = dir.join("fresh");
    let fresh_s = fresh.to_str().unwrap();
    let (ok, text) = dae(&[
        "export",
        "--checkpoint",
        ck,
        "--to",
        "onnx",
        "--out",
        fresh_s,
    ]);
    assert!(
        !ok && text.contains("--to") && text.contains("pytorch, keras"),
        "{text}"
    );
    let missing = dir.join("nope/model.safetensors");
    let (ok, text) = dae(&[
        "export",
        "--checkpoint",
        missing.to_str().unwrap(),
        "--to",
        "keras",
        "--out",
        fresh_s,
    ]);
    assert!(!ok && text.contains("does not exist"), "{text}");
    assert!(!fresh.exists(), "a failed export created {fresh:?}");
}
