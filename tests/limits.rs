//! A plan is held to the device's limits when it is built: a model that
//! does not fit fails before training, naming the layer (or the step), the
//! kernel, what it needs and the limit; and the WebGPU default limits are
//! enough for every preset.

use std::process::Command;

use dae::data::gpu::GpuDataset;
use dae::data::{Dataset, DatasetName};
use dae::gpu::limits::requested;
use dae::gpu::{Gpu, Program};
use dae::nn::budget;
use dae::nn::params::ParamLayout;
use dae::nn::presets::{preset, PRESETS};
use dae::train::plan::{GpuModel, StepPlan};
use dae::train::Trainer;

/// A device with exactly `limits` (and `features` where the adapter has
/// them). Without an adapter the test is skipped, except under `CI=true`.
fn gpu_with(limits: wgpu::Limits, features: wgpu::Features) -> Option<Gpu> {
    match Gpu::with_limits(limits, features) {
        Ok(g) => Some(g),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true and no device with the WebGPU default limits: {e}")
        }
        Err(e) => {
            eprintln!("skipping GPU test: {e}");
            None
        }
    }
}

/// The WebGPU defaults with one change.
fn webgpu_with(change: impl FnOnce(&mut wgpu::Limits)) -> wgpu::Limits {
    let mut l = wgpu::Limits::default();
    change(&mut l);
    l
}

/// `n` blank training and test images of the preset's input size.
fn blank_dataset(features: usize, n: usize) -> Dataset {
    assert_eq!(features, 28 * 28, "the presets take 28x28 images");
    Dataset {
        source: DatasetName::Mnist.into(),
        train_images: vec![0; n * features],
        train_labels: (0..n).map(|i| (i % 10) as u8).collect(),
        test_images: vec![0; n * features],
        test_labels: (0..n).map(|i| (i % 10) as u8).collect(),
        float_images: None,
        rows: 28,
        cols: 28,
        channels: 1,
        num_classes: 10,
    }
}

/// Trainer::new's error for `name` on `gpu`: it must fail.
fn trainer_error(gpu: &Gpu, name: &str) -> String {
    let spec = preset(name).unwrap();
    let data = blank_dataset(spec.input.size(), spec.batch_size);
    match Trainer::new(gpu, spec, &data, None, 1) {
        Ok(_) => panic!("{name} built a plan past the device's limits"),
        Err(e) => format!("{e:#}"),
    }
}

fn assert_has(err: &str, parts: &[&str]) {
    for p in parts {
        assert!(err.contains(p), "the error lacks {p:?}:\n{err}");
    }
}

#[test]
fn too_little_workgroup_memory_names_the_layer_the_need_and_the_limit() {
    // Without subgroups every adapter runs the tiled matmul, whose two
    // 32x32 f32 tiles are 8 KiB of workgroup memory.
    let limits = webgpu_with(|l| l.max_compute_workgroup_storage_size = 4096);
    let Some(gpu) = gpu_with(limits, wgpu::Features::empty()) else {
        return;
    };
    let err = trainer_error(&gpu, "sp-mlp");
    assert_has(
        &err,
        &[
            "model sp-mlp, layer 0 (dense), forward",
            "kernel matmul_tiled",
            "needs 8192 bytes of workgroup memory",
            "allows 4096 (max_compute_workgroup_storage_size)",
            "fix:",
        ],
    );
}

#[test]
fn too_few_workgroups_per_dimension_name_the_step_and_the_kernel() {
    let limits = webgpu_with(|l| l.max_compute_workgroups_per_dimension = 16);
    let Some(gpu) = gpu_with(limits, wgpu::Features::SUBGROUP) else {
        return;
    };
    let err = trainer_error(&gpu, "sp-mlp");
    assert_has(
        &err,
        &[
            "input (gather and noise): kernel gather needs",
            "workgroups along x but the device allows 16 (max_compute_workgroups_per_dimension)",
            "raise max_compute_workgroups_per_dimension",
        ],
    );
}

