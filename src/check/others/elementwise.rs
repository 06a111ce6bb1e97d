//! Elementwise kernels: activations forward and backward, dropout forward
//! and backward (and its backward fused with the activation after it), the
//! input-noise kinds, and the batch gather from the u8 dataset with its
//! pixel scaling.

use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};

use super::{act_name, as_f32, nans, on_gpu, pick, run1, tol, Cases, ACTS, EXACT};
use crate::check::uniform;
use crate::gpu::StepInfo;
use crate::kernels::activation::{self, Activation};
use crate::kernels::noise::{self, Noise};
use crate::kernels::{dropout, gather};
use crate::reference;

/// mlp-dae's Dense 512 → BatchNorm → Dropout 0.2 → LeakyReLU 0.3 blocks.
const UNITS: usize = 512;
/// mlp-dae's dropout rate.
const MLP_DAE_RATE: f32 = 0.2;
/// A multiple of neither the 256-element workgroups nor 4.
const RAGGED: usize = 1001;

/// The step record of `tests/dropout.rs`.
const DROPOUT_STEP: StepInfo = StepInfo {
    step: 17,
    batch_start: 0,
    seed: 0xDA7A_5EED,
    valid_rows: 0,
    lr: 0.0,
    bias_correction1: 0.0,
    bias_correction2: 0.0,
    _pad: 0,
};

/// The step record of `tests/fusion.rs`.
const FUSION_STEP: StepInfo = StepInfo {
    step: 5,
    seed: 0x5EED_F00D,
    ..DROPOUT_STEP
};

/// The step record of `tests/noise.rs`.
const NOISE_STEP: StepInfo = StepInfo {
    step: 4242,
    seed: 12345,
    ..DROPOUT_STEP
};

/// Every case of this group.
pub(super) fn all(k: &mut Cases) {
    let b = k.batch(256, 32);
    let preset = (b * UNITS, format!("{b}x{UNITS} mlp-dae"));
    let ragged = (RAGGED, format!("{RAGGED} ragged"));
    for (i, (n, shape)) in [&preset, &ragged].into_iter().enumerate() {
        for (j, act) in ACTS.into_iter().enumerate() {
            let seed = 3000 + 10 * (4 * i + j) as u64;
            activation_forward(k, *n, shape, act, seed);
            activation_backward(k, *n, shape, act, seed + 1);
        }
    }
    dropout_pass(k, false, preset.0, &preset.1, MLP_DAE_RATE, 3, 3100);
    dropout_pass(k, false, RAGGED, &ragged.1, 0.5, 3, 3101);
    dropout_pass(k, true, preset.0, &preset.1, MLP_DAE_RATE, 9, 3102);
    // tests/dropout.rs dropout_backward_matches_reference: rate 0.3, stream 9.
    dropout_pass(k, true, RAGGED, &ragged.1, 0.3, 9, 3103);
    let leaky = Activation::LeakyRelu(0.3);
    dropout_activation(k, preset.0, &preset.1, MLP_DAE_RATE, leaky, 3110);
    // tests/fusion.rs: each activation with its own rate.
    for (ai, act) in ACTS.into_iter().enumerate() {
        let rate = [0.0, 0.2, 0.5, 0.9][ai];
        dropout_activation(k, RAGGED, &ragged.1, rate, act, 3111 + ai as u64);
    }
    noise_cases(k);
    let b = k.batch(128, 32);
    gather_case(
        k,
        false,
        100,
        784,
        b,
        33,
        &format!("{b}x784 of 100 mnist"),
        3200,
    );
    gather_case(
        k,
        false,
        301,
        13,
        37,
        296,
        "37x13 of 301, last ragged",
        3201,
    );
    gather_case(
        k,
        true,
        301,
        13,
        37,
        296,
        "37x13 f32 of 301, last ragged",
        3202,
    );
}

/// y = act(x) over n elements, x in ±6.
fn activation_forward(k: &mut Cases, n: usize, shape: &str, act: Activation, seed: u64) {
    let kernel = format!("activation forward {}", act_name(act));
    k.case(&kernel, "-", shape, |c| {
        let x = uniform(seed, n, -6.0, 6.0);
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let xt = gpu.upload_f32("x", &x)?;
            let yt = nans(gpu, n)?;
            run1(
                gpu,
                activation::forward(gpu, &yt, &xt, n, act)?,
                &StepInfo::default(),
            )?;
            gpu.read_f32(&yt)
        });
        let mut want = vec![0.0; n];
        reference::activation::forward(&mut want, &x, act);
        // tests/activation.rs activation_forward_matches_reference.
        c.check("", got, &want, tol(1e-6, 1e-5));
    });
}

