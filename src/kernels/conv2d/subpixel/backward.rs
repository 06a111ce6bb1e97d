//! The sub-pixel form's backward pass: weight gradient and the source
//! image's gradient.

use super::*;

/// The backward pass from the pre-activation gradient dz (batch, oh, ow,
/// cout): dW (overwritten at its view, when given; the bias gradient is
/// [`bias_grad`](super::bias_grad) on dz as for any convolution) and dx (batch, src_h, src_w,
/// cin), the gradient of the image before the upsampling, overwritten
/// (when given). `x` is that source image.
pub fn backward(
    gpu: &Gpu,
    dz: &Tensor,
    x: &Tensor,
    w: View,
    dw: Option<View>,
    dx: Option<&Tensor>,
    sp: Subpixel,
) -> Result<Program, GpuError> {
    sp.check();
    let c = sp.conv;
    check_len("subpixel backward", "dz", dz.len, 0, c.y_len());
    check_len("subpixel backward", "x", x.len, 0, sp.x_len());
    check_len("subpixel backward", "W", w.tensor.len, w.offset, c.w_len());
    if let Some(dw) = &dw {
        check_len(
            "subpixel backward",
            "dW",
            dw.tensor.len,
            dw.offset,
            c.w_len(),
        );
    }
    if let Some(dx) = dx {
        check_len("subpixel backward", "dx", dx.len, 0, sp.x_len());
    }
    let (ay, ax) = sp.axes();
    let slab = c.cin * c.cout;
    let masks = fold_masks(&ay, &ax, c.k);
    let t = masks.len();
    let dzp = gpu.zeros("subpixel phase dz", max_pixels(&ay, &ax, c.batch) * c.cout)?;
    let dweff = match dw {
        Some(_) => Some(gpu.zeros("subpixel dW", t * slab)?),
        None => None,
    };
    let mut phases = 0;
    for_phases(&ay, &ax, |_| phases += 1);
    let dx_len = sp.x_len();
    let dxs = match dx {
        Some(_) => Some(gpu.zeros("subpixel phase dx", phases * dx_len)?),
        None => None,
    };
    let mut prog = Program::default();
    let wt = match dx {
        Some(_) => {
            let wt = gpu.zeros("subpixel W transposed", t * slab)?;
            let weff = gpu.zeros("subpixel W", t * slab)?;
            prog.push(slab_sums(gpu, w, weff.view(), &masks, slab)?);
            prog.push(input::transpose_slabs(
                gpu,
                &wt,
                weff.view(),
                t * slab,
                c.cin,
                c.cout,
            )?);
            Some(wt)
        }
        None => None,
    };
    let mut err = None;
    let mut index = 0;
    for_phases(&ay, &ax, |p| {
        let r = (|| -> Result<(), GpuError> {
            prog.push(shuffle(gpu, dz, &dzp, &sp, p, c.cout, true)?);
            let taps = (p.y.groups.len() as u32, p.x.groups.len() as u32);
            if let Some(dweff) = &dweff {
                let params = Params {
                    m: (p.taps() * c.cin) as u32,
                    k: p.pixels(c.batch) as u32,
                    n: c.cout as u32,
                    sh: sp.src_h() as u32,
                    sw: sp.src_w() as u32,
                    sc: c.cin as u32,
                    dh: p.y.count as u32,
                    dw: p.x.count as u32,
                    sgn: 1,
                    kh: taps.0,
                    ks: taps.1,
                    off: p.y.d_min,
                    offx: p.x.d_min,
                    ..common(c)
                };
                let out = dweff.at(p.slab * slab);
                prog.extend(weight::weight_program(
                    gpu,
                    out,
                    &dzp,
                    x,
                    params,
                    Variant::Subgroup,
                )?);
            }
            if let (Some(wt), Some(dxs)) = (&wt, &dxs) {
                let params = Params {
                    m: (c.batch * sp.src_h() * sp.src_w()) as u32,
                    k: (p.taps() * c.cout) as u32,
                    n: c.cin as u32,
                    w_off: (p.slab * slab) as u32,
                    c_off: (index * dx_len) as u32,
                    sh: p.y.count as u32,
                    sw: p.x.count as u32,
                    sc: c.cout as u32,
                    dh: sp.src_h() as u32,
                    dw: sp.src_w() as u32,
                    // dx[Y] collects dz_phase[Y − e − d_min]: the flipped kernel.
                    sgn: -1,
                    kh: taps.0,
                    ks: taps.1,
                    off: -p.y.d_min,
                    offx: -p.x.d_min,
                    ..common(c)
                };
                prog.push(gemm(
                    gpu,
                    params,
                    [&dzp, wt, wt, dxs],
                    0,
                    true,
                    Variant::Subgroup,
                )?);
            }
            Ok(())
        })();
        if let Err(e) = r {
            err = err.take().or(Some(e));
        }
        index += 1;
    });
    if let Some(e) = err {
        return Err(e);
    }
    if let (Some(dw), Some(dweff)) = (dw, &dweff) {
        prog.push(slab_sums(
            gpu,
            dweff.view(),
            dw,
            &unfold_masks(&masks, c.k),
            slab,
        )?);
    }
    if let (Some(dx), Some(dxs)) = (dx, &dxs) {
        prog.push(sum_splits(gpu, dxs, dx.view(), dx_len, phases)?);
    }
    Ok(prog)
}