#[test]
fn too_few_storage_buffers_name_the_kernel_and_the_limit() {
    let limits = webgpu_with(|l| l.max_storage_buffers_per_shader_stage = 3);
    let Some(gpu) = gpu_with(limits, wgpu::Features::SUBGROUP) else {
        return;
    };
    let err = trainer_error(&gpu, "sp-mlp");
    assert_has(
        &err,
        &[
            "kernel gather needs",
            "storage buffers in one shader stage but the device allows 3 \
             (max_storage_buffers_per_shader_stage)",
        ],
    );
}

/// Builds the whole step plan of every preset on `gpu` (its batch size,
/// one batch of blank images); the kernels' largest needs.
fn build_every_preset(gpu: &Gpu) -> (u32, u64, u32) {
    let mut most = (0, 0, 0);
    for (name, _) in PRESETS {
        let spec = preset(name).unwrap();
        let batch = spec.batch_size;
        let data = blank_dataset(spec.input.size(), batch);
        let r = spec.resolve(10).unwrap();
        let init = ParamLayout::new(&spec, &r).init(&spec, 1);
        let model = GpuModel::new(gpu, spec, 10, &init).unwrap();
        let data = GpuDataset::upload(gpu, &data, None).unwrap();
        let plan = StepPlan::build(gpu, &model, &data, batch)
            .unwrap_or_else(|e| panic!("{name} on the WebGPU defaults: {e}"));
        for k in Program::kernels(&[&plan.train, &plan.eval, &plan.check_params]) {
            let n = k.needs();
            let [x, y, z] = n.workgroup_size;
            most.0 = most.0.max(n.storage_buffers);
            most.1 = most.1.max(n.workgroup_storage);
            most.2 = most.2.max(x * y * z);
        }
    }
    most
}

