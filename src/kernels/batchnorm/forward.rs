//! The training and inference forward passes, with the normalisation's
//! fused epilogue (dropout and activation of the layers that follow).

use super::*;
use crate::gpu::{Binding, Dispatch, Gpu, GpuError, KernelSpec, Program, Tensor, View};
use crate::kernels::activation::Activation;
use crate::kernels::dropout;

/// What the normalisation applies to each value before storing it: the
/// layers that follow a BatchNorm (an optional training-mode Dropout, then an
/// Activation) fused into its last pass, computing exactly what their own
/// passes would. [`Epilogue::NONE`] stores the normalised value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epilogue {
    /// Dropout's rate and its random stream (as [`crate::kernels::dropout::forward`]
    /// takes them).
    pub dropout: Option<(f32, u32)>,
    /// The activation applied last.
    pub act: Activation,
}

impl Epilogue {
    /// No dropout and the identity: the normalised value as it is.
    pub const NONE: Epilogue = Epilogue {
        dropout: None,
        act: Activation::Identity,
    };
}

/// The elementwise normalisation shared by training (mode 0: a = mean,
/// b = rstd) and inference (mode 1: a = running mean, b = running variance).
#[allow(clippy::too_many_arguments)]
fn normalize(
    gpu: &Gpu,
    chunking: Chunking,
    y: &Tensor,
    x: &Tensor,
    a: View,
    b: View,
    gamma: View,
    beta: View,
    rows: usize,
    features: usize,
    mode: u32,
    eps: f32,
    epi: Epilogue,
) -> Result<Dispatch, GpuError> {
    let (g, workgroups) = grid(chunking, rows, features, &[a, b, gamma, beta]);
    check("x", x.len, 0, rows * features);
    check("y", y.len, 0, rows * features);
    for (name, v) in [
        ("mean", a),
        ("rstd/var", b),
        ("gamma", gamma),
        ("beta", beta),
    ] {
        check(name, v.tensor.len, v.offset, features);
    }
    let fused = epi != Epilogue::NONE;
    let spec = streaming_spec(chunking, NORMALIZE, NORMALIZE_VEC4, 7)
        .with_step()
        .constant("EPILOGUE", fused as u32 as f64);
    let kernel = gpu.kernel(&spec)?;
    let (act_kind, act_alpha) = epi.act.code();
    let (rate, stream) = epi.dropout.unwrap_or((0.0, 0));
    let params = gpu.uniform(
        "batchnorm_forward_normalize params",
        &NormalizeParams {
            grid: g,
            mode,
            off_a: chunking.unit(a.offset),
            off_b: chunking.unit(b.offset),
            off_gamma: chunking.unit(gamma.offset),
            off_beta: chunking.unit(beta.offset),
            eps,
            act_kind,
            act_alpha,
            has_drop: epi.dropout.is_some() as u32,
            drop_stream: stream,
            drop_rate: rate,
            drop_scale: dropout::scale(rate),
        },
    );
    let group = kernel.bind(
        gpu,
        &[
            x.binding(),
            a.tensor.binding(),
            b.tensor.binding(),
            gamma.tensor.binding(),
            beta.tensor.binding(),
            y.binding(),
            params.as_entire_binding(),
        ],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups,
        params: Some(params),
    })
}

/// Training forward: batch statistics, the running-average update and the
/// normalisation, as three dispatches (partial sums, finish, normalise).
/// y is overwritten; mean and rstd (features) are overwritten and kept for
/// [`backward`]; running_mean and running_var are updated in place. Running
/// the program twice updates the running statistics twice.
/// The program owns a scratch buffer of (chunks, features, 2) words.
#[allow(clippy::too_many_arguments)]
pub fn forward_train(
    gpu: &Gpu,
    y: &Tensor,
    mean: &Tensor,
    rstd: &Tensor,
    running_mean: View,
    running_var: View,
    x: &Tensor,
    gamma: View,
    beta: View,
    rows: usize,
    features: usize,
    momentum: f32,
    eps: f32,
    epi: Epilogue,
) -> Result<Program, GpuError> {
    let c = Chunking::for_gpu(
        gpu,
        rows,
        features,
        aligned(features, &[running_mean, running_var, gamma, beta]),
    );
    forward_train_chunked(
        gpu,
        c,
        y,
        mean,
        rstd,
        running_mean,
        running_var,
        x,
        gamma,
        beta,
        rows,
        features,
        momentum,
        eps,
        epi,
    )
}

