//! Optimizers over the flat parameter buffer: one dispatch each over the
//! contiguous range of trainable parameters (laid out first, so frozen
//! parameters and BatchNorm's running statistics fall outside it), plus the
//! L2 penalty's gradient.
//!
//! Per-step values (lr, Adam's bias corrections) come from the step uniform
//! (group 1); [`Optimizer::step_values`] computes them on the host.

use crate::gpu::{groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, Tensor, View};

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    ("sgd.wgsl", include_str!("../../shaders/sgd.wgsl")),
    ("adam.wgsl", ADAM.1),
    ("adam_vec4.wgsl", ADAM_VEC4.1),
    ("l2_grad.wgsl", include_str!("../../shaders/l2_grad.wgsl")),
];

/// Adam's kernel name and source: scalar, and 4 elements per load for
/// aligned ranges. Each binds every buffer once (6 storage buffers with the
/// params and step ones; WebGPU's default limit is 8), unlike sgd and
/// l2_grad, which bind each twice (as vec4 and as f32) in one kernel.
const ADAM: (&str, &str) = ("adam", include_str!("../../shaders/adam.wgsl"));
const ADAM_VEC4: (&str, &str) = ("adam_vec4", include_str!("../../shaders/adam_vec4.wgsl"));

/// Elements per workgroup in every optimizer shader (64 invocations × 4).
const ELEMS_PER_GROUP: usize = 256;

/// Optimizer configuration, with Keras' defaults from the constructors.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Optimizer {
    /// Keras' SGD: v = momentum·v − lr·g; w += v (with momentum 0,
    /// w −= lr·g).
    Sgd {
        /// Learning rate.
        lr: f32,
        /// Weight of the previous velocity, in [0, 1); 0 for plain SGD.
        momentum: f32,
    },
    /// Keras' Adam, with bias-corrected moments.
    Adam {
        /// Learning rate.
        lr: f32,
        /// Decay of the first-moment (mean) estimate (Keras' default 0.9).
        beta1: f32,
        /// Decay of the second-moment estimate (Keras' default 0.999).
        beta2: f32,
        /// Added to the root of the second moment in the denominator
        /// (Keras' default 1e-7).
        eps: f32,
    },
}

impl Optimizer {
    /// Keras `SGD(learning_rate=lr)`: momentum 0.
    pub fn sgd(lr: f32) -> Optimizer {
        Optimizer::Sgd { lr, momentum: 0.0 }
    }

    /// Keras `Adam(learning_rate=lr)`: beta1 0.9, beta2 0.999, eps 1e-7.
    pub fn adam(lr: f32) -> Optimizer {
        Optimizer::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f32 {
        match *self {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } => lr,
        }
    }

    /// (lr, 1 − β1^t, 1 − β2^t) for optimizer step `t` (counting from 1), the
    /// values the step uniform carries. Powers are taken in f64: in f32,
    /// 1 − 0.999^t loses most of its digits for small t. SGD has no bias
    /// correction and reports 1.
    pub fn step_values(&self, t: u32) -> (f32, f32, f32) {
        match *self {
            Optimizer::Sgd { lr, .. } => (lr, 1.0, 1.0),
            Optimizer::Adam {
                lr, beta1, beta2, ..
            } => {
                let t = t.max(1) as i32;
                let bc1 = 1.0 - (beta1 as f64).powi(t);
                let bc2 = 1.0 - (beta2 as f64).powi(t);
                (lr, bc1 as f32, bc2 as f32)
            }
        }
    }
}

fn check(what: &str, len: usize, offset: usize, n: usize) {
    assert!(
        offset + n <= len,
        "optimizer: {what} needs words {offset}..{} but its buffer holds {len}",
        offset + n
    );
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SgdParams {
    n: u32,
    off_w: u32,
    off_g: u32,
    momentum: f32,
}
const _: () = assert!(std::mem::size_of::<SgdParams>() == 16);

/// Keras SGD over `n` parameters: v = momentum·v − lr·g; w += v (momentum 0:
/// w −= lr·g, velocity untouched). params and velocity updated in place;
/// velocity is (n) from word 0. lr comes from the step uniform.
pub fn sgd(
    gpu: &Gpu,
    params: View,
    grads: View,
    velocity: &Tensor,
    n: usize,
    momentum: f32,
) -> Result<Dispatch, GpuError> {
    check("params", params.tensor.len, params.offset, n);
    check("grads", grads.tensor.len, grads.offset, n);
    check("velocity", velocity.len, 0, n);
    let p = SgdParams {
        n: n as u32,
        off_w: params.offset as u32,
        off_g: grads.offset as u32,
        momentum,
    };
    let uniform = gpu.uniform("sgd params", &p);
    let plan = Vec4Plan::new(
        gpu,
        n,
        &[params, grads],
        &[params.tensor, grads.tensor, velocity],
    )?;
    let spec = plan.spec(KernelSpec::new(
        "sgd",
        include_str!("../../shaders/sgd.wgsl"),
        &[
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::ReadWrite,
            Binding::ReadWrite,
            Binding::ReadWrite,
            Binding::Uniform,
        ],
    ));
    let kernel = gpu.kernel(&spec.with_step())?;
    let group = kernel.bind(
        gpu,
        &[
            plan.read4(grads.tensor),
            grads.tensor.binding(),
            plan.write4(params.tensor),
            params.tensor.binding(),
            plan.write4(velocity),
            velocity.binding(),
            uniform.as_entire_binding(),
        ],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: plan.workgroups,
        params: Some(uniform),
    })
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AdamParams {
    n: u32,
    off_w: u32,
    off_g: u32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<AdamParams>() == 32);

/// Keras 3 Adam over `n` parameters, in Keras' exact form:
/// m += (g − m)(1 − β1); v += (g² − v)(1 − β2);
/// w −= lr·sqrt(1 − β2^t)/(1 − β1^t) · m/(sqrt(v) + eps).
/// params, m and v updated in place; m and v are (n) from word 0. lr and the
/// bias corrections come from the step uniform ([`Optimizer::step_values`]).
#[allow(clippy::too_many_arguments)]
pub fn adam(
    gpu: &Gpu,
    params: View,
    grads: View,
    m: &Tensor,
    v: &Tensor,
    n: usize,
    beta1: f32,
    beta2: f32,
    eps: f32,
) -> Result<Dispatch, GpuError> {
    check("params", params.tensor.len, params.offset, n);
    check("grads", grads.tensor.len, grads.offset, n);
    check("m", m.len, 0, n);
    check("v", v.len, 0, n);
    let p = AdamParams {
        n: n as u32,
        off_w: params.offset as u32,
        off_g: grads.offset as u32,
        beta1,
        beta2,
        eps,
        _pad: [0; 2],
    };
    let uniform = gpu.uniform("adam params", &p);
    // 4 elements per load where n and both offsets are multiples of 4 (the
    // training plan's always are: every tensor starts on 64 words).
    let vec4 =
        n.is_multiple_of(4) && params.offset.is_multiple_of(4) && grads.offset.is_multiple_of(4);
    let ((name, source), workgroups) = if vec4 {
        (ADAM_VEC4, groups_2d(groups(n / 4, 64)))
    } else {
        (ADAM, groups_2d(groups(n, ELEMS_PER_GROUP)))
    };
    let spec = KernelSpec::new(
        name,
        source,
        &[
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::ReadWrite,
            Binding::ReadWrite,
            Binding::Uniform,
        ],
    );
    let kernel = gpu.kernel(&spec.with_step())?;
    let group = kernel.bind(
        gpu,
        &[
            grads.tensor.binding(),
            params.tensor.binding(),
            m.binding(),
            v.binding(),
            uniform.as_entire_binding(),
        ],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups,
        params: Some(uniform),
    })
}

