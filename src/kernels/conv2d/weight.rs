//! The weight gradient (an implicit GEMM over pixels, split and reduced)
//! and the bias gradient.

use super::*;

/// dW\[(ky,kx,ci), co\] = Σ_{n,oy,ox} x\[n, oy+ky−pad, ox+kx−pad, ci\]·dy\[n,oy,ox,co\],
/// overwritten, with the fastest variant here. The bias gradient is
/// [`bias_grad`].
///
/// # Shapes
/// dy (batch, oh, ow, cout), x (batch, h, w, cin), dW (k, k, cin, cout) from
/// its view's offset.
pub fn backward_weight(
    gpu: &Gpu,
    dw: View,
    dy: &Tensor,
    x: &Tensor,
    shape: Conv2d,
) -> Result<Program, GpuError> {
    backward_weight_variant(
        gpu,
        dw,
        dy,
        x,
        shape,
        Variant::choose(gpu, crate::kernels::choice::Op::ConvWeight(shape)),
    )
}

/// [`backward_weight`] with a chosen variant, for tests and benchmarks.
pub fn backward_weight_variant(
    gpu: &Gpu,
    dw: View,
    dy: &Tensor,
    x: &Tensor,
    shape: Conv2d,
    variant: Variant,
) -> Result<Program, GpuError> {
    shape.check();
    check_variant(gpu, variant);
    check_len("backward_weight", "dy", dy.len, 0, shape.y_len());
    check_len("backward_weight", "x", x.len, 0, shape.x_len());
    check_len(
        "backward_weight",
        "dW",
        dw.tensor.len,
        dw.offset,
        shape.w_len(),
    );
    if variant == Variant::Subgroup
        && conv2d_direct::applies(Pass::BackwardWeight, &shape, &[dw.offset])
    {
        return conv2d_direct::backward_weight(gpu, dw, dy, x, shape);
    }
    let params = Params {
        m: (shape.k * shape.k * shape.cin) as u32,
        k: shape.rows() as u32,
        n: shape.cout as u32,
        sh: shape.h as u32,
        sw: shape.w as u32,
        sc: shape.cin as u32,
        dh: shape.out_h() as u32,
        dw: shape.out_w() as u32,
        sgn: 1,
        off: -(shape.pad() as i32),
        ..common(shape)
    };
    weight_program(gpu, dw, dy, x, params, variant)
}

/// The weight-gradient GEMM described by `params` (m, k, n, the source and
/// destination sizes, the taps and their offsets set; the split, tiles and
/// output offset are chosen here), split over pixels and reduced into `dw`.
pub(super) fn weight_program(
    gpu: &Gpu,
    dw: View,
    dy: &Tensor,
    x: &Tensor,
    mut params: Params,
    variant: Variant,
) -> Result<Program, GpuError> {
    let (m, k, n) = (params.m as usize, params.k as usize, params.n as usize);
    let cin = params.sc as usize;
    // The reduction over pixels is long and C small: split it until the
    // machine has enough independent tiles, keeping each split long enough
    // that the partial sums cost little to reduce. On the CPU also short
    // enough that its slice of x and dy stays in cache while all tiles of
    // the split read it (otherwise every tile streams all of x and dy from
    // memory: 3.6x slower on the 30x30x112 layer).
    let narrow = variant == Variant::Subgroup && n == 1 && cin.is_multiple_of(4);
    let (tiles_mn, target, min_chunk) = match variant {
        Variant::Subgroup if narrow => (m / 4, 64usize * 64, 512),
        Variant::Subgroup => (
            m.div_ceil(SG_ROWS) * n.div_ceil(4 * gpu.info.subgroup_min_size as usize),
            64,
            512,
        ),
        Variant::Tiled => (m.div_ceil(TILE) * n.div_ceil(TILE), 256, 1024),
        Variant::Tiled64 | Variant::Tiled128x64 => unreachable!("refused by check_variant"),
    };
    let max_splits = k.div_ceil(min_chunk).max(1);
    let want = target.div_ceil(tiles_mn).clamp(1, max_splits);
    let mut chunk = k.div_ceil(want).next_multiple_of(4);
    if variant == Variant::Subgroup {
        chunk = chunk.min(CACHE_WORDS / (cin + n)).max(min_chunk);
    }
    let splits = k.div_ceil(chunk);
    params.chunk = chunk as u32;
    let scratch;
    let out: &Tensor = if splits > 1 {
        scratch = gpu.zeros("conv2d dW partials", splits * m * n)?;
        &scratch
    } else {
        params.c_off = dw.offset as u32;
        dw.tensor
    };
    let (spec, workgroups) = match variant {
        Variant::Subgroup if narrow => {
            let spec = KernelSpec::new("conv2d_narrow", NARROW_WGSL, BINDINGS).entry("weight");
            (spec, groups_2d(groups(tiles_mn * splits, 64)))
        }
        Variant::Subgroup => {
            let aligned =
                cin.is_multiple_of(4) && n.is_multiple_of(4) && params.c_off.is_multiple_of(4);
            let stem = if aligned {
                "conv2d_weight_subgroup"
            } else {
                "conv2d_weight_subgroup_ragged"
            };
            let (spec, cols, per_wg) = lanes_spec(gpu, stem);
            params.tiles_n = n.div_ceil(cols) as u32;
            params.tiles = (tiles_mn * splits) as u32;
            (spec, groups_2d(groups(tiles_mn * splits, per_wg)))
        }
        Variant::Tiled64 | Variant::Tiled128x64 => unreachable!("refused by check_variant"),
        Variant::Tiled => {
            let spec = KernelSpec::new("conv2d_tiled", TILED_WGSL, BINDINGS).constant("PASS", 2.0);
            (spec, [groups(n, TILE), groups(m, TILE), splits as u32])
        }
    };
    let mut prog = Program::default();
    prog.push(bind(
        gpu,
        &spec,
        "conv2d backward_weight params",
        &params,
        // conv2d_narrow reads dy through its scalar binding 2.
        if narrow {
            [x, x, dy, out]
        } else {
            [x, dy, x, out]
        },
        workgroups,
    )?);
    if splits > 1 {
        prog.push(sum_splits(gpu, out, dw, m * n, splits)?);
    }
    Ok(prog)
}

/// db\[co\] = Σ_{n,oy,ox} dy\[n,oy,ox,co\], overwritten (split over pixels
/// as [`matmul::bias_grad`](crate::kernels::matmul::bias_grad) splits rows).
///
/// # Shapes
/// dy (batch, oh, ow, cout), db (cout) from its view's offset.
pub fn bias_grad(gpu: &Gpu, db: View, dy: &Tensor, shape: Conv2d) -> Result<Program, GpuError> {
    check_len("bias_grad", "dy", dy.len, 0, shape.y_len());
    crate::kernels::matmul::bias_grad(gpu, db, dy.view(), shape.rows(), shape.cout)
}
