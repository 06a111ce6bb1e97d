//! The backward pass: gamma's and beta's gradients and the input gradient.

use std::sync::Arc;

use super::*;
use crate::gpu::{Binding, Dispatch, Gpu, GpuError, KernelSpec, Program, Tensor, View};
use crate::kernels::activation::Activation;

/// Backward of the training forward, as three dispatches (partial sums,
/// finish, input gradient):
/// dbeta = Σ_rows dy, dgamma = Σ_rows dy·xhat,
/// dx = gamma·rstd/N · (N·dy − dbeta − xhat·dgamma), xhat = (x − mean)·rstd.
/// dx, dgamma and dbeta are overwritten; dgamma and dbeta are views of one
/// tensor (the gradient buffer, or a scratch one). mean and rstd come from
/// [`forward_train`]. The program owns a scratch buffer of (chunks,
/// features, 2) words. With `slope`, the activation of the layer before
/// (whose output is x) is differentiated too: dx is multiplied by its slope
/// at x, bit for bit what a separate activation backward would compute.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    gpu: &Gpu,
    dx: &Tensor,
    dgamma: View,
    dbeta: View,
    dy: &Tensor,
    x: &Tensor,
    mean: &Tensor,
    rstd: &Tensor,
    gamma: View,
    rows: usize,
    features: usize,
    slope: Option<Activation>,
) -> Result<Program, GpuError> {
    let c = Chunking::for_gpu(
        gpu,
        rows,
        features,
        aligned(features, &[dgamma, dbeta, gamma]),
    );
    backward_chunked(
        gpu, c, dx, dgamma, dbeta, dy, x, mean, rstd, gamma, rows, features, slope,
    )
}

/// [`backward`] with an explicit chunking, so tests can run either variant
/// on any adapter.
#[allow(clippy::too_many_arguments)]
pub fn backward_chunked(
    gpu: &Gpu,
    chunking: Chunking,
    dx: &Tensor,
    dgamma: View,
    dbeta: View,
    dy: &Tensor,
    x: &Tensor,
    mean: &Tensor,
    rstd: &Tensor,
    gamma: View,
    rows: usize,
    features: usize,
    slope: Option<Activation>,
) -> Result<Program, GpuError> {
    let (g, cells) = grid(chunking, rows, features, &[dgamma, dbeta, gamma]);
    for (name, t) in [("dx", dx), ("dy", dy), ("x", x)] {
        check(name, t.len, 0, rows * features);
    }
    check("mean", mean.len, 0, features);
    check("rstd", rstd.len, 0, features);
    for (name, v) in [("dgamma", dgamma), ("dbeta", dbeta), ("gamma", gamma)] {
        check(name, v.tensor.len, v.offset, features);
    }
    let partial = gpu.zeros(
        "batchnorm backward partial",
        g.chunks as usize * features * 2,
    )?;

    let spec = streaming_spec(chunking, BACKWARD_PARTIAL, BACKWARD_PARTIAL_VEC4, 6);
    let kernel = gpu.kernel(&spec)?;
    let params = gpu.uniform("batchnorm_backward_partial params", &g);
    let group = kernel.bind(
        gpu,
        &[
            dy.binding(),
            x.binding(),
            mean.binding(),
            rstd.binding(),
            partial.binding(),
            params.as_entire_binding(),
        ],
    );
    let mut prog = Program::default();
    prog.push(Dispatch {
        kernel,
        group,
        workgroups: cells,
        params: Some(params),
    });

    let spec = KernelSpec::new(
        "batchnorm_backward_finish",
        BACKWARD_FINISH,
        &[
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::ReadWrite,
            Binding::Uniform,
        ],
    );
    let (spec, finish_groups) = finish_variant(spec, chunking, features);
    let kernel = gpu.kernel(&spec)?;
    let params = gpu.uniform(
        "batchnorm_backward_finish params",
        &BackwardFinishParams {
            grid: g,
            off_dgamma: dgamma.offset as u32,
            off_dbeta: dbeta.offset as u32,
            _pad: [0; 2],
        },
    );
    let group = kernel.bind(
        gpu,
        &[
            partial.binding(),
            dgamma.tensor.binding(),
            dbeta.tensor.binding(),
            params.as_entire_binding(),
        ],
    );
    prog.push(Dispatch {
        kernel,
        group,
        workgroups: finish_groups,
        params: Some(params),
    });

    // dgamma and dbeta share one binding: 8 storage buffers, the WebGPU
    // default max_storage_buffers_per_shader_stage.
    assert!(
        Arc::ptr_eq(&dgamma.tensor.buffer, &dbeta.tensor.buffer),
        "batchnorm backward: dgamma and dbeta must be views of one tensor"
    );
    let spec = streaming_spec(chunking, BACKWARD_DX, BACKWARD_DX_VEC4, 8);
    let spec = match slope {
        Some(_) => spec.constant("SLOPE", 1.0),
        None => spec,
    };
    let (slope_kind, slope_alpha) = slope.map_or((0, 0.0), Activation::code);
    let kernel = gpu.kernel(&spec)?;
    let params = gpu.uniform(
        "batchnorm_backward_dx params",
        &DxParams {
            grid: g,
            off_gamma: chunking.unit(gamma.offset),
            off_dgamma: chunking.unit(dgamma.offset),
            off_dbeta: chunking.unit(dbeta.offset),
            slope_kind,
            slope_alpha,
            _pad: [0; 3],
        },
    );
    let group = kernel.bind(
        gpu,
        &[
            dy.binding(),
            x.binding(),
            mean.binding(),
            rstd.binding(),
            gamma.tensor.binding(),
            dgamma.tensor.binding(),
            dx.binding(),
            params.as_entire_binding(),
        ],
    );
    prog.push(Dispatch {
        kernel,
        group,
        workgroups: cells,
        params: Some(params),
    });
    Ok(prog)
}
