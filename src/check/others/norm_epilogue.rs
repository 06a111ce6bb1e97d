//! BatchNorm's normalisation with its fused epilogue (the training-mode
//! dropout and the activation of the layers after it), in training and in
//! inference.

use super::norm::{bn, ref_train, run_infer, Bn};
use super::{act_name, nans, on_gpu, pick, tol, Cases, ACTS};
use crate::check::uniform;
use crate::gpu::StepInfo;
use crate::kernels::activation::Activation;
use crate::kernels::batchnorm::{self, Chunking, Epilogue, EPS, MOMENTUM};
use crate::reference;

/// The step record of `tests/fusion.rs` (the epilogue's dropout draws).
const FUSION_STEP: StepInfo = StepInfo {
    step: 5,
    batch_start: 0,
    seed: 0x5EED_F00D,
    valid_rows: 0,
    lr: 0.0,
    bias_correction1: 0.0,
    bias_correction2: 0.0,
    _pad: 0,
};

/// Every case of this group.
pub(super) fn all(k: &mut Cases) {
    // mlp-dae's Dense 512 → BatchNorm → Dropout 0.2 → LeakyReLU 0.3.
    let b = k.batch(256, 32);
    let mlp = (b, 512, format!("{b}x512 mlp-dae"));
    let leaky = Activation::LeakyRelu(0.3);
    let epi = Epilogue {
        dropout: Some((0.2, 7)),
        act: leaky,
    };
    epilogue_case(k, epi, mlp.0, mlp.1, &mlp.2, 7100);
    infer_epilogue_case(k, leaky, mlp.0, mlp.1, &mlp.2, 7101);
    for (ai, act) in ACTS.into_iter().enumerate() {
        let dropout = [None, Some((0.3, 8))][ai % 2];
        let epi = Epilogue { dropout, act };
        epilogue_case(k, epi, 37, 33, "37x33 ragged", 7110 + ai as u64);
        infer_epilogue_case(k, act, 37, 33, "37x33 ragged", 7120 + ai as u64);
    }
}

/// The epilogue's name: `+dropout(rate) +act`.
fn epi_name(epi: Epilogue) -> String {
    let drop = epi
        .dropout
        .map_or(String::new(), |(rate, _)| format!("+dropout({rate}) "));
    format!("{drop}+{}", act_name(epi.act))
}

/// Inputs and parameters as `tests/fusion.rs` draws them (x in ±2, gamma
/// in [0.5, 1.5]), which its tolerance assumes.
fn fusion_bn(seed: u64, rows: usize, features: usize) -> Bn {
    let mut p = bn(seed, rows, features);
    p.x = uniform(seed + 10, rows * features, -2.0, 2.0);
    let ranges = [(0.5, 1.5), (-0.5, 0.5), (-0.2, 0.2), (0.5, 2.0)];
    let vals = [0, 1, 2, 3].map(|i| {
        let (lo, hi) = ranges[i];
        uniform(seed + 11 + i as u64, features, lo, hi)
    });
    for (o, v) in p.offs.iter().zip(&vals) {
        p.flat[*o..*o + features].copy_from_slice(v);
    }
    [p.gamma, p.beta, p.rm, p.rv] = vals;
    p
}

/// The training forward with `epi` fused, in the chunkings of
/// `tests/fusion.rs`, against the reference's normalisation, dropout and
/// activation in turn.
fn epilogue_case(
    k: &mut Cases,
    epi: Epilogue,
    rows: usize,
    features: usize,
    shape: &str,
    seed: u64,
) {
    let aligned = features.is_multiple_of(4);
    let chunkings = [
        (aligned, Chunking::cpu(rows, features, aligned)),
        (false, Chunking::gpu(rows, features, false)),
    ];
    for (i, (vec4, ch)) in chunkings.into_iter().enumerate() {
        let variant = format!(
            "{}{} {}",
            ["cpu", "gpu"][i],
            if vec4 { " vec4" } else { "" },
            epi_name(epi)
        );
        k.case("batchnorm forward (train)", &variant, shape, |c| {
            let p = fusion_bn(seed, rows, features);
            let gpu = c.gpu;
            let got = on_gpu(|| {
                let (x, pt) = (
                    gpu.upload_f32("x", &p.x)?,
                    gpu.upload_f32("params", &p.flat)?,
                );
                let (mean, rstd) = (gpu.zeros("mean", features)?, gpu.zeros("rstd", features)?);
                let y = nans(gpu, rows * features)?;
                let o = p.offs;
                batchnorm::forward_train_chunked(
                    gpu,
                    ch,
                    &y,
                    &mean,
                    &rstd,
                    pt.at(o[2]),
                    pt.at(o[3]),
                    &x,
                    pt.at(o[0]),
                    pt.at(o[1]),
                    rows,
                    features,
                    MOMENTUM,
                    EPS,
                    epi,
                )?
                .run(gpu, &FUSION_STEP)?;
                gpu.read_f32(&y)
            });
            let norm = ref_train(&p, rows, features)[0].clone();
            let mut dropped = norm.clone();
            if let Some((rate, stream)) = epi.dropout {
                reference::dropout::forward(&mut dropped, &norm, rate, stream, &FUSION_STEP);
            }
            let mut want = vec![0.0; dropped.len()];
            reference::activation::forward(&mut want, &dropped, epi.act);
            // tests/fusion.rs batchnorm_epilogue_is_the_separate_passes_bit_for_bit,
            // against the CPU reference's composition.
            c.check("y", got, &want, tol(1e-4, 1e-4));
        });
    }
}

/// The inference forward with `act` fused, against the inference forward
/// then the activation's own pass on the GPU.
fn infer_epilogue_case(
    k: &mut Cases,
    act: Activation,
    rows: usize,
    features: usize,
    shape: &str,
    seed: u64,
) {
    let variant = format!("+{}", act_name(act));
    k.case("batchnorm forward (inference)", &variant, shape, |c| {
        let p = fusion_bn(seed, rows, features);
        let epi = Epilogue { dropout: None, act };
        let got = pick(&run_infer(c, &p, rows, features, epi, None), 0);
        let want = pick(
            &run_infer(c, &p, rows, features, Epilogue::NONE, Some(act)),
            0,
        );
        // tests/fusion.rs batchnorm_inference_epilogue_is_the_separate_passes_bit_for_bit.
        c.versus_separate(got, want);
    });
}
