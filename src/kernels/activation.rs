//! Elementwise activations: forward and backward.

use crate::gpu::{groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, Tensor};

/// The activations the layers use. Softmax is fused into the cross-entropy
/// loss and never runs on its own in training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// y = x.
    Identity,
    /// y = max(0, x).
    Relu,
    /// y = x for x > 0, alpha·x otherwise, with alpha the value held.
    LeakyRelu(f32),
    /// y = 1 / (1 + e^-x).
    Sigmoid,
}

impl Activation {
    /// (kind code, alpha) as the shaders read them.
    pub fn code(self) -> (u32, f32) {
        match self {
            Activation::Identity => (0, 0.0),
            Activation::Relu => (1, 0.0),
            Activation::LeakyRelu(a) => (2, a),
            Activation::Sigmoid => (3, 0.0),
        }
    }
}

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "activation_forward.wgsl",
        include_str!("../../shaders/activation_forward.wgsl"),
    ),
    (
        "activation_backward.wgsl",
        include_str!("../../shaders/activation_backward.wgsl"),
    ),
];

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    kind: u32,
    alpha: f32,
    _pad: u32,
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

/// y = f(x) over `n` elements; y is overwritten (it may not alias x).
pub fn forward(
    gpu: &Gpu,
    y: &Tensor,
    x: &Tensor,
    n: usize,
    act: Activation,
) -> Result<Dispatch, GpuError> {
    let spec = KernelSpec::new(
        "activation_forward",
        include_str!("../../shaders/activation_forward.wgsl"),
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    );
    let kernel = gpu.kernel(&spec)?;
    let (kind, alpha) = act.code();
    let params = gpu.uniform(
        "activation_forward params",
        &Params {
            n: n as u32,
            kind,
            alpha,
            _pad: 0,
        },
    );
    let group = kernel.bind(gpu, &[x.binding(), y.binding(), params.as_entire_binding()]);
    Ok(Dispatch {
        kernel,
        group,
        workgroups: groups_2d(groups(n, 256)),
        params: Some(params),
    })
}

/// dx = dy · f'(x) over `n` elements, with f' computed from the forward
/// OUTPUT y: relu \[y > 0\], leaky relu y > 0 ? 1 : alpha (alpha >= 0, so the
/// sign of y is the sign of x), sigmoid y·(1 − y), identity 1.
/// dy, y, dx: (n); dx is overwritten. dx must be a different buffer from dy
/// and y: wgpu forbids binding one buffer as both read and read_write.
pub fn backward(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    y: &Tensor,
    n: usize,
    act: Activation,
) -> Result<Dispatch, GpuError> {
    assert!(
        dx.len >= n && dy.len >= n && y.len >= n,
        "activation::backward: n = {n} but dx, dy, y have {}, {}, {} elements",
        dx.len,
        dy.len,
        y.len
    );
    let spec = KernelSpec::new(
        "activation_backward",
        include_str!("../../shaders/activation_backward.wgsl"),
        &[
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::Uniform,
        ],
    );
    let kernel = gpu.kernel(&spec)?;
    let (kind, alpha) = act.code();
    let params = gpu.uniform(
        "activation_backward params",
        &Params {
            n: n as u32,
            kind,
            alpha,
            _pad: 0,
        },
    );
    let group = kernel.bind(
        gpu,
        &[
            dy.binding(),
            y.binding(),
            dx.binding(),
            params.as_entire_binding(),
        ],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: groups_2d(groups(n, 256)),
        params: Some(params),
    })
}