#[test]
fn the_webgpu_default_limits_fit_every_preset() {
    let d = wgpu::Limits::default();
    assert_eq!(d.max_storage_buffer_binding_size, 128 << 20);
    assert_eq!(d.max_compute_workgroup_storage_size, 16 << 10);
    // Every buffer of a full run (the whole training and test sets).
    let limits = budget::Limits::from_adapter(&d, None);
    for (name, _) in PRESETS {
        let spec = preset(name).unwrap();
        let r = spec.resolve(10).unwrap();
        let (train, test) = (60_000, 10_000);
        budget::check(&spec, &r, spec.batch_size, train, test, 784, &limits)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // Every kernel and dispatch, with the register-blocked kernels (on a
    // CPU adapter with subgroups) and with the tiled ones a GPU runs.
    for features in [wgpu::Features::SUBGROUP, wgpu::Features::empty()] {
        let Some(gpu) = gpu_with(d.clone(), features) else {
            return;
        };
        let (buffers, memory, invocations) = build_every_preset(&gpu);
        assert!(buffers <= d.max_storage_buffers_per_shader_stage);
        assert!(memory <= d.max_compute_workgroup_storage_size.into());
        assert!(invocations <= d.max_compute_invocations_per_workgroup);
    }
}

#[test]
fn the_request_is_the_webgpu_defaults_with_the_adapters_buffer_sizes() {
    let adapter = wgpu::Limits {
        max_buffer_size: 4 << 30,
        max_storage_buffer_binding_size: 2 << 30,
        max_compute_workgroup_storage_size: 64 << 10,
        max_storage_buffers_per_shader_stage: 64,
        ..wgpu::Limits::default()
    };
    let want = requested(&adapter, None).unwrap();
    assert_eq!(want.max_buffer_size, 4 << 30);
    assert_eq!(want.max_storage_buffer_binding_size, 2 << 30);
    assert_eq!(want.max_compute_workgroup_storage_size, 16 << 10);
    assert_eq!(want.max_storage_buffers_per_shader_stage, 8);
    assert!(want.check_limits(&adapter));
    // An adapter below a default gets its own value.
    let small = wgpu::Limits {
        max_compute_workgroup_storage_size: 8 << 10,
        ..adapter.clone()
    };
    let want = requested(&small, Some("")).unwrap();
    assert_eq!(want.max_compute_workgroup_storage_size, 8 << 10);
    // DAE_LIMITS.
    assert_eq!(
        requested(&adapter, Some("webgpu")).unwrap(),
        wgpu::Limits::default()
    );
    assert_eq!(requested(&adapter, Some("adapter")).unwrap(), adapter);
    let set = requested(
        &adapter,
        Some("webgpu, max_compute_workgroup_storage_size=4096"),
    )
    .unwrap();
    assert_eq!(set.max_compute_workgroup_storage_size, 4096);
    assert_eq!(set.max_buffer_size, 256 << 20);
    let set = requested(&adapter, Some("max_compute_workgroups_per_dimension=1024")).unwrap();
    assert_eq!(set.max_compute_workgroups_per_dimension, 1024);
    assert_eq!(set.max_buffer_size, 4 << 30);
    for bad in [
        "big",
        "max_bogus=1",
        "max_buffer_size=lots",
        "adapter,webgpu",
    ] {
        assert!(requested(&adapter, Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn the_cli_fails_before_training_with_the_layer_and_no_panic() {
    let out_dir = std::env::temp_dir().join(format!("dae-limits-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let out = Command::new(env!("CARGO_BIN_EXE_dae"))
        .args(["train", "--preset", "mlp-dae", "--epochs", "1", "--quiet"])
        .args(["--train-limit", "512", "--test-limit", "256", "--out"])
        .arg(&out_dir)
        .env("DAE_DATA", concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
        .env("DAE_LIMITS", "max_compute_workgroup_storage_size=512")
        // Tuning runs first (into a cache folder of its own) and must leave
        // a pass no variant can run to the plan's error.
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join(format!("dae-limits-cache-{}", std::process::id())),
        )
        .env_remove("DAE_TUNE")
        .env_remove("DAE_KERNELS")
        .output()
        .expect("run dae");
    let trained = out_dir.join("metrics.csv").exists();
    let _ = std::fs::remove_dir_all(&out_dir);
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("no GPU adapter") && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("skipping: {err}");
        return;
    }
    assert!(!out.status.success(), "trained past the limit:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_has(
        &err,
        &[
            // A layer's kernel on a GPU (the tiled matmul), the loss's
            // reduction on a CPU driver (no layer kernel of it there uses
            // workgroup memory).
            "model mlp-dae, ",
            "bytes of workgroup memory but the device allows 512 \
             (max_compute_workgroup_storage_size)",
            "fix:",
        ],
    );
    assert!(!trained, "it trained an epoch");
}

#[test]
fn the_wide_matmul_tiles_fit_the_webgpu_default_workgroup_limits() {
    // Reflected from the shaders (no GPU needed): what each wide kernel
    // declares is the storage its module documents, and within the WebGPU
    // defaults; a device with 8 KiB of workgroup memory takes the 64x64
    // tiles but refuses the 128x64 ones, naming the limit.
    use dae::gpu::Needs;
    use dae::kernels::matmul::{wide, Variant};
    let d = wgpu::Limits::default();
    let small = webgpu_with(|l| l.max_compute_workgroup_storage_size = 8 << 10);
    for v in [Variant::Tiled64, Variant::Tiled128x64] {
        for aligned in [true, false] {
            for form in [0.0, 1.0, 2.0] {
                let (spec, _) = wide::spec(v, 1, 1, aligned);
                let spec = spec.constant("FORM", form);
                let n = Needs::of(&spec).unwrap();
                let what = format!("{} aligned={aligned} FORM={form}", v.name());
                assert_eq!(n.workgroup_storage, wide::storage(v) as u64, "{what}");
                let [x, y, z] = n.workgroup_size;
                assert_eq!(x * y * z, 2 * wide::tile_rows(v) as u32, "{what}");
                n.check(spec.name, &d)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let on_small = n.check(spec.name, &small);
                assert_eq!(on_small.is_ok(), v == Variant::Tiled64, "{what}");
                if let Err(e) = on_small {
                    assert_has(
                        &e.to_string(),
                        &["12288", "max_compute_workgroup_storage_size"],
                    );
                }
            }
        }
    }
    assert_eq!(wide::storage(Variant::Tiled64), 8192);
    assert_eq!(wide::storage(Variant::Tiled128x64), 12288);
}
