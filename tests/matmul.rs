mod common;

use common::*;
use dae::gpu::{Gpu, Program, StepInfo};
use dae::kernels::activation::Activation;
use dae::kernels::matmul::{self, Form, Matmul, Variant};
use dae::reference;

const FORMS: [Form; 3] = [Form::NN, Form::NT, Form::TN];

/// (bias, activation) pairs cycled through the shapes so every form and
/// variant meets each epilogue without multiplying the test time.
const EPILOGUES: [(bool, Activation); 4] = [
    (false, Activation::Identity),
    (true, Activation::Relu),
    (true, Activation::LeakyRelu(0.1)),
    (false, Activation::Sigmoid),
];

fn variants(gpu: &Gpu) -> Vec<Variant> {
    let v: Vec<Variant> = Variant::ALL
        .into_iter()
        .filter(|v| v.supported(gpu))
        .collect();
    if !v.contains(&Variant::Subgroup) {
        eprintln!("adapter has no 4-, 8- or 16-lane subgroups: only the tiled variant is tested");
    }
    v
}

/// Runs one product on the GPU with every operand placed `pad` elements into
/// a larger buffer (as parameter views are) and checks it against the
/// reference.
///
/// Tolerance: a dot product summed in f32 in any order is off from the exact
/// value by at most about k·eps·Σ|a||b| and typically √k·eps·Σ|a||b|, so the
/// error is measured against scale = Σ_p |op(A)[i,p]|·|op(B)[p,j]| + |bias_j|
/// rather than |C|, which can cancel to near zero. 1e-5·scale is ~80 ulp of
/// the scale, far above the √k·eps ≈ 2e-6 seen at k = 784 and far below any
/// indexing mistake (which is off by O(scale)). The activations are
/// 1-Lipschitz, so they do not enlarge the error.
fn check(gpu: &Gpu, variant: Variant, shape: Matmul, with_bias: bool, pad: usize, seed: u64) {
    let mut r = rng(seed);
    let a = uniform(&mut r, shape.a_len(), -1.0, 1.0);
    let b = uniform(&mut r, shape.b_len(), -1.0, 1.0);
    let bias = uniform(&mut r, shape.n, -1.0, 1.0);
    let padded = |x: &[f32]| [vec![7.0; pad], x.to_vec(), vec![7.0; 3]].concat();
    let at = gpu.upload_f32("a", &padded(&a)).unwrap();
    let bt = gpu.upload_f32("b", &padded(&b)).unwrap();
    let biast = gpu.upload_f32("bias", &padded(&bias)).unwrap();
    let ct = gpu
        .upload_f32("c", &vec![f32::NAN; pad + shape.c_len() + 3])
        .unwrap();
    let bias_view = with_bias.then(|| biast.at(pad));
    let mut prog = Program::default();
    prog.push(
        matmul::matmul_variant(
            gpu,
            ct.at(pad),
            at.at(pad),
            bt.at(pad),
            bias_view,
            shape,
            variant,
        )
        .unwrap(),
    );
    prog.run(gpu, &StepInfo::default()).unwrap();
    let got_all = gpu.read_f32(&ct).unwrap();
    let got = &got_all[pad..pad + shape.c_len()];
    let mut want = vec![0.0; shape.c_len()];
    reference::matmul::matmul(&mut want, &a, &b, with_bias.then_some(&bias[..]), shape);

    let what = format!("{variant:?} {shape:?} bias={with_bias} pad={pad}");
    // Elements around C must be untouched: the ragged edges may not spill.
    assert!(
        got_all[..pad].iter().all(|v| v.is_nan()),
        "{what}: wrote before C"
    );
    assert!(
        got_all[pad + shape.c_len()..].iter().all(|v| v.is_nan()),
        "{what}: wrote after C"
    );
    let Matmul { m, k, n, form, .. } = shape;
    for i in 0..m {
        for j in 0..n {
            let mut scale = if with_bias { bias[j].abs() } else { 0.0 };
            for p in 0..k {
                let x = if form == Form::TN {
                    a[p * m + i]
                } else {
                    a[i * k + p]
                };
                let y = if form == Form::NT {
                    b[j * k + p]
                } else {
                    b[p * n + j]
                };
                scale += (x * y).abs();
            }
            let (g, w) = (got[i * n + j], want[i * n + j]);
            let tol = 1e-6 + 1e-5 * scale;
            assert!(
                (g - w).abs() <= tol,
                "{what}: C[{i},{j}] = {g}, want {w} (tol {tol})"
            );
        }
    }
}

