//! Small kernels the studies' analyses need: batches of f32 rows gathered
//! from a GPU-resident matrix, batches appended into one, latent
//! interpolation, the manifold walk and per-row min-max normalisation.
//! None of them is differentiated.

use crate::gpu::{groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, Tensor};

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "gather_f32.wgsl",
        include_str!("../../shaders/gather_f32.wgsl"),
    ),
    (
        "copy_rows.wgsl",
        include_str!("../../shaders/copy_rows.wgsl"),
    ),
    (
        "lerp_rows.wgsl",
        include_str!("../../shaders/lerp_rows.wgsl"),
    ),
    (
        "walk_step.wgsl",
        include_str!("../../shaders/walk_step.wgsl"),
    ),
    (
        "row_normalize.wgsl",
        include_str!("../../shaders/row_normalize.wgsl"),
    ),
];

/// Elements each invocation of the elementwise kernels handles (4 per
/// invocation, workgroup 64).
const ELEMS_PER_GROUP: usize = 256;
/// Workgroup size of the one-invocation-per-row kernels.
const ROWS_PER_GROUP: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GatherParams {
    batch: u32,
    features: u32,
    n_indices: u32,
    _pad: u32,
}
const _: () = assert!(std::mem::size_of::<GatherParams>() == 16);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CopyParams {
    rows: u32,
    features: u32,
    dst_rows: u32,
    _pad: u32,
}
const _: () = assert!(std::mem::size_of::<CopyParams>() == 16);

/// lerp_rows (rows = steps) and row_normalize.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ShapeParams {
    rows: u32,
    features: u32,
    _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<ShapeParams>() == 16);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct WalkParams {
    rows: u32,
    features: u32,
    eta: f32,
    _pad: u32,
}
const _: () = assert!(std::mem::size_of::<WalkParams>() == 16);

/// Binds `tensors` then the params uniform, and sizes the grid.
fn dispatch<P: bytemuck::Pod>(
    gpu: &Gpu,
    spec: &KernelSpec,
    label: &str,
    tensors: &[&Tensor],
    params: P,
    workgroups: [u32; 3],
) -> Result<Dispatch, GpuError> {
    let kernel = gpu.kernel(spec)?;
    let params = gpu.uniform(label, &params);
    let mut resources: Vec<wgpu::BindingResource> = tensors.iter().map(|t| t.binding()).collect();
    resources.push(params.as_entire_binding());
    let group = kernel.bind(gpu, &resources);
    Ok(Dispatch {
        kernel,
        group,
        workgroups,
        params: Some(params),
    })
}

/// Writes this step's batch from an f32 matrix already on the GPU: row r is
/// `src[indices[batch_start + r]]` (batch_start from the step uniform), or
/// `src[indices[n_indices − 1]]` for padding rows past the end, so padded
/// rows hold finite values. The f32 counterpart of
/// [`gather::gather`](super::gather::gather).
///
/// # Shapes
/// src: (count, features) with every index < count; indices: (n_indices)
/// u32, n_indices >= 1; x: (batch, features), overwritten.
pub fn gather_f32(
    gpu: &Gpu,
    x: &Tensor,
    src: &Tensor,
    indices: &Tensor,
    n_indices: usize,
    batch: usize,
    features: usize,
) -> Result<Dispatch, GpuError> {
    assert!(
        n_indices >= 1 && indices.len >= n_indices,
        "gather_f32: n_indices = {n_indices}, indices has {}",
        indices.len
    );
    assert!(
        x.len >= batch * features,
        "gather_f32: batch ({batch}, {features}) but x has {} elements",
        x.len
    );
    let spec = KernelSpec::new(
        "gather_f32",
        include_str!("../../shaders/gather_f32.wgsl"),
        &[
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::Uniform,
        ],
    )
    .with_step();
    let params = GatherParams {
        batch: batch as u32,
        features: features as u32,
        n_indices: n_indices as u32,
        _pad: 0,
    };
    dispatch(
        gpu,
        &spec,
        "gather_f32 params",
        &[src, indices, x],
        params,
        groups_2d(groups(batch * features, ELEMS_PER_GROUP)),
    )
}

/// Appends a batch into a bigger matrix at the row the step uniform names,
/// so one pre-built dispatch serves every batch of an epoch (e.g. collecting
/// the encoder's codes for a whole dataset):
/// `dst[batch_start + r, :] = src[r, :]` for `r < min(rows, valid_rows)`.
/// Padding rows (r >= valid_rows) are not written, nor are rows that would
/// fall past dst's last whole row; every other row of dst keeps its value.
///
/// # Shapes
/// src: (rows, features); dst: (dst_rows, features) with dst_rows =
/// dst.len / features. dst may not be the same buffer as src.
pub fn copy_rows(
    gpu: &Gpu,
    dst: &Tensor,
    src: &Tensor,
    rows: usize,
    features: usize,
) -> Result<Dispatch, GpuError> {
    assert!(features >= 1, "copy_rows: features must be >= 1");
    assert!(
        src.len >= rows * features,
        "copy_rows: src ({rows}, {features}) but it has {} elements",
        src.len
    );
    let spec = KernelSpec::new(
        "copy_rows",
        include_str!("../../shaders/copy_rows.wgsl"),
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    )
    .with_step();
    let params = CopyParams {
        rows: rows as u32,
        features: features as u32,
        dst_rows: (dst.len / features) as u32,
        _pad: 0,
    };
    dispatch(
        gpu,
        &spec,
        "copy_rows params",
        &[src, dst],
        params,
        groups_2d(groups(rows * features, ELEMS_PER_GROUP)),
    )
}

