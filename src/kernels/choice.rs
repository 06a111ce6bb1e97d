//! Which kernel family each matmul and convolution pass runs.
//!
//! Three sources, in order: `DAE_KERNELS` forces one family for every pass
//! (`tiled`, the workgroup-memory kernels real GPUs run; `subgroup`, the
//! register-blocked ones); otherwise (`auto`, the default) the adapter's
//! tuned choice for that exact shape, where [`crate::tune`] has timed the
//! variants; otherwise the fixed rule of [`Variant::best`].
//!
//! The wide-tile matmul variants ([`Variant::Tiled64`],
//! [`Variant::Tiled128x64`]) are no family of their own: only the tuner
//! picks them, for matmul passes only ([`Variant::candidates`]), and
//! `DAE_KERNELS=tiled` means the original [`Variant::Tiled`].

use crate::gpu::Gpu;
use crate::kernels::conv2d::{Conv2d, Padding};
use crate::kernels::matmul::{Form, Matmul, Variant};

/// The environment variable that forces a kernel family.
pub const ENV: &str = "DAE_KERNELS";

/// The environment variable that turns the sub-pixel form of upsampled
/// convolutions off (`off` or `0`; `on`, `1` or unset: on).
pub const SUBPIXEL_ENV: &str = "DAE_SUBPIXEL";

/// `DAE_SUBPIXEL` from the environment.
pub fn subpixel_from_env() -> Result<bool, String> {
    let v = match std::env::var(SUBPIXEL_ENV) {
        Ok(v) => v,
        Err(std::env::VarError::NotPresent) => return Ok(true),
        Err(std::env::VarError::NotUnicode(_)) => String::from("(not UTF-8)"),
    };
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "on" | "1" => Ok(true),
        "off" | "0" => Ok(false),
        other => Err(format!(
            "{SUBPIXEL_ENV}={other:?} is neither on nor off.\n  fix: set {SUBPIXEL_ENV} to on or off, or unset it"
        )),
    }
}

/// What `DAE_KERNELS` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Family {
    /// Tuned per shape where a tuning exists, the fixed rule elsewhere.
    #[default]
    Auto,
    /// Every pass uses [`Variant::Tiled`].
    Tiled,
    /// Every pass uses [`Variant::Subgroup`] (fails at start-up on an
    /// adapter that cannot run it).
    Subgroup,
}

impl Family {
    /// Parses `auto`, `tiled` or `subgroup` (case-insensitive; empty is auto).
    pub fn parse(s: &str) -> Result<Family, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Family::Auto),
            "tiled" => Ok(Family::Tiled),
            "subgroup" => Ok(Family::Subgroup),
            other => Err(format!(
                "{ENV}={other:?} is not a kernel family.\n  fix: set {ENV} to auto, tiled or subgroup, or unset it"
            )),
        }
    }

    /// `DAE_KERNELS` from the environment (unset: auto).
    pub fn from_env() -> Result<Family, String> {
        match std::env::var(ENV) {
            Ok(v) => Family::parse(&v),
            Err(std::env::VarError::NotPresent) => Ok(Family::Auto),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!(
                "{ENV} is not valid UTF-8.\n  fix: set it to auto, tiled or subgroup"
            )),
        }
    }

    /// The value `DAE_KERNELS` takes for this family.
    pub fn name(self) -> &'static str {
        match self {
            Family::Auto => "auto",
            Family::Tiled => "tiled",
            Family::Subgroup => "subgroup",
        }
    }
}

/// One matmul or convolution pass, as the tuner and the cache key it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// A matrix product (a dense layer's forward or backward pass).
    Matmul(Matmul),
    /// A convolution's forward pass, y = conv(x, W).
    ConvForward(Conv2d),
    /// A convolution's input gradient, dx from dy and W.
    ConvInput(Conv2d),
    /// A convolution's weight gradient, dW from x and dy.
    ConvWeight(Conv2d),
}

impl Op {
    /// A stable text key: the pass and every dimension that changes which
    /// kernel runs or how fast (not the activation, a free epilogue).
    pub fn key(&self) -> String {
        match self {
            Op::Matmul(m) => {
                let form = match m.form {
                    Form::NN => "nn",
                    Form::NT => "nt",
                    Form::TN => "tn",
                };
                format!("matmul_{form}_m{}_k{}_n{}", m.m, m.k, m.n)
            }
            Op::ConvForward(c) => format!("conv_fwd_{}", conv_key(c)),
            Op::ConvInput(c) => format!("conv_bwd_input_{}", conv_key(c)),
            Op::ConvWeight(c) => format!("conv_bwd_weight_{}", conv_key(c)),
        }
    }
}

fn conv_key(c: &Conv2d) -> String {
    let pad = match c.padding {
        Padding::Same => "same",
        Padding::Valid => "valid",
    };
    format!(
        "b{}_{}x{}x{}_to{}_k{}_{pad}",
        c.batch, c.h, c.w, c.cin, c.cout, c.k
    )
}

impl Variant {
    /// The variant pass `op` runs on this adapter: forced by `DAE_KERNELS`,
    /// else tuned, else [`Variant::best`].
    pub fn choose(gpu: &Gpu, op: Op) -> Variant {
        let key = op.key();
        gpu.note_asked(&key);
        match gpu.kernel_family() {
            // A tuning that names a variant this pass has no kernel of (a
            // hand-edited or stale cache) is ignored.
            Family::Auto => gpu
                .tuned(&key)
                .filter(|v| v.supported(gpu) && v.runs(&op))
                .unwrap_or_else(|| Variant::best(gpu)),
            _ => Variant::untuned(gpu),
        }
    }

    /// The variant a pass without a tuned choice runs: the family
    /// `DAE_KERNELS` forces, else [`Variant::best`].
    pub fn untuned(gpu: &Gpu) -> Variant {
        match gpu.kernel_family() {
            Family::Tiled => Variant::Tiled,
            Family::Subgroup => Variant::Subgroup,
            Family::Auto => Variant::best(gpu),
        }
    }

    /// Parses [`Variant::name`].
    pub fn from_name(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }

    /// Whether pass `op` has a kernel of this variant (the convolutions
    /// have no wide-tile one).
    pub fn runs(self, op: &Op) -> bool {
        matches!(op, Op::Matmul(_)) || self.has_conv()
    }

    /// The variants that `dae check` checks and the tuner times for pass
    /// `op` on this adapter, the fixed rule's families first.
    pub fn candidates(gpu: &Gpu, op: &Op) -> Vec<Variant> {
        Variant::ALL
            .into_iter()
            .filter(|v| v.supported(gpu) && v.runs(op))
            .collect()
    }
}