#[test]
fn matmul_forward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    // 1x1x1 and 7x13x5 are smaller than one tile and unaligned; 10 and 196
    // are the presets' widths that are not multiples of 8 (10 not even of 4);
    // 33 leaves one row past a 32-row tile; 12x16x20 is small but aligned so
    // it takes the vec4 path with a ragged tile edge; 20x36x72 is aligned,
    // with rows past the 8 of a 4-lane group and columns past one 64-wide
    // tile of 16 lanes.
    let shapes = [
        (1, 1, 1),
        (7, 13, 5),
        (10, 784, 64),
        (33, 196, 10),
        (12, 16, 20),
        (33, 196, 12),
        (64, 10, 96),
        (20, 36, 72),
    ];
    let mut seed = 0;
    for variant in variants(gpu) {
        for form in FORMS {
            for (i, &(m, k, n)) in shapes.iter().enumerate() {
                let (with_bias, act) = EPILOGUES[(i + form as usize) % EPILOGUES.len()];
                let shape = Matmul { m, k, n, form, act };
                seed += 1;
                check(gpu, variant, shape, with_bias, 0, seed);
            }
        }
    }
}

#[test]
fn matmul_forward_matches_reference_on_preset_layer() {
    let Some(gpu) = gpu() else { return };
    // The mlp-dae's first layer in its three passes, from parameter-style
    // offsets (multiples of 64 elements).
    for variant in variants(gpu) {
        let fwd = Matmul {
            m: 256,
            k: 784,
            n: 512,
            form: Form::NN,
            act: Activation::Relu,
        };
        check(gpu, variant, fwd, true, 128, 100);
        let dx = Matmul {
            m: 256,
            k: 512,
            n: 784,
            form: Form::NT,
            act: Activation::Identity,
        };
        check(gpu, variant, dx, false, 64, 101);
        let dw = Matmul {
            m: 784,
            k: 256,
            n: 512,
            form: Form::TN,
            act: Activation::Identity,
        };
        check(gpu, variant, dw, false, 192, 102);
    }
}

#[test]
fn matmul_views_at_offsets_match_reference() {
    let Some(gpu) = gpu() else { return };
    // Offsets that are multiples of 64 but not of the tile sizes, on aligned
    // and unaligned shapes.
    for variant in variants(gpu) {
        for (i, form) in FORMS.into_iter().enumerate() {
            let shape = Matmul {
                m: 36,
                k: 100,
                n: 68,
                form,
                act: Activation::Identity,
            };
            check(gpu, variant, shape, true, 64 * (i + 1), 200 + i as u64);
            let shape = Matmul {
                m: 37,
                k: 98,
                n: 66,
                form,
                act: Activation::Sigmoid,
            };
            check(gpu, variant, shape, true, 64 * (i + 3), 300 + i as u64);
        }
    }
}

#[test]
fn matmul_wide_tiles_match_reference_on_shapes_off_every_tile() {
    let Some(gpu) = gpu() else { return };
    // The wide kernels' own edges: 1x1x1 and 65x33x7 (k below one slab of 8,
    // nothing a multiple of 4) and 130x70x129 (past one 128-row tile, one
    // 64-column tile and 16 slabs) take the scalar file; 132x36x68 (k = 4.5
    // slabs), 4x4x4 (k below a slab) and 136x520x200 (many slabs, both
    // buffers alternating) are aligned, so they take the vec4 file with
    // ragged tile edges, from offsets of 4 (vec4 file) or 3 (scalar file).
    let shapes = [
        ((1, 1, 1), 0),
        ((65, 33, 7), 3),
        ((130, 70, 129), 0),
        ((132, 36, 68), 4),
        ((4, 4, 4), 0),
        ((136, 520, 200), 4),
        ((132, 36, 68), 3),
    ];
    let mut seed = 500;
    for variant in [Variant::Tiled64, Variant::Tiled128x64] {
        for form in FORMS {
            for (i, &((m, k, n), pad)) in shapes.iter().enumerate() {
                let (with_bias, act) = EPILOGUES[(i + form as usize) % EPILOGUES.len()];
                let shape = Matmul { m, k, n, form, act };
                seed += 1;
                check(gpu, variant, shape, with_bias, pad, seed);
            }
        }
    }
}

#[test]
fn matmul_default_variant_matches_reference() {
    let Some(gpu) = gpu() else { return };
    eprintln!("default matmul variant: {:?}", Variant::untuned(gpu));
    let shape = Matmul {
        m: 32,
        k: 784,
        n: 196,
        form: Form::NN,
        act: Activation::Relu,
    };
    check(gpu, Variant::untuned(gpu), shape, true, 0, 400);
}

#[test]
fn bias_grad_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(7);
    for (rows, cols, pad) in [
        (1, 1, 0),
        (7, 10, 64),
        (256, 196, 0),
        (33, 784, 128),
        (3, 65, 0),
        (20_000, 1, 3),
        (4_097, 12, 4),
        (300, 64, 4),
    ] {
        let dy = uniform(&mut r, rows * cols, -1.0, 1.0);
        let dyt = gpu.upload_f32("dy", &dy).unwrap();
        let dbt = gpu
            .upload_f32("db", &vec![f32::NAN; pad + cols + 1])
            .unwrap();
        let mut prog = Program::default();
        prog.extend(matmul::bias_grad(gpu, dbt.at(pad), dyt.view(), rows, cols).unwrap());
        prog.run(gpu, &StepInfo::default()).unwrap();
        let got = gpu.read_f32(&dbt).unwrap();
        let mut want = vec![0.0; cols];
        reference::matmul::bias_grad(&mut want, &dy, rows, cols);
        assert!(
            got[..pad]
                .iter()
                .chain(&got[pad + cols..])
                .all(|v| v.is_nan()),
            "bias_grad wrote outside db"
        );
        // An f32 sum of `rows` values in [-1, 1): error below rows·eps.
        assert_close(
            &format!("bias_grad {rows}x{cols}"),
            &got[pad..pad + cols],
            &want,
            1e-5 * rows as f32,
            0.0,
        );
    }
}

