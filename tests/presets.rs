//! Presets build and report the exact parameter counts of the studies
//! (docs/studies.md).

use dae::nn::params::ParamLayout;
use dae::nn::presets::{preset, PRESETS};
use dae::nn::summary::summary;

fn counts(name: &str) -> (usize, usize, usize) {
    let spec = preset(name).unwrap();
    let r = spec.resolve(10).unwrap();
    ParamLayout::new(&spec, &r).counts()
}

fn dense(i: usize, o: usize) -> usize {
    i * o + o
}

#[test]
fn mlp_dae_has_the_studys_parameter_counts() {
    assert_eq!(counts("mlp-dae"), (1_438_676, 1_434_580, 4_096));
}

#[test]
fn dense_presets_have_exact_counts() {
    assert_eq!(counts("shallow-ae").0, dense(784, 128) + dense(128, 784));
    assert_eq!(counts("shallow-dae").0, dense(784, 128) + dense(128, 784));
    assert_eq!(
        counts("sp-mlp").0,
        dense(784, 64) + dense(64, 64) + dense(64, 10)
    );
    assert_eq!(
        counts("sp-mlp-l2").0,
        dense(784, 500) + dense(500, 300) + dense(300, 10)
    );
    let deep = dense(784, 512) + dense(512, 128) + dense(128, 512) + dense(512, 784);
    assert_eq!(counts("deep-ae").0, deep);
    assert_eq!(counts("deep-dae").0, deep);
    assert_eq!(
        counts("sp-dae").0,
        dense(784, 128) + dense(128, 96) + dense(96, 128) + dense(128, 784)
    );
    // The classifier head on 196-d codes is 15,146 in the study; on raw
    // pixels the first layer grows by (784 - 196) * 64.
    assert_eq!(
        counts("raw-classifier"),
        (15_146 + 588 * 64, 15_146 + 588 * 64 - 64, 64)
    );
}

#[test]
fn every_preset_resolves_and_summarises() {
    for (name, _) in PRESETS {
        let spec = preset(name).unwrap();
        let r = spec.resolve(10).unwrap();
        let layout = ParamLayout::new(&spec, &r);
        let text = summary(&spec, &r, &layout);
        assert!(text.contains("Total params"), "{name}");
        // Offsets are aligned and tensors never overlap.
        let mut spans: Vec<_> = layout.entries.iter().map(|e| (e.offset, e.len)).collect();
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "{name}: overlapping parameters");
        }
        assert!(layout.entries.iter().all(|e| e.offset % 64 == 0));
        assert!(layout
            .entries
            .iter()
            .all(|e| e.trainable == (e.offset < layout.trainable_len)));
    }
}

#[test]
fn summary_prints_keras_totals() {
    let spec = preset("mlp-dae").unwrap();
    let r = spec.resolve(10).unwrap();
    let text = summary(&spec, &r, &ParamLayout::new(&spec, &r));
    assert!(text.contains("Total params: 1,438,676"), "{text}");
    assert!(text.contains("Trainable params: 1,434,580"), "{text}");
    assert!(text.contains("Non-trainable params: 4,096"), "{text}");
}

/// The preset names of the presets table in docs/studies.md.
const STUDY_PRESETS: [&str; 14] = [
    "mlp-dae",
    "code-classifier",
    "raw-classifier",
    "conv-dae",
    "conv-dae-classifier",
    "shallow-ae",
    "shallow-dae",
    "deep-ae",
    "deep-dae",
    "fashion-cae",
    "sp-mlp",
    "sp-mlp-l2",
    "sp-cnn",
    "sp-dae",
];

#[test]
fn every_study_preset_is_listed_and_builds() {
    let listed: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
    for name in STUDY_PRESETS {
        assert!(listed.contains(&name), "{name} missing from PRESETS");
        assert!(preset(name).is_ok(), "{name}");
    }
    assert_eq!(listed.len(), STUDY_PRESETS.len(), "{listed:?}");
}

#[test]
fn unknown_preset_lists_the_known_ones() {
    let err = preset("mlp-daee").unwrap_err();
    assert!(err.contains("mlp-dae") && err.contains("sp-mlp"), "{err}");
}

#[test]
fn impossible_architectures_are_rejected() {
    let mut spec = preset("sp-mlp").unwrap();
    spec.layers.pop();
    let err = spec.resolve(10).unwrap_err();
    assert!(err.contains("10 units") || err.contains("softmax"), "{err}");
    let mut spec = preset("shallow-ae").unwrap();
    spec.layers.pop();
    let err = spec.resolve(10).unwrap_err();
    assert!(err.contains("reconstruct"), "{err}");
}

#[test]
fn initialisation_is_seeded() {
    let spec = preset("mlp-dae").unwrap();
    let r = spec.resolve(10).unwrap();
    let layout = ParamLayout::new(&spec, &r);
    let a = layout.init(&spec, 7);
    let b = layout.init(&spec, 7);
    let c = layout.init(&spec, 8);
    assert_eq!(a, b);
    assert_ne!(a, c);
    // mlp-dae draws kernels from N(0, 0.05²): check the first kernel's std.
    let k = layout.find(0, dae::nn::params::Role::Kernel).unwrap();
    let w = &a[k.offset..k.offset + k.len];
    let var = w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / w.len() as f64;
    assert!((var.sqrt() - 0.05).abs() < 0.002, "std {}", var.sqrt());
}

#[test]
fn convolutional_presets_have_the_studys_counts() {
    assert_eq!(counts("conv-dae"), (16_833, 16_833, 0));
    assert_eq!(counts("conv-dae-classifier"), (24_362, 19_418, 4_944));
    assert_eq!(counts("fashion-cae"), (306_699, 303_623, 3_076));
    // sp-cnn: conv 32, conv 64, pool 3 -> 8x8x64 = 4096 -> 64 -> 10.
    let conv = |k: usize, cin: usize, cout: usize| k * k * cin * cout + cout;
    assert_eq!(
        counts("sp-cnn").0,
        conv(3, 1, 32) + conv(3, 32, 64) + dense(4096, 64) + dense(64, 10)
    );
    // The code classifier alone is the study's 15,146 (64 of them BatchNorm
    // statistics); the frozen mlp-dae encoder comes on top.
    let (total, trainable, _) = counts("code-classifier");
    assert_eq!(trainable, 15_146 - 64);
    let encoder = dense(784, 512) + dense(512, 512) + dense(512, 256) + dense(256, 196);
    assert_eq!(total, 15_146 + encoder + 4 * (512 + 512 + 256));
}
