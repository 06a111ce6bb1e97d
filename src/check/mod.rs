//! `dae check`: every kernel this adapter can run, against the CPU
//! reference, on the presets' own shapes and on ragged ones.
//!
//! This is the tests' oracle shipped to users: each case uploads seeded
//! random inputs, runs one pass of one variant on the GPU, runs
//! [`crate::reference`] on the same inputs, and holds every element to the
//! tolerance the crate's tests use for that kernel. A driver bug on the
//! user's GPU shows up as a failing row before a day of training.

pub(crate) mod gemm;
mod others;
mod subpixel;

use std::time::Instant;

use crate::gpu::Gpu;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// One checked pass.
#[derive(Clone, Debug)]
pub struct Row {
    /// The kernel and pass, e.g. `matmul nt` or `conv2d backward_weight`.
    pub kernel: String,
    /// The variant (`subgroup`, `tiled`, `direct`, or `-` for single-variant
    /// kernels).
    pub variant: String,
    /// The shape in words.
    pub shape: String,
    /// The largest |GPU − reference| over all elements.
    pub max_err: f64,
    /// The tolerance at the element closest to failing (the one with the
    /// largest error / tolerance).
    pub tol: f64,
    /// Every element within its tolerance, NaNs where the reference has
    /// them, and nothing written outside the output.
    pub pass: bool,
    /// Why it failed, if it did.
    pub detail: String,
}

/// The rows of one `dae check`, in the order they ran.
#[derive(Default)]
pub struct Report {
    /// One row per kernel, variant and shape checked.
    pub rows: Vec<Row>,
    /// Wall-clock seconds the whole check took.
    pub seconds: f64,
}

impl Report {
    /// The number of rows that failed.
    pub fn failures(&self) -> usize {
        self.rows.iter().filter(|r| !r.pass).count()
    }

    /// The table `dae check` prints.
    pub fn table(&self) -> String {
        let w0 = self
            .rows
            .iter()
            .map(|r| r.kernel.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let w1 = self
            .rows
            .iter()
            .map(|r| r.variant.len())
            .max()
            .unwrap_or(7)
            .max(7);
        let w2 = self
            .rows
            .iter()
            .map(|r| r.shape.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let mut s = format!(
            "{:w0$}  {:w1$}  {:w2$}  {:>10}  {:>10}  result\n",
            "kernel", "variant", "shape", "max error", "tolerance"
        );
        for r in &self.rows {
            s += &format!(
                "{:w0$}  {:w1$}  {:w2$}  {:>10.3e}  {:>10.3e}  {}{}\n",
                r.kernel,
                r.variant,
                r.shape,
                r.max_err,
                r.tol,
                if r.pass { "pass" } else { "FAIL" },
                if r.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.detail)
                }
            );
        }
        s
    }
}

/// Collects rows; shared by the case files.
pub(crate) struct Checker<'a> {
    pub gpu: &'a Gpu,
    pub rows: Vec<Row>,
}

/// Elementwise tolerance: |got − want| ≤ atol + rtol·scale, where `scale`
/// is |want| unless the case passes its own (for sums: the same sum over
/// |terms|, since the result can cancel to zero).
pub(crate) struct Tol<'a> {
    pub atol: f64,
    pub rtol: f64,
    pub scale: Option<&'a [f32]>,
}

impl Tol<'_> {
    pub fn abs_rel(atol: f64, rtol: f64) -> Tol<'static> {
        Tol {
            atol,
            rtol,
            scale: None,
        }
    }
}

impl Checker<'_> {
    /// Compares `got` with `want` and records the row. A GPU error is a
    /// failing row, not an abort, so one broken kernel cannot hide the rest.
    pub fn compare(
        &mut self,
        kernel: &str,
        variant: &str,
        shape: String,
        got: Result<Vec<f32>, String>,
        want: &[f32],
        tol: Tol,
    ) {
        self.rows
            .push(compare(kernel, variant, shape, got, want, tol));
    }

    /// Records a failing row for a case that could not run at all.
    pub fn fail(&mut self, kernel: &str, variant: &str, shape: String, why: String) {
        self.rows.push(Row {
            kernel: kernel.into(),
            variant: variant.into(),
            shape,
            max_err: f64::NAN,
            tol: f64::NAN,
            pass: false,
            detail: why,
        });
    }
}

/// The row of one comparison: every element within `tol`, NaN exactly
/// where `want` has NaN, infinities where it has them, and as many values.
fn compare(
    kernel: &str,
    variant: &str,
    shape: String,
    got: Result<Vec<f32>, String>,
    want: &[f32],
    tol: Tol,
) -> Row {
    let row = |max_err, t, pass, detail: String| Row {
        kernel: kernel.to_string(),
        variant: variant.to_string(),
        shape: shape.clone(),
        max_err,
        tol: t,
        pass,
        detail,
    };
    let got = match got {
        Ok(g) => g,
        Err(e) => return row(f64::NAN, f64::NAN, false, e),
    };
    if got.len() != want.len() {
        let d = format!("{} values, want {}", got.len(), want.len());
        return row(f64::NAN, f64::NAN, false, d);
    }
    let (mut max_err, mut worst, mut worst_tol) = (0f64, -1f64, tol.atol);
    let mut bad: Option<String> = None;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let s = tol.scale.map_or(w.abs(), |s| s[i].abs()) as f64;
        let t = tol.atol + tol.rtol * s;
        if !w.is_finite() || !g.is_finite() {
            // NaN exactly where want has NaN, the same infinity where it
            // has one (inf − inf is NaN and would pass any tolerance).
            let same = (g.is_nan() && w.is_nan()) || g == w;
            if !same && bad.is_none() {
                bad = Some(format!("index {i}: got {g}, want {w}"));
            }
            continue;
        }
        let e = (g as f64 - w as f64).abs();
        max_err = max_err.max(e);
        if e / t > worst {
            (worst, worst_tol) = (e / t, t);
        }
        if e > t && bad.is_none() {
            bad = Some(format!("index {i}: got {g}, want {w}"));
        }
    }
    let pass = bad.is_none();
    row(max_err, worst_tol, pass, bad.unwrap_or_default())
}

