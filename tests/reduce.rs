mod common;

use common::*;
use dae::gpu::{Program, StepInfo};
use dae::kernels::reduce;
use dae::reference;

#[test]
fn reduce_sum_into_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(30);
    // Below, at and beyond one workgroup of 256 lanes, and a whole-dataset
    // evaluation's 60,000 rows (ragged against 256).
    for n in [1usize, 7, 10, 196, 784, 60_001] {
        // Per-row losses are positive; mix in negatives to exercise cancellation.
        let values = uniform(&mut r, n, -1.0, 3.0);
        let acc0 = [1.5f32, -2.0, 7.25];
        let acc = gpu.upload_f32("acc", &acc0).unwrap();
        let vt = gpu.upload_f32("values", &values).unwrap();
        let mut prog = Program::default();
        // Two dispatches: the second must add onto the first's result.
        prog.push(reduce::sum_into(gpu, &acc, 1, &vt, n).unwrap());
        prog.push(reduce::sum_into(gpu, &acc, 1, &vt, n).unwrap());
        prog.run(gpu, &StepInfo::default()).unwrap();
        let got = gpu.read_f32(&acc).unwrap();
        let mut want = acc0.to_vec();
        reference::reduce::sum_into(&mut want, 1, &values);
        reference::reduce::sum_into(&mut want, 1, &values);
        // Each lane adds <= 235 values in f32, then an 8-level tree: the error
        // is bounded by ~(235 + 8)·2^-24·Σ|v|; typical is far smaller.
        let abs_sum: f32 = values.iter().map(|v| v.abs()).sum::<f32>() * 2.0;
        let tol = 3e-6 * abs_sum + 1e-6;
        assert_eq!(got[0], acc0[0], "n={n}: other slots untouched");
        assert_eq!(got[2], acc0[2], "n={n}: other slots untouched");
        assert!(
            (got[1] - want[1]).abs() <= tol,
            "n={n}: got {}, want {} (tol {tol})",
            got[1],
            want[1]
        );
    }
}

#[test]
fn reduce_sum_into_is_deterministic() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(31);
    let n = 50_000;
    let values = uniform(&mut r, n, 0.0, 2.3);
    let vt = gpu.upload_f32("values", &values).unwrap();
    let mut results = Vec::new();
    for _ in 0..3 {
        let acc = gpu.zeros("acc", 1).unwrap();
        let mut prog = Program::default();
        prog.push(reduce::sum_into(gpu, &acc, 0, &vt, n).unwrap());
        prog.run(gpu, &StepInfo::default()).unwrap();
        results.push(gpu.read_f32(&acc).unwrap()[0].to_bits());
    }
    assert!(
        results.windows(2).all(|w| w[0] == w[1]),
        "sums differ run to run: {results:?}"
    );
}

#[test]
fn flag_nonfinite_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(32);
    // Ragged against the 256-lane workgroup and the 16 elements per lane, and
    // long enough (1.5M) that the capped grid has to loop.
    for n in [1usize, 7, 255, 4_097, 60_001, 1_500_001] {
        let clean = uniform(&mut r, n, -1e38, 1e38);
        // Each bad value alone, at the first, a middle and the last index,
        // and the largest finite and smallest subnormal (which must not flag).
        let mut cases: Vec<(String, Vec<f32>)> = vec![("finite".into(), clean.clone())];
        let mut extremes = clean.clone();
        extremes[0] = f32::MAX;
        extremes[n - 1] = -f32::from_bits(1);
        cases.push(("extremes".into(), extremes));
        for (name, bad) in [
            ("nan", f32::NAN),
            ("+inf", f32::INFINITY),
            ("-inf", f32::NEG_INFINITY),
        ] {
            for at in [0, n / 2, n - 1] {
                let mut v = clean.clone();
                v[at] = bad;
                cases.push((format!("{name} at {at}"), v));
            }
        }
        for (what, values) in cases {
            let acc0 = [0.0f32, 0.0, 5.0];
            let acc = gpu.upload_f32("acc", &acc0).unwrap();
            let vt = gpu.upload_f32("values", &values).unwrap();
            let mut prog = Program::default();
            prog.push(reduce::flag_nonfinite(gpu, &acc, 1, &vt, n).unwrap());
            prog.run(gpu, &StepInfo::default()).unwrap();
            let got = gpu.read_f32(&acc).unwrap();
            let mut want = acc0.to_vec();
            reference::reduce::flag_nonfinite(&mut want, 1, &values);
            assert_eq!(got, want, "n={n}, {what}");
        }
    }
}

#[test]
fn flag_nonfinite_ignores_values_past_n() {
    let Some(gpu) = gpu() else { return };
    let values = [1.0f32, 2.0, f32::NAN];
    let acc = gpu.zeros("acc", 1).unwrap();
    let vt = gpu.upload_f32("values", &values).unwrap();
    let mut prog = Program::default();
    prog.push(reduce::flag_nonfinite(gpu, &acc, 0, &vt, 2).unwrap());
    prog.run(gpu, &StepInfo::default()).unwrap();
    assert_eq!(gpu.read_f32(&acc).unwrap(), vec![0.0]);
}
