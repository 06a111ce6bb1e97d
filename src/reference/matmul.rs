//! Reference matrix products: plain loops, f64 accumulation.

use crate::kernels::matmul::{Form, Matmul};
use crate::reference::activation::apply;

/// C = act(op(A)·op(B) + bias), overwritten.
///
/// # Shapes
/// NN: A (m,k), B (k,n). NT: A (m,k), B (n,k). TN: A (k,m), B (k,n).
/// C (m,n), bias (n).
pub fn matmul(c: &mut [f32], a: &[f32], b: &[f32], bias: Option<&[f32]>, shape: Matmul) {
    let Matmul { m, k, n, form, act } = shape;
    assert_eq!(a.len(), m * k, "reference matmul: A length");
    assert_eq!(b.len(), k * n, "reference matmul: B length");
    assert_eq!(c.len(), m * n, "reference matmul: C length");
    let at = |i: usize, p: usize| match form {
        Form::TN => a[p * m + i],
        Form::NN | Form::NT => a[i * k + p],
    };
    let bt = |p: usize, j: usize| match form {
        Form::NT => b[j * k + p],
        Form::NN | Form::TN => b[p * n + j],
    };
    for i in 0..m {
        for j in 0..n {
            let mut s = bias.map_or(0.0, |bias| bias[j] as f64);
            for p in 0..k {
                s += at(i, p) as f64 * bt(p, j) as f64;
            }
            c[i * n + j] = apply(act, s as f32);
        }
    }
}

/// db\[j\] = Σ_i dy\[i, j\], overwritten. dy (rows, cols), db (cols).
pub fn bias_grad(db: &mut [f32], dy: &[f32], rows: usize, cols: usize) {
    assert_eq!(dy.len(), rows * cols, "reference bias_grad: dy length");
    assert_eq!(db.len(), cols, "reference bias_grad: db length");
    for (j, d) in db.iter_mut().enumerate() {
        *d = (0..rows).map(|i| dy[i * cols + j] as f64).sum::<f64>() as f32;
    }
}
