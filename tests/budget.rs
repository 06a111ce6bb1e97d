//! Sizes are checked before anything is allocated: resolve never overflows,
//! and `nn::budget::check` refuses runs whose buffers exceed the adapter's
//! limits or the host's memory. No GPU needed.

use dae::nn::budget::{self, check, Limits, Place};
use dae::nn::params::ParamLayout;
use dae::nn::presets::{preset, PRESETS};
use dae::nn::{Act, Layer, Loss, ModelSpec, Shape, MAX_TENSOR_WORDS};

const MIB: u64 = 1 << 20;

/// Full MNIST (and Fashion-MNIST): 60,000 + 10,000 images of 784 pixels.
fn mnist(spec: &ModelSpec, limits: &Limits) -> Result<budget::Budget, String> {
    let r = spec.resolve(10)?;
    check(spec, &r, spec.batch_size, 60_000, 10_000, 784, limits)
}

fn webgpu_defaults() -> Limits {
    Limits::from_adapter(&wgpu::Limits::default(), None)
}

fn bytes_of<'a>(b: &'a budget::Budget, what: &str) -> Option<&'a budget::Entry> {
    b.entries.iter().find(|e| e.what == what)
}

#[test]
fn every_preset_fits_the_webgpu_default_limits_on_full_mnist() {
    let limits = webgpu_defaults();
    assert_eq!(limits.max_storage_binding, 128 * MIB);
    assert_eq!(limits.max_buffer_size, 256 * MIB);
    for (name, _) in PRESETS {
        let spec = preset(name).unwrap();
        let b = mnist(&spec, &limits).unwrap_or_else(|e| panic!("{name}: {e}"));
        let largest = b.largest().unwrap();
        assert!(largest.bytes <= 128 * MIB, "{name}: {largest:?}");
        // The training images alone are 60,000 (or the train limit) × 784
        // bytes on the GPU; the total covers them and the parameters.
        let n = spec.train_limit.unwrap_or(60_000).min(60_000) as u64;
        assert_eq!(bytes_of(&b, "train images").unwrap().bytes, n * 784);
        let r = spec.resolve(10).unwrap();
        let layout = ParamLayout::new(&spec, &r);
        let params = bytes_of(&b, "parameters").unwrap().bytes;
        assert_eq!(params, 4 * layout.total_len as u64, "{name}");
        assert!(b.gpu_bytes > n * 784 + params, "{name}");
        assert!(b.host_bytes >= 2 * params, "{name}");
        assert!(b.summary().starts_with("GPU "), "{}", b.summary());
    }
}

#[test]
fn the_table_mirrors_what_a_training_step_allocates() {
    let spec = preset("mlp-dae").unwrap();
    let b = mnist(&spec, &webgpu_defaults()).unwrap();
    let r = spec.resolve(10).unwrap();
    let layout = ParamLayout::new(&spec, &r);
    let get = |w: &str| bytes_of(&b, w).unwrap_or_else(|| panic!("no {w}")).bytes;
    let trainable = 4 * layout.trainable_len as u64;
    assert_eq!(get("gradients"), trainable);
    // Adam: two state buffers of the trainable prefix.
    assert_eq!(get("optimizer state 0"), trainable);
    assert_eq!(get("optimizer state 1"), trainable);
    assert!(bytes_of(&b, "optimizer state 2").is_none());
    assert_eq!(get("noisy batch"), 256 * 784 * 4);
    assert_eq!(get("dense output"), 256 * 512 * 4);
    assert_eq!(get("dense output gradient"), 256 * 512 * 4);
    // Linear Dense layers have no pre-activation gradient; the sigmoid
    // output layer does.
    assert!(bytes_of(&b, "dense pre-activation gradient").is_none());
    assert_eq!(get("dense_6 pre-activation gradient"), 256 * 784 * 4);
    assert_eq!(get("batch_normalization batch mean"), 512 * 4);
    assert_eq!(get("input gradient sink"), 256 * 784 * 4);
    assert_eq!(get("test images"), 10_000 * 784);
    assert_eq!(get("train indices"), 60_000 * 4);
    // 234 whole training batches and 40 test batches of 256.
    assert_eq!(get("step slots"), (234 + 40) * 256);
    let host: u64 = b
        .entries
        .iter()
        .filter(|e| e.place == Place::Host)
        .map(|e| e.bytes)
        .sum();
    assert_eq!(b.host_bytes, host);
    // The convolutional preset keeps max-pooling's winners.
    let fashion = preset("fashion-cae").unwrap();
    let b = mnist(&fashion, &webgpu_defaults()).unwrap();
    assert!(b.entries.iter().any(|e| e.what.ends_with(" argmax")));
}

