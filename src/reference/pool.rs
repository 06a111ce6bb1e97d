//! Reference max-pooling and nearest-neighbour upsampling (NHWC).

use crate::kernels::pool::{Pool2d, Upsample};

/// y = the maximum of each window, argmax = the flat index into x of the
/// first maximum in window row-major order (later equal values do not
/// replace it); positions in the padding never win.
/// x: (batch, h, w, c); y, argmax: (batch, out_h, out_w, c), overwritten.
pub fn maxpool_forward(y: &mut [f32], argmax: &mut [u32], x: &[f32], s: Pool2d) {
    s.check();
    let (oh, ow) = (s.out_h(), s.out_w());
    let (pt, pl) = (s.pad_top(), s.pad_left());
    assert_eq!(x.len(), s.in_len(), "maxpool_forward {s:?}: x");
    assert_eq!(y.len(), s.out_elems(), "maxpool_forward {s:?}: y");
    assert_eq!(argmax.len(), s.out_elems(), "maxpool_forward {s:?}: argmax");
    for b in 0..s.batch {
        for oy in 0..oh {
            for ox in 0..ow {
                for ch in 0..s.c {
                    let mut best: Option<(f32, usize)> = None;
                    for ky in 0..s.pool {
                        // Padded row oy*stride + ky is image row − pad_top.
                        let Some(iy) = (oy * s.stride + ky).checked_sub(pt) else {
                            continue;
                        };
                        if iy >= s.h {
                            continue;
                        }
                        for kx in 0..s.pool {
                            let Some(ix) = (ox * s.stride + kx).checked_sub(pl) else {
                                continue;
                            };
                            if ix >= s.w {
                                continue;
                            }
                            let i = ((b * s.h + iy) * s.w + ix) * s.c + ch;
                            // Strict > keeps the first maximum on ties.
                            let take = match best {
                                None => true,
                                Some((v, _)) => x[i] > v,
                            };
                            if take {
                                best = Some((x[i], i));
                            }
                        }
                    }
                    let (v, i) = best.expect("every window holds an image position");
                    let o = ((b * oh + oy) * ow + ox) * s.c + ch;
                    y[o] = v;
                    argmax[o] = i as u32;
                }
            }
        }
    }
}

/// dx\[i\] = Σ dy\[o\] over the outputs o with argmax\[o\] == i (f64 sum; zero
/// where no window picked i). dy, argmax: (batch, out_h, out_w, c);
/// dx: (batch, h, w, c), overwritten.
pub fn maxpool_backward(dx: &mut [f32], dy: &[f32], argmax: &[u32], s: Pool2d) {
    s.check();
    assert_eq!(dx.len(), s.in_len(), "maxpool_backward {s:?}: dx");
    assert_eq!(dy.len(), s.out_elems(), "maxpool_backward {s:?}: dy");
    assert_eq!(
        argmax.len(),
        s.out_elems(),
        "maxpool_backward {s:?}: argmax"
    );
    let mut acc = vec![0f64; dx.len()];
    for (&g, &i) in dy.iter().zip(argmax) {
        acc[i as usize] += g as f64;
    }
    for (d, a) in dx.iter_mut().zip(acc) {
        *d = a as f32;
    }
}

/// y[b, oy, ox, c] = x[b, oy/f, ox/f, c]. x: (batch, h, w, c);
/// y: (batch, h·f, w·f, c), overwritten.
pub fn upsample_forward(y: &mut [f32], x: &[f32], s: Upsample) {
    s.check();
    assert_eq!(x.len(), s.in_len(), "upsample_forward {s:?}: x");
    assert_eq!(y.len(), s.out_elems(), "upsample_forward {s:?}: y");
    let (oh, ow, f) = (s.out_h(), s.out_w(), s.factor);
    for b in 0..s.batch {
        for oy in 0..oh {
            for ox in 0..ow {
                for ch in 0..s.c {
                    y[((b * oh + oy) * ow + ox) * s.c + ch] =
                        x[((b * s.h + oy / f) * s.w + ox / f) * s.c + ch];
                }
            }
        }
    }
}

/// dx[b, iy, ix, c] = Σ of dy over the f×f block (iy·f.., ix·f..), in f64.
/// dy: (batch, h·f, w·f, c); dx: (batch, h, w, c), overwritten.
pub fn upsample_backward(dx: &mut [f32], dy: &[f32], s: Upsample) {
    s.check();
    assert_eq!(dx.len(), s.in_len(), "upsample_backward {s:?}: dx");
    assert_eq!(dy.len(), s.out_elems(), "upsample_backward {s:?}: dy");
    let (oh, ow, f) = (s.out_h(), s.out_w(), s.factor);
    let mut acc = vec![0f64; dx.len()];
    for b in 0..s.batch {
        for oy in 0..oh {
            for ox in 0..ow {
                for ch in 0..s.c {
                    acc[((b * s.h + oy / f) * s.w + ox / f) * s.c + ch] +=
                        dy[((b * oh + oy) * ow + ox) * s.c + ch] as f64;
                }
            }
        }
    }
    for (d, a) in dx.iter_mut().zip(acc) {
        *d = a as f32;
    }
}
