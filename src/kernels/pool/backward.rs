//! The backward passes of max-pooling and upsampling, each with an optional
//! slope epilogue: when the layer before ends in an activation, its
//! pre-activation gradient dx·f'(x) is written here instead of in a pass of
//! its own (x, this layer's input, is that activation's output).

use super::*;
use crate::kernels::activation::Activation;

/// Max-pooling backward: dx\[i\] = Σ dy\[o\] over the outputs o whose argmax is
/// i; zero where no window picked i. Exact for any stride (overlapping
/// windows, stride < pool, add up; the presets use stride == pool, where each
/// input has at most one window).
///
/// # Shapes
/// dy (f32), argmax (u32, from [`maxpool_forward`]): (batch, out_h, out_w, c);
/// dx: (batch, h, w, c), overwritten.
pub fn maxpool_backward(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    argmax: &Tensor,
    shape: Pool2d,
) -> Result<Dispatch, GpuError> {
    maxpool_backward_slope(gpu, dx, dy, argmax, shape, None)
}

/// [`maxpool_backward`], then, with `slope` = (x, act) where x is this
/// layer's input and the output of `act`: dx ⊙ act'(x), bit for bit what
/// [`crate::kernels::activation::backward`] would make of the plain dx.
pub fn maxpool_backward_slope(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    argmax: &Tensor,
    shape: Pool2d,
    slope: Option<(&Tensor, Activation)>,
) -> Result<Dispatch, GpuError> {
    if let Some((x, _)) = slope {
        check_len("maxpool_backward", "x", x, shape.in_len(), &shape);
    }
    shape.check();
    check_len("maxpool_backward", "dx", dx, shape.in_len(), &shape);
    check_len("maxpool_backward", "dy", dy, shape.out_elems(), &shape);
    check_len(
        "maxpool_backward",
        "argmax",
        argmax,
        shape.out_elems(),
        &shape,
    );
    let l = lanes(shape.c);
    // Non-overlapping windows: one invocation per output writes its whole
    // window (pool² fewer loads); otherwise one per input gathers from every
    // window that holds it.
    let (name, src, n) = match (shape.stride == shape.pool, l == 4) {
        (true, true) => (
            "maxpool_backward_window_vec4",
            MAXPOOL_BACKWARD_WINDOW_VEC4,
            shape.out_elems() / 4,
        ),
        (true, false) => (
            "maxpool_backward_window",
            MAXPOOL_BACKWARD_WINDOW,
            shape.out_elems(),
        ),
        (false, true) => (
            "maxpool_backward_vec4",
            MAXPOOL_BACKWARD_VEC4,
            shape.in_len() / 4,
        ),
        (false, false) => ("maxpool_backward", MAXPOOL_BACKWARD, shape.in_len()),
    };
    let mut params = pool_params(&shape, l, n);
    if let Some((_, act)) = slope {
        (params.slope_kind, params.slope_alpha) = act.code();
    }
    // Without a slope dy stands in for the unread y binding.
    let y = slope.map_or(dy, |(x, _)| x);
    build_with(
        gpu,
        name,
        src,
        2,
        &[dy, argmax, dx],
        &params,
        n,
        Some((y, slope.is_some())),
    )
}

/// Nearest-neighbour upsampling backward: dx[b, iy, ix, c] = Σ of dy over
/// the f×f block that (iy, ix) was copied to.
///
/// # Shapes
/// dy: (batch, h·f, w·f, c); dx: (batch, h, w, c), overwritten.
pub fn upsample_backward(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    shape: Upsample,
) -> Result<Dispatch, GpuError> {
    upsample_backward_slope(gpu, dx, dy, shape, None)
}

/// [`upsample_backward`] with the slope epilogue of
/// [`maxpool_backward_slope`].
pub fn upsample_backward_slope(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    shape: Upsample,
    slope: Option<(&Tensor, Activation)>,
) -> Result<Dispatch, GpuError> {
    if let Some((x, _)) = slope {
        check_len("upsample_backward", "x", x, shape.in_len(), &shape);
    }
    shape.check();
    check_len("upsample_backward", "dx", dx, shape.in_len(), &shape);
    check_len("upsample_backward", "dy", dy, shape.out_elems(), &shape);
    let l = lanes(shape.c);
    let (name, src) = if l == 4 {
        ("upsample_backward_vec4", UPSAMPLE_BACKWARD_VEC4)
    } else {
        ("upsample_backward", UPSAMPLE_BACKWARD)
    };
    let mut params = upsample_params(&shape, l);
    if let Some((_, act)) = slope {
        (params.slope_kind, params.slope_alpha) = act.code();
    }
    let y = slope.map_or(dy, |(x, _)| x);
    let n = params.n as usize;
    build_with(
        gpu,
        name,
        src,
        1,
        &[dy, dx],
        &params,
        n,
        Some((y, slope.is_some())),
    )
}