fn with_units(name: &str, layer: usize, units: usize) -> ModelSpec {
    let mut spec = preset(name).unwrap();
    let Layer::Dense { units: u, .. } = &mut spec.layers[layer].layer else {
        panic!("layer {layer} of {name} is not Dense")
    };
    *u = units;
    spec
}

#[test]
fn a_hundred_million_units_are_refused_naming_the_layer() {
    let err = with_units("shallow-ae", 0, 100_000_000)
        .resolve(10)
        .unwrap_err();
    assert!(
        err.contains("layer 0 (dense)") && err.contains("units"),
        "{err}"
    );
    // Small enough for 32-bit indexing, far too large for the defaults: the
    // budget names the buffer, its size, the limit and the widest tensor.
    let spec = with_units("shallow-ae", 0, 200_000);
    let err = mnist(&spec, &webgpu_defaults()).unwrap_err();
    assert!(err.starts_with("parameters needs 1.2 GiB"), "{err}");
    assert!(
        err.contains("max_storage_buffer_binding_size of 128.0 MiB"),
        "{err}"
    );
    assert!(err.contains("dense") && err.contains("Fix:"), "{err}");
}

#[test]
fn a_parameter_buffer_past_32_bit_offsets_is_refused() {
    // Each kernel fits one tensor (784 × 10^6 and 10^6 × 512 values), but
    // together they pass the u32 word offsets the shaders get.
    let spec = with_units("mlp-dae", 0, 1_000_000);
    let err = spec.resolve(10).unwrap_err();
    assert!(
        err.contains("its parameters need more than 1073741823 words"),
        "{err}"
    );
    assert!(err.contains("dense/kernel"), "{err}");
    assert!(with_units("mlp-dae", 0, 600_000).resolve(10).is_ok());
}

