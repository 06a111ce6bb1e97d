//! The sub-pixel form's own passes: slab sums (the effective kernels and
//! their gradients) and the phase scatter and gather.

use super::*;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SlabParams {
    len: u32,
    slabs: u32,
    in_off: u32,
    out_off: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ShuffleParams {
    batch: u32,
    gh: u32,
    gw: u32,
    cv: u32,
    oh: u32,
    ow: u32,
    s: u32,
    r: u32,
    c: u32,
    _pad: [u32; 3],
}

/// out[out.offset + o·len + i] = Σ_{bit j of masks[o]} inp[inp.offset + j·len + i].
pub(super) fn slab_sums(
    gpu: &Gpu,
    inp: View,
    out: View,
    masks: &[u32],
    len: usize,
) -> Result<Dispatch, GpuError> {
    let spec = KernelSpec::new(
        "subpixel_slabs",
        SLABS_WGSL,
        &[
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::ReadOnly,
            Binding::Uniform,
        ],
    );
    let kernel = gpu.kernel(&spec)?;
    let mask = gpu.upload_u32("subpixel masks", masks)?;
    let params = gpu.uniform(
        "subpixel slab params",
        &SlabParams {
            len: len as u32,
            slabs: masks.len() as u32,
            in_off: inp.offset as u32,
            out_off: out.offset as u32,
        },
    );
    let group = kernel.bind(
        gpu,
        &[
            inp.tensor.binding(),
            out.tensor.binding(),
            mask.binding(),
            params.as_entire_binding(),
        ],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: groups_2d(groups(masks.len() * len / 4, 64)),
        params: Some(params),
    })
}

/// Moves phase `p` between `full` (batch, oh, ow, ch) and `phase` (its own
/// dense tensor): `split` false writes full's pixels, true phase.
pub(super) fn shuffle(
    gpu: &Gpu,
    full: &Tensor,
    phase: &Tensor,
    sp: &Subpixel,
    p: &Phase,
    ch: usize,
    split: bool,
) -> Result<Dispatch, GpuError> {
    let spec = KernelSpec::new(
        "subpixel_shuffle",
        SHUFFLE_WGSL,
        &[Binding::ReadWrite, Binding::ReadWrite, Binding::Uniform],
    )
    .constant("DIR", if split { 1.0 } else { 0.0 });
    let kernel = gpu.kernel(&spec)?;
    let params = gpu.uniform(
        "subpixel shuffle params",
        &ShuffleParams {
            batch: sp.conv.batch as u32,
            gh: p.y.count as u32,
            gw: p.x.count as u32,
            cv: (ch / 4) as u32,
            oh: sp.conv.out_h() as u32,
            ow: sp.conv.out_w() as u32,
            s: sp.factor as u32,
            r: p.y.r as u32,
            c: p.x.r as u32,
            _pad: [0; 3],
        },
    );
    let group = kernel.bind(
        gpu,
        &[full.binding(), phase.binding(), params.as_entire_binding()],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: groups_2d(groups(p.pixels(sp.conv.batch) * ch / 4, 64)),
        params: Some(params),
    })
}

/// The largest phase's pixels over the batch.
pub(super) fn max_pixels(ay: &[AxisPhase], ax: &[AxisPhase], batch: usize) -> usize {
    let mut n = 0;
    for_phases(ay, ax, |p| n = n.max(p.pixels(batch)));
    n
}