/// dx = dy·act'(x) from the forward output y.
fn activation_backward(k: &mut Cases, n: usize, shape: &str, act: Activation, seed: u64) {
    let kernel = format!("activation backward {}", act_name(act));
    k.case(&kernel, "-", shape, |c| {
        let x = uniform(seed, n, -6.0, 6.0);
        let dy = uniform(seed + 5, n, -1.0, 1.0);
        let mut y = vec![0.0; n];
        reference::activation::forward(&mut y, &x, act);
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let dyt = gpu.upload_f32("dy", &dy)?;
            let yt = gpu.upload_f32("y", &y)?;
            let dxt = nans(gpu, n)?;
            let d = activation::backward(gpu, &dxt, &dyt, &yt, n, act)?;
            run1(gpu, d, &StepInfo::default())?;
            gpu.read_f32(&dxt)
        });
        let mut want = vec![0.0; n];
        reference::activation::backward(&mut want, &dy, &y, act);
        // tests/activation.rs activation_backward_matches_reference.
        c.check("", got, &want, tol(1e-7, 1e-6));
    });
}

/// Dropout forward (x → y) or backward (dy → dx, the mask recomputed).
fn dropout_pass(
    k: &mut Cases,
    backward: bool,
    n: usize,
    shape: &str,
    rate: f32,
    stream: u32,
    seed: u64,
) {
    let kernel = if backward {
        "dropout backward"
    } else {
        "dropout forward"
    };
    let shape = format!("{shape} rate {rate}");
    k.case(kernel, "-", &shape, |c| {
        // Inputs away from 0, so a zero output always means "dropped".
        let x = uniform(seed, n, 0.5, 2.0);
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let xt = gpu.upload_f32("x", &x)?;
            let yt = nans(gpu, n)?;
            let d = if backward {
                dropout::backward(gpu, &yt, &xt, n, rate, stream)?
            } else {
                dropout::forward(gpu, &yt, &xt, n, rate, stream)?
            };
            run1(gpu, d, &DROPOUT_STEP)?;
            gpu.read_f32(&yt)
        });
        let mut want = vec![0.0; n];
        if backward {
            reference::dropout::backward(&mut want, &x, rate, stream, &DROPOUT_STEP);
        } else {
            reference::dropout::forward(&mut want, &x, rate, stream, &DROPOUT_STEP);
        }
        // tests/dropout.rs dropout_{forward,backward}_matches_reference: the
        // mask is bit-exact, x·scale one rounded product.
        c.check("", got, &want, tol(0.0, 1e-7));
    });
}

/// The activation's backward fused with the dropout's before it.
fn dropout_activation(k: &mut Cases, n: usize, shape: &str, rate: f32, act: Activation, seed: u64) {
    let variant = format!("fused {}", act_name(act));
    let shape = format!("{shape} rate {rate}");
    k.case("dropout backward", &variant, &shape, |c| {
        let pre = uniform(seed, n, -2.0, 2.0);
        let mut y = vec![0.0; n];
        reference::activation::forward(&mut y, &pre, act);
        let dy = uniform(seed + 5, n, -1.0, 1.0);
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let dyt = gpu.upload_f32("dy", &dy)?;
            let yt = gpu.upload_f32("y", &y)?;
            let dxt = nans(gpu, n)?;
            let d = dropout::backward_with_activation(gpu, &dxt, &dyt, &yt, n, rate, 3, act)?;
            run1(gpu, d, &FUSION_STEP)?;
            gpu.read_f32(&dxt)
        });
        let mut dz = vec![0.0; n];
        reference::activation::backward(&mut dz, &dy, &y, act);
        let mut want = vec![0.0; n];
        reference::dropout::backward(&mut want, &dz, rate, 3, &FUSION_STEP);
        // tests/fusion.rs activation_dropout_backward_is_the_separate_passes_bit_for_bit.
        c.check("", got, &want, tol(0.0, 1e-6));
    });
}

