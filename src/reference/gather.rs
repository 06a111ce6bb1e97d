//! Reference batch gather from the u8 or f32 dataset.

use crate::gpu::StepInfo;
use crate::kernels::gather::PIXEL_SCALE;

/// Row r is sample `indices[min(batch_start + r, indices.len() − 1)]`;
/// `x[r, f] = images[sample·features + f] · (1/255)`, `labels_out[r] =
/// labels[sample]`. images: samples·features bytes; labels: samples bytes;
/// x: (batch, features); labels_out: (batch). Both overwritten.
#[allow(clippy::too_many_arguments)]
pub fn gather(
    x: &mut [f32],
    labels_out: &mut [u32],
    images: &[u8],
    labels: &[u8],
    indices: &[u32],
    batch: usize,
    features: usize,
    step: &StepInfo,
) {
    for r in 0..batch {
        let j = (step.batch_start as usize + r).min(indices.len() - 1);
        let sample = indices[j] as usize;
        let src = &images[sample * features..(sample + 1) * features];
        for (o, &b) in x[r * features..(r + 1) * features].iter_mut().zip(src) {
            *o = b as f32 * PIXEL_SCALE;
        }
        labels_out[r] = labels[sample] as u32;
    }
}

/// [`gather`] from f32 images: `x[r, f] = images[sample·features + f]`
/// unscaled. images: (samples, features) f32; the rest as in [`gather`].
#[allow(clippy::too_many_arguments)]
pub fn gather_float(
    x: &mut [f32],
    labels_out: &mut [u32],
    images: &[f32],
    labels: &[u8],
    indices: &[u32],
    batch: usize,
    features: usize,
    step: &StepInfo,
) {
    for r in 0..batch {
        let j = (step.batch_start as usize + r).min(indices.len() - 1);
        let sample = indices[j] as usize;
        x[r * features..(r + 1) * features]
            .copy_from_slice(&images[sample * features..(sample + 1) * features]);
        labels_out[r] = labels[sample] as u32;
    }
}