/// Seeded inputs for a case.
pub(crate) fn uniform(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    let mut r = StdRng::seed_from_u64(seed);
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only kernels whose name contains this.
    pub only: Option<String>,
    /// Also the full-size shapes of the presets (slower); by default their
    /// batch is cut so the CPU reference stays quick.
    pub full: bool,
}

/// Runs every case this adapter supports.
pub fn run(gpu: &Gpu, opts: &Options) -> Report {
    let start = Instant::now();
    let mut c = Checker {
        gpu,
        rows: Vec::new(),
    };
    let want = |name: &str| opts.only.as_ref().is_none_or(|o| name.contains(o.as_str()));
    if want("matmul") {
        gemm::matmul(&mut c, opts);
    }
    if want("conv2d") {
        gemm::conv2d(&mut c, opts);
    }
    if want("conv2d subpixel") {
        subpixel::check(&mut c, opts);
    }
    others::all(&mut c, opts, &want);
    Report {
        rows: c.rows,
        seconds: start.elapsed().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(got: Result<Vec<f32>, String>, want: &[f32], tol: Tol) -> Row {
        compare("k", "-", "s".into(), got, want, tol)
    }

    #[test]
    fn compare_passes_within_tolerance_and_reports_the_worst_element() {
        let r = check(
            Ok(vec![1.0, 2.0 + 1e-5, f32::NAN, f32::INFINITY]),
            &[1.0, 2.0, f32::NAN, f32::INFINITY],
            Tol::abs_rel(1e-6, 1e-5),
        );
        assert!(r.pass, "{r:?}");
        assert!((r.max_err - 1e-5).abs() < 1e-6, "{r:?}");
        assert!((r.tol - 2.1e-5).abs() < 1e-9, "{r:?}");
    }

    #[test]
    fn compare_fails_a_wrong_value_naming_its_index() {
        let r = check(
            Ok(vec![1.0, 2.5, 3.0]),
            &[1.0, 2.0, 3.0],
            Tol::abs_rel(1e-6, 1e-5),
        );
        assert!(!r.pass);
        assert!(r.detail.contains("index 1"), "{}", r.detail);
        assert_eq!(r.max_err, 0.5);
        // Bit-exact: one ulp off fails.
        let one_ulp = f32::from_bits(1.0f32.to_bits() + 1);
        let r = check(Ok(vec![one_ulp]), &[1.0], Tol::abs_rel(0.0, 0.0));
        assert!(!r.pass, "{r:?}");
        // A per-element scale replaces |want|: a sum that cancels to 0 is
        // held to its terms' size.
        let scale = [10.0f32];
        let t = Tol {
            atol: 0.0,
            rtol: 1e-5,
            scale: Some(&scale),
        };
        assert!(check(Ok(vec![5e-5]), &[0.0], t).pass);
        let t = Tol {
            atol: 0.0,
            rtol: 1e-5,
            scale: Some(&scale),
        };
        assert!(!check(Ok(vec![2e-4]), &[0.0], t).pass);
    }

    #[test]
    fn compare_fails_nan_and_infinity_mismatches() {
        let tol = || Tol::abs_rel(1.0, 1.0);
        for (got, want) in [
            (f32::NAN, 1.0),
            (1.0, f32::NAN),
            (f32::INFINITY, 1e30),
            (1e30, f32::NEG_INFINITY),
            (f32::INFINITY, f32::NEG_INFINITY),
            (f32::NAN, f32::INFINITY),
        ] {
            let r = check(Ok(vec![0.0, got]), &[0.0, want], tol());
            assert!(!r.pass, "got {got}, want {want} passed");
            assert!(r.detail.contains("index 1"), "{}", r.detail);
        }
    }

    #[test]
    fn compare_fails_a_length_mismatch_and_a_gpu_error() {
        let r = check(Ok(vec![1.0, 2.0]), &[1.0, 2.0, 3.0], Tol::abs_rel(1.0, 1.0));
        assert!(!r.pass);
        assert_eq!(r.detail, "2 values, want 3");
        let r = check(Err("device lost".into()), &[1.0], Tol::abs_rel(1.0, 1.0));
        assert!(!r.pass);
        assert_eq!(r.detail, "device lost");
        let report = Report {
            rows: vec![r],
            seconds: 0.0,
        };
        assert_eq!(report.failures(), 1);
        assert!(report.table().contains("FAIL (device lost)"));
    }
}
