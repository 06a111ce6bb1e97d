//! The bias gradient of a dense or convolution layer: db = Σ over the rows
//! of dy, split over row chunks so a few columns over many rows (a conv
//! layer's bias) use the whole machine, then reduced in chunk order.

use super::{BIAS_GRAD_VEC4_WGSL, BIAS_GRAD_WGSL};
use crate::gpu::{groups, groups_2d, Binding, Gpu, GpuError, KernelSpec, Program, View};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BiasGradParams {
    rows: u32,
    cols: u32,
    dy_off: u32,
    out_off: u32,
    chunk: u32,
    chunks: u32,
    _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<BiasGradParams>() == 32);

/// Invocations the split aims for: enough for every core of a CPU driver
/// and a good part of a GPU, few enough that the partial sums stay small.
const TARGET_INVOCATIONS: usize = 4096;
/// Rows below which a chunk is not worth its partial sum.
const MIN_CHUNK: usize = 64;

/// How [`bias_grad`] splits `rows` rows of `groups` column groups (columns,
/// or vec4s of columns): (rows per chunk, chunks). One chunk when the
/// columns alone fill the machine or the rows are few.
pub fn bias_grad_split(rows: usize, groups: usize) -> (usize, usize) {
    let want = TARGET_INVOCATIONS.div_ceil(groups.max(1));
    let chunks = want.clamp(1, rows.div_ceil(MIN_CHUNK).max(1));
    let chunk = rows.div_ceil(chunks).max(1);
    (chunk, rows.div_ceil(chunk).max(1))
}

/// db\[j\] = Σ_i dy\[i, j\] over the rows of dy, overwritten: each chunk of
/// rows (see [`bias_grad_split`]) summed in row order in f32, the chunks'
/// sums then added in chunk order.
///
/// # Shapes
/// dy (rows, cols), db (cols).
pub fn bias_grad(
    gpu: &Gpu,
    db: View,
    dy: View,
    rows: usize,
    cols: usize,
) -> Result<Program, GpuError> {
    assert!(
        dy.offset + rows * cols <= dy.tensor.len,
        "bias_grad: dy too small for ({rows},{cols})"
    );
    assert!(
        db.offset + cols <= db.tensor.len,
        "bias_grad: db too small for {cols}"
    );
    let vec4 = cols.is_multiple_of(4) && dy.offset.is_multiple_of(4) && db.offset.is_multiple_of(4);
    let col_groups = if vec4 { cols / 4 } else { cols };
    let (chunk, chunks) = bias_grad_split(rows, col_groups);
    let (name, source) = if vec4 {
        ("bias_grad_vec4", BIAS_GRAD_VEC4_WGSL)
    } else {
        ("bias_grad", BIAS_GRAD_WGSL)
    };
    let spec = KernelSpec::new(
        name,
        source,
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    );
    let kernel = gpu.kernel(&spec)?;
    let scratch;
    let (out, out_off) = if chunks > 1 {
        scratch = gpu.zeros("bias_grad partials", chunks * cols)?;
        (&scratch, 0)
    } else {
        (db.tensor, db.offset)
    };
    let params = gpu.uniform(
        "bias_grad params",
        &BiasGradParams {
            rows: rows as u32,
            cols: cols as u32,
            dy_off: dy.offset as u32,
            out_off: out_off as u32,
            chunk: chunk as u32,
            chunks: chunks as u32,
            _pad: [0; 2],
        },
    );
    // The bind group keeps the partial-sum buffer alive after `scratch` is
    // dropped here.
    let group = kernel.bind(
        gpu,
        &[
            dy.tensor.binding(),
            out.binding(),
            params.as_entire_binding(),
        ],
    );
    let mut prog = Program::default();
    prog.push(crate::gpu::Dispatch {
        kernel,
        group,
        workgroups: groups_2d(groups(chunks * col_groups, 64)),
        params: Some(params),
    });
    if chunks > 1 {
        prog.push(crate::kernels::conv2d::sum_splits(
            gpu, out, db, cols, chunks,
        )?);
    }
    Ok(prog)
}
