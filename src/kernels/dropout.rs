//! Dropout, forward and backward, with the mask recomputed from the hash.

use crate::gpu::{groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, Tensor};
use crate::kernels::activation::Activation;

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "dropout_forward.wgsl",
        include_str!("../../shaders/dropout_forward.wgsl"),
    ),
    (
        "dropout_backward.wgsl",
        include_str!("../../shaders/dropout_backward.wgsl"),
    ),
];

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    stream: u32,
    rate: f32,
    scale: f32,
    kind: u32,
    alpha: f32,
    _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<Params>() == 32);

/// The factor kept units are multiplied by: 1/(1 − rate), or 0 when
/// rate >= 1 (every unit is dropped). Computed once in f32 on the host so
/// the shader and the reference use the same number.
pub fn scale(rate: f32) -> f32 {
    if rate < 1.0 {
        1.0 / (1.0 - rate)
    } else {
        0.0
    }
}

#[allow(clippy::too_many_arguments)]
fn launch(
    gpu: &Gpu,
    name: &'static str,
    source: &'static str,
    out: &Tensor,
    input: &Tensor,
    n: usize,
    rate: f32,
    stream: u32,
) -> Result<Dispatch, GpuError> {
    assert!(
        (0.0..=1.0).contains(&rate),
        "{name}: rate {rate} is outside [0, 1]"
    );
    assert!(
        input.len >= n && out.len >= n,
        "{name}: n = {n} but the tensors have {} and {} elements",
        input.len,
        out.len
    );
    let spec = KernelSpec::new(
        name,
        source,
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    )
    .with_step();
    let kernel = gpu.kernel(&spec)?;
    let params = Params {
        n: n as u32,
        stream,
        rate,
        scale: scale(rate),
        kind: 0,
        alpha: 0.0,
        _pad: [0; 2],
    };
    let params = gpu.uniform(name, &params);
    let group = kernel.bind(
        gpu,
        &[input.binding(), out.binding(), params.as_entire_binding()],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: groups_2d(groups(n, 256)),
        params: Some(params),
    })
}

/// y = x ⊙ mask / (1 − rate) over `n` elements (Keras training-mode dropout:
/// each unit kept with probability 1 − rate). The mask is
/// `reference::noise::uniform01(seed, step, stream, i) >= rate` with seed and
/// step from the step uniform; give every dropout layer its own `stream`.
/// x, y: (n); y is overwritten and may not alias x (wgpu forbids binding one
/// buffer as both read and read_write).
pub fn forward(
    gpu: &Gpu,
    y: &Tensor,
    x: &Tensor,
    n: usize,
    rate: f32,
    stream: u32,
) -> Result<Dispatch, GpuError> {
    launch(
        gpu,
        "dropout_forward",
        include_str!("../../shaders/dropout_forward.wgsl"),
        y,
        x,
        n,
        rate,
        stream,
    )
}

/// dx = dy ⊙ mask / (1 − rate), recomputing the forward pass's mask from
/// the same (seed, step, stream): no mask buffer is kept. dy, dx: (n); dx is
/// overwritten and may not alias dy. Must run with the same step record as
/// the forward pass.
pub fn backward(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    n: usize,
    rate: f32,
    stream: u32,
) -> Result<Dispatch, GpuError> {
    launch(
        gpu,
        "dropout_backward",
        include_str!("../../shaders/dropout_backward.wgsl"),
        dx,
        dy,
        n,
        rate,
        stream,
    )
}

/// The backward of an activation `act` that followed a dropout, then of the
/// dropout, in one pass: dx = (dy ⊙ act'(y)) ⊙ mask / (1 − rate), bit for bit
/// what [`crate::kernels::activation::backward`] then [`backward`] compute.
/// y is the activation's output; dy, y, dx: (n); dx is overwritten.
#[allow(clippy::too_many_arguments)]
pub fn backward_with_activation(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    y: &Tensor,
    n: usize,
    rate: f32,
    stream: u32,
    act: Activation,
) -> Result<Dispatch, GpuError> {
    assert!(
        (0.0..=1.0).contains(&rate),
        "dropout backward_with_activation: rate {rate} is outside [0, 1]"
    );
    assert!(
        dy.len >= n && y.len >= n && dx.len >= n,
        "dropout backward_with_activation: n = {n} but the tensors have {}, {} and {} elements",
        dy.len,
        y.len,
        dx.len
    );
    let spec = KernelSpec::new(
        "dropout_backward",
        include_str!("../../shaders/dropout_backward.wgsl"),
        &[
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::Uniform,
            Binding::ReadOnly,
        ],
    )
    .entry("with_activation")
    .with_step();
    let kernel = gpu.kernel(&spec)?;
    let (kind, alpha) = act.code();
    let params = Params {
        n: n as u32,
        stream,
        rate,
        scale: scale(rate),
        kind,
        alpha,
        _pad: [0; 2],
    };
    let params = gpu.uniform("dropout_backward with_activation", &params);
    let group = kernel.bind(
        gpu,
        &[
            dy.binding(),
            dx.binding(),
            params.as_entire_binding(),
            y.binding(),
        ],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: groups_2d(groups(n, 256)),
        params: Some(params),
    })
}