#[test]
fn absurd_field_values_are_errors_not_panics() {
    let huge = [1usize << 62, usize::MAX, u32::MAX as usize + 1];
    for units in huge {
        let spec = with_units("shallow-ae", 0, units);
        let err = spec.resolve(10).unwrap_err();
        assert!(err.contains("layer 0 (dense)"), "{units}: {err}");
        // A hand-made resolution of that spec: check refuses it too.
        let mut r = preset("shallow-ae").unwrap().resolve(10).unwrap();
        r.outputs[0] = Shape::flat(units);
        r.inputs[1] = Shape::flat(units);
        let err = check(&spec, &r, 256, 60_000, 10_000, 784, &webgpu_defaults()).unwrap_err();
        assert!(err.contains("dense"), "{units}: {err}");
    }
    let conv = || preset("fashion-cae").unwrap();
    let mut variants: Vec<(&str, usize, ModelSpec)> = Vec::new();
    for v in [0, 2, usize::MAX - 1, usize::MAX, 1 << 62] {
        let mut s = conv();
        if let Layer::Conv2d { filters, .. } = &mut s.layers[0].layer {
            *filters = v;
        }
        variants.push(("filters", v, s));
        let mut s = conv();
        if let Layer::Conv2d { kernel, .. } = &mut s.layers[0].layer {
            *kernel = v | 1;
        }
        variants.push(("kernel", v, s));
        for (i, l) in conv().layers.iter().enumerate() {
            let mut s = conv();
            match l.layer {
                Layer::MaxPool { .. } => s.layers[i].layer = Layer::maxpool(v, false).layer,
                Layer::UpSample { .. } => s.layers[i].layer = Layer::upsample(v).layer,
                _ => continue,
            }
            variants.push(("pool/factor", v, s));
        }
        for dim in 0..3 {
            let mut s = conv();
            let d = [&mut s.input.h, &mut s.input.w, &mut s.input.c];
            *d.into_iter().nth(dim).unwrap() = v;
            variants.push(("input", v, s));
        }
        let mut s = preset("sp-cnn").unwrap();
        s.layers.insert(0, Layer::reshape(v, v, v));
        variants.push(("reshape", v, s));
    }
    for (what, v, s) in variants {
        match s.resolve(10) {
            // Small values may give another valid model: its sizes fit.
            Ok(r) => {
                assert!(v < 1 << 32, "{what} = {v} accepted");
                let fits = r
                    .outputs
                    .iter()
                    .all(|o| o.elements().unwrap() <= MAX_TENSOR_WORDS);
                assert!(fits, "{what}: {:?}", r.outputs);
                assert!(ParamLayout::new(&s, &r).total_len as u64 <= MAX_TENSOR_WORDS);
            }
            // Any error will do (a size, a field, the loss): not a panic.
            Err(e) => assert!(!e.is_empty(), "{what}"),
        }
    }
    // A target layer past the end, and the largest index there is.
    let mut s = preset("shallow-ae").unwrap();
    s.target_layer = Some(usize::MAX);
    assert!(s.resolve(10).unwrap_err().contains("target layer"));
    // Batches whose buffers overflow u64 are refused as well.
    let spec = preset("shallow-ae").unwrap();
    let r = spec.resolve(10).unwrap();
    for batch in [0, usize::MAX, 1 << 40] {
        let err = check(&spec, &r, batch, 60_000, 10_000, 784, &webgpu_defaults());
        assert!(err.is_err(), "batch {batch}");
    }
}

#[test]
fn output_shape_never_overflows() {
    let big = Shape::image(usize::MAX, usize::MAX, usize::MAX);
    let layers = [
        Layer::dense(usize::MAX, Act::Relu),
        Layer::conv(usize::MAX, usize::MAX, true, Act::Relu),
        Layer::conv(3, 3, false, Act::Relu),
        Layer::maxpool(usize::MAX, false),
        Layer::maxpool(2, true),
        Layer::upsample(usize::MAX),
        Layer::flatten(),
        Layer::reshape(usize::MAX, usize::MAX, 2),
        Layer::batchnorm(),
    ];
    for l in layers {
        for input in [
            big,
            Shape::image(0, 0, 0),
            Shape::image(1 << 20, 1 << 20, 1),
        ] {
            if let Ok(out) = l.layer.output_shape(input) {
                let n = out.elements().expect("an accepted shape's size fits u64");
                assert!((1..=MAX_TENSOR_WORDS).contains(&n), "{l:?} on {input:?}");
            }
        }
    }
    // Flatten of 2^40 values per sample: an error naming the field.
    let err = Layer::flatten()
        .layer
        .output_shape(Shape::image(1 << 20, 1 << 20, 1))
        .unwrap_err();
    assert!(err.contains("1099511627776 values per sample"), "{err}");
}

/// 28x28x1 -> conv 64 same -> conv 1 sigmoid: tiny parameters, a wide
/// activation (256 × 28·28·64 f32 = 49 MiB).
fn wide_conv() -> ModelSpec {
    let mut spec = preset("conv-dae").unwrap();
    spec.layers = vec![
        Layer::conv(64, 3, true, Act::Relu),
        Layer::conv(1, 3, true, Act::Sigmoid),
    ];
    spec.loss = Loss::Mse;
    spec.batch_size = 256;
    spec.train_limit = None;
    spec
}

