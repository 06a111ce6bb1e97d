//! The bias gradient of a dense layer: db = Σ over the rows of dy.

use super::BIAS_GRAD_WGSL;
use crate::gpu::{groups, Binding, Dispatch, Gpu, GpuError, KernelSpec, View};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BiasGradParams {
    rows: u32,
    cols: u32,
    dy_off: u32,
    db_off: u32,
}
const _: () = assert!(std::mem::size_of::<BiasGradParams>() == 16);

/// db\[j\] = Σ_i dy\[i, j\] over the rows of dy, overwritten.
///
/// # Shapes
/// dy (rows, cols), db (cols).
pub fn bias_grad(
    gpu: &Gpu,
    db: View,
    dy: View,
    rows: usize,
    cols: usize,
) -> Result<Dispatch, GpuError> {
    assert!(
        dy.offset + rows * cols <= dy.tensor.len,
        "bias_grad: dy too small for ({rows},{cols})"
    );
    assert!(
        db.offset + cols <= db.tensor.len,
        "bias_grad: db too small for {cols}"
    );
    let spec = KernelSpec::new(
        "bias_grad",
        BIAS_GRAD_WGSL,
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    );
    let kernel = gpu.kernel(&spec)?;
    let params = gpu.uniform(
        "bias_grad params",
        &BiasGradParams {
            rows: rows as u32,
            cols: cols as u32,
            dy_off: dy.offset as u32,
            db_off: db.offset as u32,
        },
    );
    let group = kernel.bind(
        gpu,
        &[
            dy.tensor.binding(),
            db.tensor.binding(),
            params.as_entire_binding(),
        ],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: [groups(cols, 64), 1, 1],
        params: Some(params),
    })
}
