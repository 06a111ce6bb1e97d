//! Reference 2-D convolution (stride 1, NHWC images, Keras (kh, kw, cin, cout)
//! weights): plain loops, f64 accumulation.

use crate::kernels::conv2d::Conv2d;
use crate::reference::activation::apply;

/// Calls `f(n, oy, ox, iy, ix, ky, kx)` for every (output pixel, tap) pair
/// whose input pixel lies inside the image; taps that fall in the padding
/// contribute zero and are skipped.
fn for_each_tap(s: &Conv2d, mut f: impl FnMut(usize, usize, usize, usize, usize, usize, usize)) {
    let pad = s.pad() as isize;
    for n in 0..s.batch {
        for oy in 0..s.out_h() {
            for ox in 0..s.out_w() {
                for ky in 0..s.k {
                    let iy = oy as isize + ky as isize - pad;
                    if iy < 0 || iy >= s.h as isize {
                        continue;
                    }
                    for kx in 0..s.k {
                        let ix = ox as isize + kx as isize - pad;
                        if ix < 0 || ix >= s.w as isize {
                            continue;
                        }
                        f(n, oy, ox, iy as usize, ix as usize, ky, kx);
                    }
                }
            }
        }
    }
}

/// y = act(conv(x, W) + b), overwritten.
///
/// # Shapes
/// x (batch, h, w, cin), W (k, k, cin, cout), b (cout), y (batch, oh, ow, cout).
pub fn forward(
    y: &mut [f32],
    x: &[f32],
    w: &[f32],
    b: &[f32],
    s: Conv2d,
    act: crate::kernels::activation::Activation,
) {
    let (oh, ow) = (s.out_h(), s.out_w());
    assert_eq!(x.len(), s.x_len(), "reference conv2d forward: x length");
    assert_eq!(w.len(), s.w_len(), "reference conv2d forward: W length");
    assert_eq!(b.len(), s.cout, "reference conv2d forward: b length");
    assert_eq!(y.len(), s.y_len(), "reference conv2d forward: y length");
    let mut acc: Vec<f64> = (0..s.y_len()).map(|i| b[i % s.cout] as f64).collect();
    for_each_tap(&s, |n, oy, ox, iy, ix, ky, kx| {
        let xo = ((n * s.h + iy) * s.w + ix) * s.cin;
        let yo = ((n * oh + oy) * ow + ox) * s.cout;
        for ci in 0..s.cin {
            let xv = x[xo + ci] as f64;
            let wo = ((ky * s.k + kx) * s.cin + ci) * s.cout;
            for co in 0..s.cout {
                acc[yo + co] += xv * w[wo + co] as f64;
            }
        }
    });
    for (o, a) in y.iter_mut().zip(acc) {
        *o = apply(act, a as f32);
    }
}

/// dx = conv_transpose(dy, W): the gradient of Σ y⊙dy with respect to x for
/// the pre-activation output y, overwritten.
///
/// # Shapes
/// dy (batch, oh, ow, cout), W (k, k, cin, cout), dx (batch, h, w, cin).
pub fn backward_input(dx: &mut [f32], dy: &[f32], w: &[f32], s: Conv2d) {
    let (oh, ow) = (s.out_h(), s.out_w());
    assert_eq!(
        dy.len(),
        s.y_len(),
        "reference conv2d backward_input: dy length"
    );
    assert_eq!(
        w.len(),
        s.w_len(),
        "reference conv2d backward_input: W length"
    );
    assert_eq!(
        dx.len(),
        s.x_len(),
        "reference conv2d backward_input: dx length"
    );
    let mut acc = vec![0f64; s.x_len()];
    for_each_tap(&s, |n, oy, ox, iy, ix, ky, kx| {
        let xo = ((n * s.h + iy) * s.w + ix) * s.cin;
        let yo = ((n * oh + oy) * ow + ox) * s.cout;
        for ci in 0..s.cin {
            let wo = ((ky * s.k + kx) * s.cin + ci) * s.cout;
            acc[xo + ci] += (0..s.cout)
                .map(|co| dy[yo + co] as f64 * w[wo + co] as f64)
                .sum::<f64>();
        }
    });
    for (o, a) in dx.iter_mut().zip(acc) {
        *o = a as f32;
    }
}

/// dW\[(ky,kx,ci), co\] = Σ_{n,oy,ox} x\[n, oy+ky−pad, ox+kx−pad, ci\]·dy\[n,oy,ox,co\],
/// overwritten.
///
/// # Shapes
/// dy (batch, oh, ow, cout), x (batch, h, w, cin), dW (k, k, cin, cout).
pub fn backward_weight(dw: &mut [f32], dy: &[f32], x: &[f32], s: Conv2d) {
    let (oh, ow) = (s.out_h(), s.out_w());
    assert_eq!(
        dy.len(),
        s.y_len(),
        "reference conv2d backward_weight: dy length"
    );
    assert_eq!(
        x.len(),
        s.x_len(),
        "reference conv2d backward_weight: x length"
    );
    assert_eq!(
        dw.len(),
        s.w_len(),
        "reference conv2d backward_weight: dW length"
    );
    let mut acc = vec![0f64; s.w_len()];
    for_each_tap(&s, |n, oy, ox, iy, ix, ky, kx| {
        let xo = ((n * s.h + iy) * s.w + ix) * s.cin;
        let yo = ((n * oh + oy) * ow + ox) * s.cout;
        for ci in 0..s.cin {
            let xv = x[xo + ci] as f64;
            let wo = ((ky * s.k + kx) * s.cin + ci) * s.cout;
            for co in 0..s.cout {
                acc[wo + co] += xv * dy[yo + co] as f64;
            }
        }
    });
    for (o, a) in dw.iter_mut().zip(acc) {
        *o = a as f32;
    }
}

/// db\[co\] = Σ_{n,oy,ox} dy\[n,oy,ox,co\], overwritten. dy (batch, oh, ow, cout).
pub fn bias_grad(db: &mut [f32], dy: &[f32], s: Conv2d) {
    assert_eq!(dy.len(), s.y_len(), "reference conv2d bias_grad: dy length");
    crate::reference::matmul::bias_grad(db, dy, s.rows(), s.cout);
}
