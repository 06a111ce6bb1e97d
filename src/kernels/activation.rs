//! Elementwise activations: forward and backward.

use crate::gpu::{groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, Tensor};

/// The activations the layers use. Softmax is fused into the cross-entropy
/// loss and never runs on its own in training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Identity,
    Relu,
    LeakyRelu(f32),
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
pub const SHADERS: &[(&str, &str)] = &[(
    "activation_forward.wgsl",
    include_str!("../../shaders/activation_forward.wgsl"),
)];

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
pub fn forward(gpu: &Gpu, y: &Tensor, x: &Tensor, n: usize, act: Activation) -> Result<Dispatch, GpuError> {
    let spec = KernelSpec::new(
        "activation_forward",
        include_str!("../../shaders/activation_forward.wgsl"),
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    );
    let kernel = gpu.kernel(&spec)?;
    let (kind, alpha) = act.code();
    let params = gpu.uniform("activation_forward params", &Params { n: n as u32, kind, alpha, _pad: 0 });
    let group = kernel.bind(gpu, &[x.binding(), y.binding(), params.as_entire_binding()]);
    Ok(Dispatch { kernel, group, workgroups: groups_2d(groups(n, 256)), params: Some(params) })
}
