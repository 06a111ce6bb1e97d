//! The kernels with one variant: activations, dropout, noise, losses,
//! softmax, reductions, gather, BatchNorm, pooling, upsampling, optimizers.
//!
//! One file per group. Every case runs one pass on seeded inputs at one
//! shape a preset uses (its batch cut unless `--full`) and at one ragged
//! shape (sizes that are multiples of no workgroup, tile or vector width),
//! and holds each output to the tolerance of the crate's own test of that
//! kernel, named in a comment beside it. A fused pass whose test only
//! asserts that it equals the separate passes bit for bit is checked the
//! same way here: the separate passes have rows of their own against the
//! CPU reference.

mod analysis;
mod elementwise;
mod loss;
mod norm;
mod norm_epilogue;
mod optim;
mod pool;
mod reduce;

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{Checker, Options, Tol};
use crate::gpu::{Dispatch, Gpu, GpuError, Program, StepInfo, Tensor};
use crate::kernels::activation::Activation;

/// Every case of these kernels whose "kernel variant" name `want` accepts.
pub(crate) fn all(c: &mut Checker, opts: &Options, want: &dyn Fn(&str) -> bool) {
    let mut k = Cases {
        c,
        full: opts.full,
        want,
    };
    elementwise::all(&mut k);
    loss::all(&mut k);
    reduce::all(&mut k);
    analysis::all(&mut k);
    norm::all(&mut k);
    norm_epilogue::all(&mut k);
    pool::all(&mut k);
    optim::all(&mut k);
}

/// The activations of `tests/activation.rs` (leaky slope 0.3, as mlp-dae's
/// LeakyReLU uses).
pub(super) const ACTS: [Activation; 4] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.3),
    Activation::Sigmoid,
];

/// An activation's name in the table.
pub(super) fn act_name(a: Activation) -> String {
    match a {
        Activation::Identity => "linear".into(),
        Activation::Relu => "relu".into(),
        Activation::LeakyRelu(s) => format!("leaky_relu({s})"),
        Activation::Sigmoid => "sigmoid".into(),
    }
}

/// The checker, the options and the filter, shared by the case files.
pub(super) struct Cases<'a, 'g> {
    c: &'a mut Checker<'g>,
    full: bool,
    want: &'a dyn Fn(&str) -> bool,
}

impl<'g> Cases<'_, 'g> {
    /// The adapter.
    pub fn gpu(&self) -> &'g Gpu {
        self.c.gpu
    }

    /// A preset's batch of `preset` rows, cut to `cut` unless `--full`.
    pub fn batch(&self, preset: usize, cut: usize) -> usize {
        if self.full {
            preset
        } else {
            preset.min(cut)
        }
    }

    /// Runs `f` if `want` accepts "`kernel` `variant`". A panic inside it
    /// (wgpu reports validation errors by panicking) becomes one failing
    /// row, so one broken kernel cannot end the check.
    pub fn case(&mut self, kernel: &str, variant: &str, shape: &str, f: impl FnOnce(&mut Case)) {
        if !(self.want)(&format!("{kernel} {variant}")) {
            return;
        }
        let result = {
            let mut case = Case {
                gpu: self.c.gpu,
                c: &mut *self.c,
                kernel,
                variant,
                shape,
            };
            catch_unwind(AssertUnwindSafe(|| f(&mut case)))
        };
        if let Err(p) = result {
            let why = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            self.c
                .fail(kernel, variant, shape.into(), format!("panicked: {why}"));
        }
    }
}

/// One case: its rows share the kernel, variant and shape.
pub(super) struct Case<'a, 'g> {
    pub gpu: &'g Gpu,
    c: &'a mut Checker<'g>,
    kernel: &'a str,
    variant: &'a str,
    shape: &'a str,
}

impl Case<'_, '_> {
    /// Records output `what` of the pass (empty where it has only one).
    pub fn check(&mut self, what: &str, got: Result<Vec<f32>, String>, want: &[f32], tol: Tol) {
        let shape = if what.is_empty() {
            self.shape.to_string()
        } else {
            format!("{}: {what}", self.shape)
        };
        self.c
            .compare(self.kernel, self.variant, shape, got, want, tol);
    }

    /// Records a fused pass against its separate passes on the GPU, bit
    /// for bit.
    pub fn versus_separate(
        &mut self,
        got: Result<Vec<f32>, String>,
        want: Result<Vec<f32>, String>,
    ) {
        match want {
            Ok(want) => self.check("vs separate passes", got, &want, EXACT),
            Err(e) => self.check("vs separate passes", Err(e), &[], EXACT),
        }
    }
}

/// Runs the GPU side of a case; an error becomes the failing row's detail.
pub(super) fn on_gpu<T>(f: impl FnOnce() -> Result<T, GpuError>) -> Result<T, String> {
    f().map_err(|e| e.to_string())
}

/// Output `i` of a pass with several.
pub(super) fn pick(outs: &Result<Vec<Vec<f32>>, String>, i: usize) -> Result<Vec<f32>, String> {
    match outs {
        Ok(v) => Ok(v[i].clone()),
        Err(e) => Err(e.clone()),
    }
}

/// Runs one dispatch with `step` and waits.
pub(super) fn run1(gpu: &Gpu, d: Dispatch, step: &StepInfo) -> Result<(), GpuError> {
    let mut prog = Program::default();
    prog.push(d);
    prog.run(gpu, step)
}

/// An output buffer filled with NaN, so an element the kernel forgets to
/// write fails the comparison.
pub(super) fn nans(gpu: &Gpu, n: usize) -> Result<Tensor, GpuError> {
    gpu.upload_f32("out", &vec![f32::NAN; n])
}

/// |got − want| ≤ atol + rtol·|want|, the tests' `assert_close`.
pub(super) fn tol(atol: f64, rtol: f64) -> Tol<'static> {
    Tol::abs_rel(atol, rtol)
}

/// Bit-exact (up to the sign of zero): the tests' `assert_eq`.
pub(super) const EXACT: Tol<'static> = Tol {
    atol: 0.0,
    rtol: 0.0,
    scale: None,
};

/// u32 values (labels, argmax indices, all below 2^24) as exact f32s.
pub(super) fn as_f32(v: &[u32]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}