/// Every noise kind on an MNIST batch (the presets' kinds where one uses
/// it) and on a ragged length.
fn noise_cases(k: &mut Cases) {
    let kinds = [
        (Noise::None, 32),
        (
            Noise::Gaussian {
                sigma: 0.1,
                clip: true,
            },
            256, // mlp-dae
        ),
        (
            Noise::Gaussian {
                sigma: 0.4,
                clip: false,
            },
            32, // shallow-dae
        ),
        (Noise::Uniform { level: 0.3 }, 32),
        (Noise::SaltPepper { p: 0.4 }, 64), // sp-dae
        (Noise::Masking { p: 0.2 }, 32),
    ];
    for (i, (kind, batch)) in kinds.into_iter().enumerate() {
        let b = k.batch(batch, 32);
        let seed = 3300 + 2 * i as u64;
        noise_case(k, kind, b * 784, &format!("{b}x784 mnist batch"), seed);
        noise_case(k, kind, RAGGED, &format!("{RAGGED} ragged"), seed + 1);
    }
}

/// One noise kind over n pixels in [0, 1], stream 5.
fn noise_case(k: &mut Cases, kind: Noise, n: usize, shape: &str, seed: u64) {
    k.case(&format!("noise {kind}"), "-", shape, |c| {
        let x = uniform(seed, n, 0.0, 1.0);
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let xt = gpu.upload_f32("x", &x)?;
            let yt = nans(gpu, n)?;
            run1(gpu, noise::apply(gpu, &yt, &xt, n, kind, 5)?, &NOISE_STEP)?;
            gpu.read_f32(&yt)
        });
        let mut want = vec![0.0; n];
        reference::noise::apply(&mut want, &x, kind, 5, &NOISE_STEP);
        // tests/noise.rs noise_apply_matches_reference.
        let t = match kind {
            Noise::Gaussian { sigma, .. } => tol(5e-3 * sigma as f64 + 1e-6, 1e-5),
            Noise::Uniform { .. } => tol(1e-7, 1e-6),
            _ => EXACT,
        };
        c.check("", got, &want, t);
    });
}

/// One batch gathered from `samples` random images starting at row
/// `batch_start` of a shuffled index list: from a u8 dataset (byte · 1/255)
/// or, with `float`, an f32 one (the user's own float data, copied).
#[allow(clippy::too_many_arguments)]
fn gather_case(
    k: &mut Cases,
    float: bool,
    samples: usize,
    features: usize,
    batch: usize,
    batch_start: usize,
    shape: &str,
    seed: u64,
) {
    let name = if float { "gather float" } else { "gather" };
    k.case(name, "-", shape, |c| {
        let mut r = StdRng::seed_from_u64(seed);
        let bytes: Vec<u8> = (0..samples * features).map(|_| r.random()).collect();
        let floats: Vec<f32> = (0..samples * features).map(|_| r.random()).collect();
        let labels: Vec<u8> = (0..samples).map(|_| r.random()).collect();
        let mut indices: Vec<u32> = (0..samples as u32).collect();
        indices.shuffle(&mut r);
        let step = StepInfo {
            batch_start: batch_start as u32,
            ..StepInfo::default()
        };
        let gpu = c.gpu;
        let outs = on_gpu(|| {
            let lt = gpu.upload_u8("labels", &labels)?;
            let idx = gpu.upload_u32("indices", &indices)?;
            let xt = nans(gpu, batch * features)?;
            let lo = gpu.upload_u32("labels_out", &vec![u32::MAX; batch])?;
            let d = if float {
                let it = gpu.upload_f32("images", &floats)?;
                gather::gather_float(gpu, &xt, &lo, &it, &lt, &idx, samples, batch, features)?
            } else {
                let it = gpu.upload_u8("images", &bytes)?;
                gather::gather(gpu, &xt, &lo, &it, &lt, &idx, samples, batch, features)?
            };
            run1(gpu, d, &step)?;
            Ok(vec![gpu.read_f32(&xt)?, as_f32(&gpu.read_u32(&lo)?)])
        });
        let (mut x, mut lab) = (vec![0.0; batch * features], vec![0; batch]);
        if float {
            reference::gather::gather_float(
                &mut x, &mut lab, &floats, &labels, &indices, batch, features, &step,
            );
        } else {
            reference::gather::gather(
                &mut x, &mut lab, &bytes, &labels, &indices, batch, features, &step,
            );
        }
        // tests/gather.rs: byte · (1/255) is one correctly rounded product,
        // and a float is copied, so both are exact; the labels are copied.
        c.check("x", pick(&outs, 0), &x, EXACT);
        c.check("labels", pick(&outs, 1), &as_f32(&lab), EXACT);
    });
}
