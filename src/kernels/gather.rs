//! Batch assembly from the GPU-resident dataset: u8 pixels ([`gather`]) or
//! f32 ones ([`gather_float`]), with their labels.

use crate::gpu::{groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, Tensor};

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[("gather.wgsl", include_str!("../../shaders/gather.wgsl"))];

/// What a pixel byte is multiplied by: 1/255 rounded to f32 once, so the
/// shader and the reference produce identical values.
pub const PIXEL_SCALE: f32 = 1.0 / 255.0;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    batch: u32,
    features: u32,
    n_indices: u32,
    scale: f32,
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

/// Writes this step's batch: row r is sample `indices[batch_start + r]`
/// (batch_start from the step uniform), or `indices[n_indices − 1]` for
/// padding rows past the end, so padded rows hold finite values (the losses
/// mask them by `valid_rows`). `x[r, f] = byte · (1/255)`; `labels_out[r]` is
/// the sample's label byte as u32.
///
/// # Shapes
/// images: the dataset's samples·features bytes packed 4 per u32 word
/// (little-endian, as `Gpu::upload_u8` writes them); labels: samples bytes,
/// packed likewise; indices: (n_indices) u32, n_indices >= 1; x: (batch,
/// features) f32 and labels_out: (batch) u32, both overwritten.
#[allow(clippy::too_many_arguments)]
pub fn gather(
    gpu: &Gpu,
    x: &Tensor,
    labels_out: &Tensor,
    images: &Tensor,
    labels: &Tensor,
    indices: &Tensor,
    n_indices: usize,
    batch: usize,
    features: usize,
) -> Result<Dispatch, GpuError> {
    // Rows that start on a word boundary unpack a whole u32 per invocation.
    let words = features.is_multiple_of(4);
    let entry = if words { "main_words" } else { "main" };
    build(
        gpu, x, labels_out, images, labels, indices, n_indices, batch, features, entry,
    )
}

/// [`gather`] from f32 images: `x[r, f] = images[sample·features + f]`,
/// copied bit for bit (the dataset's values are already in \[0, 1\]);
/// labels as in [`gather`].
///
/// # Shapes
/// images: (samples, features) f32; the rest as in [`gather`].
#[allow(clippy::too_many_arguments)]
pub fn gather_float(
    gpu: &Gpu,
    x: &Tensor,
    labels_out: &Tensor,
    images: &Tensor,
    labels: &Tensor,
    indices: &Tensor,
    n_indices: usize,
    batch: usize,
    features: usize,
) -> Result<Dispatch, GpuError> {
    let entry = "main_float";
    build(
        gpu, x, labels_out, images, labels, indices, n_indices, batch, features, entry,
    )
}

/// The dispatch of one entry point of gather.wgsl (all share the bindings).
#[allow(clippy::too_many_arguments)]
fn build(
    gpu: &Gpu,
    x: &Tensor,
    labels_out: &Tensor,
    images: &Tensor,
    labels: &Tensor,
    indices: &Tensor,
    n_indices: usize,
    batch: usize,
    features: usize,
    entry: &'static str,
) -> Result<Dispatch, GpuError> {
    assert!(
        n_indices >= 1 && indices.len >= n_indices,
        "gather: n_indices = {n_indices}, indices has {}",
        indices.len
    );
    assert!(
        x.len >= batch * features && labels_out.len >= batch,
        "gather: batch ({batch}, {features}) but x has {} and labels_out {} elements",
        x.len,
        labels_out.len
    );
    let words = entry == "main_words";
    let spec = KernelSpec::new(
        "gather",
        include_str!("../../shaders/gather.wgsl"),
        &[
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::ReadWrite,
            Binding::Uniform,
        ],
    )
    .entry(entry)
    .with_step();
    let kernel = gpu.kernel(&spec)?;
    let params = Params {
        batch: batch as u32,
        features: features as u32,
        n_indices: n_indices as u32,
        scale: PIXEL_SCALE,
    };
    let params = gpu.uniform("gather params", &params);
    let group = kernel.bind(
        gpu,
        &[
            images.binding(),
            labels.binding(),
            indices.binding(),
            x.binding(),
            labels_out.binding(),
            params.as_entire_binding(),
        ],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: if words {
            groups_2d(groups(batch * features / 4, 64))
        } else {
            groups_2d(groups(batch * features, 256))
        },
        params: Some(params),
    })
}
