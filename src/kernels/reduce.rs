//! Reductions that stay on the GPU: the running sums of the epoch's metrics.

use crate::gpu::{Binding, Dispatch, Gpu, GpuError, KernelSpec, Tensor};

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[(
    "reduce_sum.wgsl",
    include_str!("../../shaders/reduce_sum.wgsl"),
)];

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    slot: u32,
    _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

/// acc[slot] += Σ_{i<n} values[i] (ADDED INTO; the rest of acc untouched).
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
