//! Reductions that stay on the GPU: the running sums of the epoch's metrics
//! and the divergence flags beside them.

use crate::gpu::{Binding, Dispatch, Gpu, GpuError, KernelSpec, Tensor};

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "reduce_sum.wgsl",
        include_str!("../../shaders/reduce_sum.wgsl"),
    ),
    (
        "flag_nonfinite.wgsl",
        include_str!("../../shaders/flag_nonfinite.wgsl"),
    ),
];

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    slot: u32,
    _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

/// acc\[slot\] += Σ_{i<n} values\[i\] (ADDED INTO; the rest of acc untouched).
/// One workgroup of 256 lanes: each sums a strided share in f32, then a
/// fixed-shape tree combines them, so the result is deterministic and its
/// error grows like n/256 additions, not n. Meant for per-row losses and
/// correctness flags (n = batch rows, up to ~60,000); acc may not alias
/// values.
pub fn sum_into(
    gpu: &Gpu,
    acc: &Tensor,
    slot: usize,
    values: &Tensor,
    n: usize,
) -> Result<Dispatch, GpuError> {
    assert!(
        slot < acc.len && values.len >= n,
        "reduce::sum_into: slot {slot} of {} accumulators, n = {n} of {} values",
        acc.len,
        values.len
    );
    let spec = KernelSpec::new(
        "reduce_sum",
        include_str!("../../shaders/reduce_sum.wgsl"),
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    );
    let kernel = gpu.kernel(&spec)?;
    let params = Params {
        n: n as u32,
        slot: slot as u32,
        _pad: [0; 2],
    };
    let params = gpu.uniform("reduce_sum params", &params);
    let group = kernel.bind(
        gpu,
        &[values.binding(), acc.binding(), params.as_entire_binding()],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: [1, 1, 1],
        params: Some(params),
    })
}

/// Elements each invocation of [`flag_nonfinite`] checks before the grid is
/// capped (a grid-stride loop covers any n beyond that).
const FLAG_PER_LANE: usize = 16;
const FLAG_WG: usize = 256;
const FLAG_MAX_GROUPS: usize = 4096;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct FlagParams {
    n: u32,
    slot: u32,
    stride: u32,
    _pad: u32,
}
const _: () = assert!(std::mem::size_of::<FlagParams>() == 16);

/// acc\[slot\] = 1.0 if any of values\[0..n) is NaN or ±Inf (WRITTEN only
/// then; acc is otherwise untouched). Checks the exponent bits, so no clamp
/// or fast-math folding can hide a divergence. acc may not alias values.
pub fn flag_nonfinite(
    gpu: &Gpu,
    acc: &Tensor,
    slot: usize,
    values: &Tensor,
    n: usize,
) -> Result<Dispatch, GpuError> {
    assert!(
        slot < acc.len && values.len >= n && n > 0,
        "reduce::flag_nonfinite: slot {slot} of {} flags, n = {n} of {} values",
        acc.len,
        values.len
    );
    let spec = KernelSpec::new(
        "flag_nonfinite",
        include_str!("../../shaders/flag_nonfinite.wgsl"),
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    );
    let kernel = gpu.kernel(&spec)?;
    let groups = n
        .div_ceil(FLAG_WG * FLAG_PER_LANE)
        .clamp(1, FLAG_MAX_GROUPS);
    let params = FlagParams {
        n: n as u32,
        slot: slot as u32,
        stride: (groups * FLAG_WG) as u32,
        _pad: 0,
    };
    let params = gpu.uniform("flag_nonfinite params", &params);
    let group = kernel.bind(
        gpu,
        &[values.binding(), acc.binding(), params.as_entire_binding()],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: [groups as u32, 1, 1],
        params: Some(params),
    })
}