#[test]
fn an_activation_over_the_binding_limit_is_refused_by_name() {
    let spec = wide_conv();
    let limits = |binding: u64| Limits {
        max_storage_binding: binding,
        max_buffer_size: 1 << 40,
        host_memory: None,
        unified_memory: false,
    };
    // 49 MiB of activations against 48 MiB bindings; the 44.9 MiB of
    // training images fit either limit.
    assert!(mnist(&spec, &limits(50 * MIB)).is_ok());
    let err = mnist(&spec, &limits(48 * MIB)).unwrap_err();
    assert!(err.starts_with("conv2d output needs 49.0 MiB"), "{err}");
    assert!(err.contains("batch 256 × 50176 f32"), "{err}");
    assert!(
        err.contains("max_storage_buffer_binding_size of 48.0 MiB"),
        "{err}"
    );
    assert!(
        err.contains("of conv2d or the batch size (--batch-size)"),
        "{err}"
    );
    // A smaller batch fits again.
    let mut small = spec.clone();
    small.batch_size = 128;
    assert!(mnist(&small, &limits(48 * MIB)).is_ok());
    // With 1 MiB bindings the first buffer over it is refused.
    let err = mnist(&spec, &limits(MIB)).unwrap_err();
    assert!(
        err.contains("conv2d output") && err.contains("1.0 MiB"),
        "{err}"
    );
}

#[test]
fn too_little_host_memory_is_refused() {
    let spec = preset("mlp-dae").unwrap();
    let ok = mnist(&spec, &webgpu_defaults()).unwrap();
    let limits = |host: u64, unified: bool| Limits {
        host_memory: Some(host),
        unified_memory: unified,
        ..webgpu_defaults()
    };
    assert!(mnist(&spec, &limits(ok.host_bytes, false)).is_ok());
    let err = mnist(&spec, &limits(ok.host_bytes - 1, false)).unwrap_err();
    assert!(
        err.contains("of host memory") && err.contains("Fix:"),
        "{err}"
    );
    // On a CPU adapter the GPU buffers are host memory too.
    let unified = mnist(&spec, &limits(u64::MAX, true)).unwrap();
    assert_eq!(unified.host_bytes, ok.host_bytes + ok.gpu_bytes);
    let err = mnist(&spec, &limits(ok.host_bytes, true)).unwrap_err();
    assert!(err.contains("live in host memory"), "{err}");
}

#[test]
fn host_memory_is_read_from_meminfo() {
    let text = "MemTotal:       24730000 kB\nMemFree:  100 kB\nMemAvailable:   23707000 kB\n";
    assert_eq!(budget::mem_available(text), Some(23_707_000 * 1024));
    assert_eq!(budget::mem_available("MemFree: 100 kB\n"), None);
    assert_eq!(budget::mem_available("MemAvailable: lots kB\n"), None);
    if cfg!(target_os = "linux") {
        assert!(budget::host_available_memory().unwrap() > 0);
    }
}

#[test]
fn a_checkpoint_spec_edited_to_huge_sizes_does_not_resolve() {
    // As `dae eval` reads a checkpoint's spec.
    let json = serde_json::to_string(&preset("mlp-dae").unwrap()).unwrap();
    assert!(json.contains("\"units\":512"), "{json}");
    let huge = ["100000000", "4611686018427387904", "18446744073709551615"];
    for units in huge {
        let edited = json.replacen("\"units\":512", &format!("\"units\":{units}"), 1);
        let spec = serde_json::from_str::<ModelSpec>(&edited).unwrap();
        let err = spec.resolve(10).unwrap_err();
        assert!(err.contains("layer 0 (dense)"), "{units}: {err}");
    }
    // Past u64, and negative: serde refuses to parse, no panic either.
    for bad in ["18446744073709551616", "-1", "1e30"] {
        let edited = json.replacen("\"units\":512", &format!("\"units\":{bad}"), 1);
        assert!(serde_json::from_str::<ModelSpec>(&edited).is_err(), "{bad}");
    }
    let edited = json.replacen("\"c\":784", "\"c\":0", 1);
    let err = serde_json::from_str::<ModelSpec>(&edited)
        .unwrap()
        .resolve(10)
        .unwrap_err();
    assert!(err.contains("zero dimension"), "{err}");
}