/// Latent interpolation: `z[i, :] = alphas[i]·z1 + (1 − alphas[i])·z2` for
/// i < steps. Alpha 1 gives z1 and alpha 0 gives z2 exactly.
///
/// # Shapes
/// z1, z2: (features); alphas: (steps); z: (steps, features), overwritten.
pub fn lerp_rows(
    gpu: &Gpu,
    z: &Tensor,
    z1: &Tensor,
    z2: &Tensor,
    alphas: &Tensor,
    steps: usize,
    features: usize,
) -> Result<Dispatch, GpuError> {
    assert!(
        z1.len >= features && z2.len >= features && alphas.len >= steps,
        "lerp_rows: features {features}, steps {steps} but z1 has {}, z2 {}, alphas {} elements",
        z1.len,
        z2.len,
        alphas.len
    );
    assert!(
        z.len >= steps * features,
        "lerp_rows: z ({steps}, {features}) but it has {} elements",
        z.len
    );
    let spec = KernelSpec::new(
        "lerp_rows",
        include_str!("../../shaders/lerp_rows.wgsl"),
        &[
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::Uniform,
        ],
    );
    let params = ShapeParams {
        rows: steps as u32,
        features: features as u32,
        _pad: [0; 2],
    };
    dispatch(
        gpu,
        &spec,
        "lerp_rows params",
        &[z1, z2, alphas, z],
        params,
        groups_2d(groups(steps * features, ELEMS_PER_GROUP)),
    )
}

/// One step of the manifold walk x ← x + eta·(r(x) − x), r the
/// reconstruction: `x_next = x + eta·(r − x)`; when `renorm`, each row of the
/// result is then rescaled to [0, 1] by its min and max (a constant row
/// becomes 0), as [`row_normalize`] does.
///
/// # Shapes
/// x, r, x_next: (rows, features); x_next is overwritten and may not be the
/// same buffer as x or r (walk with two buffers and swap them).
#[allow(clippy::too_many_arguments)]
pub fn walk_step(
    gpu: &Gpu,
    x_next: &Tensor,
    x: &Tensor,
    r: &Tensor,
    eta: f32,
    renorm: bool,
    rows: usize,
    features: usize,
) -> Result<Dispatch, GpuError> {
    let n = rows * features;
    assert!(
        x.len >= n && r.len >= n && x_next.len >= n,
        "walk_step: ({rows}, {features}) but x has {}, r {}, x_next {} elements",
        x.len,
        r.len,
        x_next.len
    );
    let spec = KernelSpec::new(
        "walk_step",
        include_str!("../../shaders/walk_step.wgsl"),
        &[
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::Uniform,
        ],
    )
    .entry(if renorm { "main_renorm" } else { "main" });
    let params = WalkParams {
        rows: rows as u32,
        features: features as u32,
        eta,
        _pad: 0,
    };
    let workgroups = if renorm {
        groups_2d(groups(rows, ROWS_PER_GROUP))
    } else {
        groups_2d(groups(n, ELEMS_PER_GROUP))
    };
    dispatch(
        gpu,
        &spec,
        "walk_step params",
        &[x, r, x_next],
        params,
        workgroups,
    )
}

/// Per-row min-max rescaling to [0, 1]:
/// `y[row, :] = (x[row, :] − min) / (max − min)`, 0 for a constant row.
///
/// # Shapes
/// x, y: (rows, features); y is overwritten and may not be the same buffer
/// as x.
pub fn row_normalize(
    gpu: &Gpu,
    y: &Tensor,
    x: &Tensor,
    rows: usize,
    features: usize,
) -> Result<Dispatch, GpuError> {
    assert!(
        x.len >= rows * features && y.len >= rows * features,
        "row_normalize: ({rows}, {features}) but x has {} and y {} elements",
        x.len,
        y.len
    );
    let spec = KernelSpec::new(
        "row_normalize",
        include_str!("../../shaders/row_normalize.wgsl"),
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    );
    let params = ShapeParams {
        rows: rows as u32,
        features: features as u32,
        _pad: [0; 2],
    };
    dispatch(
        gpu,
        &spec,
        "row_normalize params",
        &[x, y],
        params,
        groups_2d(groups(rows, ROWS_PER_GROUP)),
    )
}
