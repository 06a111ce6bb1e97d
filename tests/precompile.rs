//! Precompiling a plan's pipelines (`Gpu::precompile`): on lavapipe, helper
//! devices compile every pipeline of a plan into Mesa's disk cache, nothing is
//! compiled twice, and training afterwards gives the same bits as a device
//! that compiled every pipeline itself at its first dispatch.
//!
//! One test in its own binary: it sets Mesa's cache variables, which the
//! driver reads whenever a device opens.

use dae::data::{Dataset, DatasetName};
use dae::gpu::{Gpu, Program};
use dae::train::{EpochMetrics, Trainer};

fn open() -> Option<Gpu> {
    match Gpu::new() {
        Ok(g) => Some(g),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true and no GPU adapter: {e}");
            }
            eprintln!("skipping GPU test: {e}");
            None
        }
    }
}

fn trainer<'g>(gpu: &'g Gpu, data: &Dataset) -> Trainer<'g> {
    let mut spec = dae::nn::presets::preset("shallow-ae").unwrap();
    spec.train_limit = Some(512);
    Trainer::new(gpu, spec, data, None, 7).unwrap()
}

/// One epoch: the parameters' bits and the figures but the time.
fn train(t: &mut Trainer) -> (Vec<u32>, (f64, f64)) {
    let m: EpochMetrics = t.run_epoch(1, |_, _| {}).unwrap();
    let bits = t.params().unwrap().iter().map(|v| v.to_bits()).collect();
    (bits, (m.train_loss, m.test_loss))
}

#[test]
fn helper_compiled_pipelines_train_to_the_same_bits_as_lazily_compiled_ones() {
    let mut data = Dataset::load(&Dataset::default_root(), DatasetName::Mnist).unwrap();
    data.test_images.truncate(100 * 784);
    data.test_labels.truncate(100);
    // A cache of this run's own, so the helpers have to compile.
    let cache = std::env::temp_dir().join(format!("dae-test-mesa-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    std::env::set_var("MESA_SHADER_CACHE_DIR", &cache);

    // The reference compiles each pipeline at its first dispatch, with no
    // disk cache to share.
    std::env::set_var("MESA_SHADER_CACHE_DISABLE", "true");
    let Some(lazy) = open() else { return };
    lazy.set_compile_threads(0);
    let want = train(&mut trainer(&lazy, &data));
    drop(lazy);
    std::env::remove_var("MESA_SHADER_CACHE_DISABLE");

    let gpu = open().unwrap();
    gpu.set_compile_threads(0);
    let mut t = trainer(&gpu, &data);
    let kernels = Program::kernels(&[&t.plan.train, &t.plan.eval, &t.plan.check_params]);
    let names: Vec<&str> = kernels.iter().map(|k| k.name).collect();
    assert!(kernels.len() >= 8, "distinct kernels: {names:?}");
    let r = gpu.precompile_on_helpers(&kernels, 2);
    if gpu.compiles_at_first_dispatch() {
        // Every pipeline binds the stand-in buffers without a validation
        // error, on the helpers (this device compiles only what they leave).
        assert_eq!(r.failed, 0, "{r:?}");
        assert_eq!(r.pipelines, kernels.len(), "{r:?} for {names:?}");
        assert_eq!(r.by_helpers, r.pipelines, "{r:?}");
        assert!(r.helpers >= 1, "{r:?}");
        assert!(kernels.iter().all(|k| k.is_compiled()));
        // Compiled once: asking again does nothing.
        let again = gpu.precompile_with(&kernels, 3);
        assert_eq!((again.pipelines, again.failed), (0, 0), "{again:?}");
    } else {
        // Drivers that compile when a pipeline is created: nothing to do.
        assert_eq!(r.pipelines, 0, "{r:?}");
    }
    assert_eq!(train(&mut t), want, "helper-compiled training differs");
    drop(t);
    drop(gpu);
    let _ = std::fs::remove_dir_all(&cache);
}