/// The split bias gradient adds every row exactly once: integer values sum
/// exactly in f32, so any row lost or counted twice at a chunk boundary
/// shows as a wrong integer.
#[test]
fn bias_grad_split_sums_every_row_once() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(8);
    for (rows, cols, pad) in [
        (65, 1, 0),
        (20_001, 1, 5),
        (4_097, 3, 0),
        (4_097, 12, 4),
        (73_728, 64, 0),
        (129, 512, 8),
    ] {
        let (chunk, chunks) =
            matmul::bias_grad_split(rows, if cols % 4 == 0 { cols / 4 } else { cols });
        assert!(chunk * chunks >= rows && chunk * (chunks - 1) < rows);
        let dy: Vec<f32> = uniform(&mut r, rows * cols, -3.0, 3.0)
            .iter()
            .map(|v| v.round())
            .collect();
        let dyt = gpu.upload_f32("dy", &dy).unwrap();
        let dbt = gpu
            .upload_f32("db", &vec![f32::NAN; pad + cols + 1])
            .unwrap();
        let mut prog = Program::default();
        prog.extend(matmul::bias_grad(gpu, dbt.at(pad), dyt.view(), rows, cols).unwrap());
        prog.run(gpu, &StepInfo::default()).unwrap();
        let got = gpu.read_f32(&dbt).unwrap();
        let mut want = vec![0.0; cols];
        reference::matmul::bias_grad(&mut want, &dy, rows, cols);
        assert_eq!(
            &got[pad..pad + cols],
            &want[..],
            "bias_grad {rows}x{cols} ({chunks} chunks)"
        );
        assert!(got[..pad]
            .iter()
            .chain(&got[pad + cols..])
            .all(|v| v.is_nan()));
    }
}

#[test]
fn matmul_backward_reference_matches_finite_differences() {
    // C = A·B + bias and L = Σ C ⊙ G for a random G. Then dC = G and the
    // backward formulas the layers use are dA = dC·Bᵀ (NT), dB = Aᵀ·dC (TN),
    // db = bias_grad(dC).
    let (m, k, n) = (3, 5, 4);
    let mut r = rng(11);
    let a = uniform(&mut r, m * k, -1.0, 1.0);
    let b = uniform(&mut r, k * n, -1.0, 1.0);
    let bias = uniform(&mut r, n, -1.0, 1.0);
    let g = uniform(&mut r, m * n, -1.0, 1.0);
    let fwd = Matmul {
        m,
        k,
        n,
        form: Form::NN,
        act: Activation::Identity,
    };
    let loss = |a: &[f32], b: &[f32], bias: &[f32]| {
        let mut c = vec![0.0; m * n];
        reference::matmul::matmul(&mut c, a, b, Some(bias), fwd);
        c.iter()
            .zip(&g)
            .map(|(&c, &g)| c as f64 * g as f64)
            .sum::<f64>()
    };

    let mut da = vec![0.0; m * k];
    let nt = Matmul {
        m,
        k: n,
        n: k,
        form: Form::NT,
        act: Activation::Identity,
    };
    reference::matmul::matmul(&mut da, &g, &b, None, nt);
    let mut db = vec![0.0; k * n];
    let tn = Matmul {
        m: k,
        k: m,
        n,
        form: Form::TN,
        act: Activation::Identity,
    };
    reference::matmul::matmul(&mut db, &a, &g, None, tn);
    let mut dbias = vec![0.0; n];
    reference::matmul::bias_grad(&mut dbias, &g, m, n);

    // L is linear in each input, so central differences have no truncation
    // error and a large step keeps the f32 rounding of C (~1e-7) small after
    // dividing by 2·eps: 1e-4 is generous.
    let eps = 0.25;
    let fd_a = finite_diff(&a, eps, |x| loss(x, &b, &bias));
    let fd_b = finite_diff(&b, eps, |x| loss(&a, x, &bias));
    let fd_bias = finite_diff(&bias, eps, |x| loss(&a, &b, x));
    for (what, analytic, numeric) in [
        ("dA", &da, &fd_a),
        ("dB", &db, &fd_b),
        ("db", &dbias, &fd_bias),
    ] {
        let numeric: Vec<f32> = numeric.iter().map(|&v| v as f32).collect();
        assert_close(what, analytic, &numeric, 1e-4, 1e-4);
    }
}