/// How an optimizer shader runs: its `main` entry moves 4 elements per load
/// through vec4 views of each buffer (bound a second time, as f32, for the
/// last n % 4 elements); where a view's offset is not a multiple of 4 words
/// or a buffer is shorter than one vec4, its `scalar` entry runs instead and
/// the vec4 slots hold small placeholder buffers it never touches.
struct Vec4Plan {
    /// Placeholders for the vec4 slots in the scalar case: one read-only and
    /// one read-write, since one buffer may not be both in a dispatch.
    placeholders: Option<(Tensor, Tensor)>,
    workgroups: [u32; 3],
}

impl Vec4Plan {
    fn new(gpu: &Gpu, n: usize, views: &[View], tensors: &[&Tensor]) -> Result<Vec4Plan, GpuError> {
        let vec4 =
            views.iter().all(|v| v.offset.is_multiple_of(4)) && tensors.iter().all(|t| t.len >= 4);
        if vec4 {
            // One invocation per quad, plus one for the partial quad.
            Ok(Vec4Plan {
                placeholders: None,
                workgroups: groups_2d(groups(n / 4 + 1, 64)),
            })
        } else {
            Ok(Vec4Plan {
                placeholders: Some((
                    gpu.zeros("optimizer placeholder (read)", 4)?,
                    gpu.zeros("optimizer placeholder (write)", 4)?,
                )),
                workgroups: groups_2d(groups(n, ELEMS_PER_GROUP)),
            })
        }
    }

    fn spec(&self, spec: KernelSpec) -> KernelSpec {
        if self.placeholders.is_some() {
            spec.entry("scalar")
        } else {
            spec
        }
    }

    fn read4<'a>(&'a self, t: &'a Tensor) -> wgpu::BindingResource<'a> {
        match &self.placeholders {
            Some((r, _)) => r.binding(),
            None => t.binding(),
        }
    }

    fn write4<'a>(&'a self, t: &'a Tensor) -> wgpu::BindingResource<'a> {
        match &self.placeholders {
            Some((_, w)) => w.binding(),
            None => t.binding(),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct L2Params {
    n: u32,
    off_w: u32,
    off_g: u32,
    factor: f32,
}
const _: () = assert!(std::mem::size_of::<L2Params>() == 16);

/// The gradient of Keras' l2(factor) penalty factor·Σw² over `n` parameters,
/// ADDED INTO grads: g += 2·factor·w.
pub fn l2_grad(
    gpu: &Gpu,
    grads: View,
    params: View,
    n: usize,
    factor: f32,
) -> Result<Dispatch, GpuError> {
    check("grads", grads.tensor.len, grads.offset, n);
    check("params", params.tensor.len, params.offset, n);
    let p = L2Params {
        n: n as u32,
        off_w: params.offset as u32,
        off_g: grads.offset as u32,
        factor,
    };
    let uniform = gpu.uniform("l2_grad params", &p);
    let plan = Vec4Plan::new(gpu, n, &[params, grads], &[params.tensor, grads.tensor])?;
    let spec = plan.spec(KernelSpec::new(
        "l2_grad",
        include_str!("../../shaders/l2_grad.wgsl"),
        &[
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::ReadWrite,
            Binding::Uniform,
        ],
    ));
    let kernel = gpu.kernel(&spec)?;
    let group = kernel.bind(
        gpu,
        &[
            plan.read4(params.tensor),
            params.tensor.binding(),
            plan.write4(grads.tensor),
            grads.tensor.binding(),
            uniform.as_entire_binding(),
        ],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: plan.workgroups,
        params: Some(uniform),
    })
}
