//! Row-wise softmax, forward and backward. Training fuses softmax into the
//! cross-entropy loss (`loss::softmax_xent`); these stand alone for
//! inference and for layers that need the plain op.

use crate::gpu::{groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, Tensor};

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "softmax_forward.wgsl",
        include_str!("../../shaders/softmax_forward.wgsl"),
    ),
    (
        "softmax_backward.wgsl",
        include_str!("../../shaders/softmax_backward.wgsl"),
    ),
];

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

/// y = softmax(x) along each row, max-subtracted.
///
/// # Shapes
/// x, y: (rows, cols); y is overwritten and may not alias x.
pub fn forward(
    gpu: &Gpu,
    y: &Tensor,
    x: &Tensor,
    rows: usize,
    cols: usize,
) -> Result<Dispatch, GpuError> {
    let n = rows * cols;
    assert!(
        x.len >= n && y.len >= n,
        "softmax::forward: ({rows}, {cols}) but x has {} and y {} elements",
        x.len,
        y.len
    );
    let spec = KernelSpec::new(
        "softmax_forward",
        include_str!("../../shaders/softmax_forward.wgsl"),
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    );
    let kernel = gpu.kernel(&spec)?;
    let params = gpu.uniform(
        "softmax_forward params",
        &Params {
            rows: rows as u32,
            cols: cols as u32,
            _pad: [0; 2],
        },
    );
    let group = kernel.bind(gpu, &[x.binding(), y.binding(), params.as_entire_binding()]);
    Ok(Dispatch {
        kernel,
        group,
        workgroups: groups_2d(groups(rows, 64)),
        params: Some(params),
    })
}

/// dx = y ⊙ (dy − Σ_j dy_j·y_j) along each row, from the forward output y.
///
/// # Shapes
/// dy, y, dx: (rows, cols); dx is overwritten and may not alias dy or y.
pub fn backward(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    y: &Tensor,
    rows: usize,
    cols: usize,
) -> Result<Dispatch, GpuError> {
    let n = rows * cols;
    assert!(
        dx.len >= n && dy.len >= n && y.len >= n,
        "softmax::backward: ({rows}, {cols}) but dx, dy, y have {}, {}, {} elements",
        dx.len,
        dy.len,
        y.len
    );
    let spec = KernelSpec::new(
        "softmax_backward",
        include_str!("../../shaders/softmax_backward.wgsl"),
        &[
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::Uniform,
        ],
    );
    let kernel = gpu.kernel(&spec)?;
    let params = gpu.uniform(
        "softmax_backward params",
        &Params {
            rows: rows as u32,
            cols: cols as u32,
            _pad: [0; 2],
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
        workgroups: groups_2d(groups(rows, 64)),
        params: Some(params),
    })
}