/// [`forward_train`] with an explicit chunking, so tests can run either
/// variant on any adapter.
#[allow(clippy::too_many_arguments)]
pub fn forward_train_chunked(
    gpu: &Gpu,
    chunking: Chunking,
    y: &Tensor,
    mean: &Tensor,
    rstd: &Tensor,
    running_mean: View,
    running_var: View,
    x: &Tensor,
    gamma: View,
    beta: View,
    rows: usize,
    features: usize,
    momentum: f32,
    eps: f32,
    epi: Epilogue,
) -> Result<Program, GpuError> {
    let (g, cells) = grid(chunking, rows, features, &[gamma, beta]);
    check("x", x.len, 0, rows * features);
    check("mean", mean.len, 0, features);
    check("rstd", rstd.len, 0, features);
    check(
        "running_mean",
        running_mean.tensor.len,
        running_mean.offset,
        features,
    );
    check(
        "running_var",
        running_var.tensor.len,
        running_var.offset,
        features,
    );
    let partial = gpu.zeros(
        "batchnorm forward partial",
        g.chunks as usize * features * 2,
    )?;

    let spec = streaming_spec(chunking, FORWARD_PARTIAL, FORWARD_PARTIAL_VEC4, 3);
    let kernel = gpu.kernel(&spec)?;
    let params = gpu.uniform("batchnorm_forward_partial params", &g);
    let group = kernel.bind(
        gpu,
        &[x.binding(), partial.binding(), params.as_entire_binding()],
    );
    let mut prog = Program::default();
    prog.push(Dispatch {
        kernel,
        group,
        workgroups: cells,
        params: Some(params),
    });

    let spec = KernelSpec::new(
        "batchnorm_forward_finish",
        FORWARD_FINISH,
        &[
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::ReadWrite,
            Binding::ReadWrite,
            Binding::ReadWrite,
            Binding::Uniform,
        ],
    );
    let (spec, finish_groups) = finish_variant(spec, chunking, features);
    let kernel = gpu.kernel(&spec)?;
    let params = gpu.uniform(
        "batchnorm_forward_finish params",
        &ForwardFinishParams {
            grid: g,
            off_running_mean: running_mean.offset as u32,
            off_running_var: running_var.offset as u32,
            momentum,
            eps,
        },
    );
    let group = kernel.bind(
        gpu,
        &[
            partial.binding(),
            mean.binding(),
            rstd.binding(),
            running_mean.tensor.binding(),
            running_var.tensor.binding(),
            params.as_entire_binding(),
        ],
    );
    prog.push(Dispatch {
        kernel,
        group,
        workgroups: finish_groups,
        params: Some(params),
    });

    prog.push(normalize(
        gpu,
        chunking,
        y,
        x,
        mean.view(),
        rstd.view(),
        gamma,
        beta,
        rows,
        features,
        0,
        eps,
        epi,
    )?);
    Ok(prog)
}

/// Inference forward with the running statistics:
/// y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta, in one
/// dispatch (returned as a program, like the other two passes); y is
/// overwritten.
#[allow(clippy::too_many_arguments)]
pub fn forward_infer(
    gpu: &Gpu,
    y: &Tensor,
    x: &Tensor,
    gamma: View,
    beta: View,
    running_mean: View,
    running_var: View,
    rows: usize,
    features: usize,
    eps: f32,
    epi: Epilogue,
) -> Result<Program, GpuError> {
    let c = Chunking::for_gpu(
        gpu,
        rows,
        features,
        aligned(features, &[running_mean, running_var, gamma, beta]),
    );
    let mut prog = Program::default();
    prog.push(normalize(
        gpu,
        c,
        y,
        x,
        running_mean,
        running_var,
        gamma,
        beta,
        rows,
        features,
        1,
        eps,
        epi,
    )?);
    Ok(prog)
}
