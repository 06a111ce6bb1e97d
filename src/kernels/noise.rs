//! Input corruption for denoising autoencoders, and its command-line syntax.

use std::fmt;
use std::str::FromStr;

use crate::gpu::{groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, Tensor};

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[("noise.wgsl", include_str!("../../shaders/noise.wgsl"))];

/// How the input is corrupted before the autoencoder sees it. Pixel values
/// are in [0, 1]; every kind but `Gaussian { clip: false }` keeps them there.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Noise {
    /// The input unchanged.
    None,
    /// x + sigma·N(0, 1), clamped to [0, 1] when `clip`.
    Gaussian {
        /// Standard deviation, >= 0, in pixel units.
        sigma: f32,
        /// Clamps the result to [0, 1].
        clip: bool,
    },
    /// x + level·U(−1, 1), clamped to [0, 1].
    Uniform {
        /// Half-width of the uniform draw, >= 0, in pixel units.
        level: f32,
    },
    /// Each element kept with probability 1 − p, else set to 0 or 1 with equal odds.
    SaltPepper {
        /// Probability of replacing each element, in [0, 1].
        p: f32,
    },
    /// Each element zeroed with probability p (kept values are not rescaled).
    Masking {
        /// Probability of zeroing each element, in [0, 1].
        p: f32,
    },
}

/// The accepted forms, quoted by every parse error.
pub const NOISE_SYNTAX: &str =
    "none | gaussian:SIGMA | gaussian-noclip:SIGMA | uniform:LEVEL | salt-pepper:P | masking:P \
     (SIGMA and LEVEL >= 0, P in [0, 1]; e.g. gaussian:0.1, salt-pepper:0.4)";

/// Why a noise specification did not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid noise {spec:?}: {reason}; accepted forms: {NOISE_SYNTAX}")]
pub struct ParseNoiseError {
    /// The text that failed to parse.
    pub spec: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for Noise {
    type Err = ParseNoiseError;

    fn from_str(spec: &str) -> Result<Noise, ParseNoiseError> {
        let fail = |reason: String| ParseNoiseError {
            spec: spec.to_string(),
            reason,
        };
        let trimmed = spec.trim();
        if trimmed.eq_ignore_ascii_case("none") {
            return Ok(Noise::None);
        }
        let Some((kind, level)) = trimmed.split_once(':') else {
            return Err(fail("expected KIND:LEVEL or none".into()));
        };
        let kind = kind.trim().to_ascii_lowercase();
        let value: f32 = level
            .trim()
            .parse()
            .map_err(|_| fail(format!("level {:?} is not a number", level.trim())))?;
        if !value.is_finite() {
            return Err(fail(format!("level {value} is not finite")));
        }
        let non_negative = |what: &str| {
            if value < 0.0 {
                Err(fail(format!("{what} must be >= 0, got {value}")))
            } else {
                Ok(value)
            }
        };
        let probability = || {
            if (0.0..=1.0).contains(&value) {
                Ok(value)
            } else {
                Err(fail(format!("probability must be in [0, 1], got {value}")))
            }
        };
        match kind.as_str() {
            "gaussian" => Ok(Noise::Gaussian {
                sigma: non_negative("sigma")?,
                clip: true,
            }),
            "gaussian-noclip" => Ok(Noise::Gaussian {
                sigma: non_negative("sigma")?,
                clip: false,
            }),
            "uniform" => Ok(Noise::Uniform {
                level: non_negative("level")?,
            }),
            "salt-pepper" => Ok(Noise::SaltPepper { p: probability()? }),
            "masking" => Ok(Noise::Masking { p: probability()? }),
            other => Err(fail(format!("unknown kind {other:?}"))),
        }
    }
}

impl fmt::Display for Noise {
    /// The same syntax [`FromStr`] accepts, so a value round-trips.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Noise::None => write!(f, "none"),
            Noise::Gaussian { sigma, clip: true } => write!(f, "gaussian:{sigma}"),
            Noise::Gaussian { sigma, clip: false } => write!(f, "gaussian-noclip:{sigma}"),
            Noise::Uniform { level } => write!(f, "uniform:{level}"),
            Noise::SaltPepper { p } => write!(f, "salt-pepper:{p}"),
            Noise::Masking { p } => write!(f, "masking:{p}"),
        }
    }
}

impl Noise {
    /// (kind code, level, clip) as the shader reads them.
    fn code(self) -> (u32, f32, u32) {
        match self {
            Noise::None => (0, 0.0, 0),
            Noise::Gaussian { sigma, clip } => (1, sigma, clip as u32),
            Noise::Uniform { level } => (2, level, 1),
            Noise::SaltPepper { p } => (3, p, 0),
            Noise::Masking { p } => (4, p, 0),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    kind: u32,
    level: f32,
    clip: u32,
    stream: u32,
    _pad: [u32; 3],
}
const _: () = assert!(std::mem::size_of::<Params>() == 32);

/// y = corrupt(x) over `n` elements, drawing from `stream` at the step's
/// (seed, step). x, y: (n); y is overwritten and may not alias x (wgpu forbids
/// binding one buffer as both read and read_write). Reads the step uniform.
/// `Noise::None` still dispatches (a copy) so the plan's shape never changes.
pub fn apply(
    gpu: &Gpu,
    y: &Tensor,
    x: &Tensor,
    n: usize,
    noise: Noise,
    stream: u32,
) -> Result<Dispatch, GpuError> {
    assert!(
        x.len >= n && y.len >= n,
        "noise::apply: n = {n} but x has {} and y {} elements",
        x.len,
        y.len
    );
    let spec = KernelSpec::new(
        "noise",
        include_str!("../../shaders/noise.wgsl"),
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    )
    .with_step();
    let kernel = gpu.kernel(&spec)?;
    let (kind, level, clip) = noise.code();
    let params = gpu.uniform(
        "noise params",
        &Params {
            n: n as u32,
            kind,
            level,
            clip,
            stream,
            _pad: [0; 3],
        },
    );
    let group = kernel.bind(gpu, &[x.binding(), y.binding(), params.as_entire_binding()]);
    Ok(Dispatch {
        kernel,
        group,
        workgroups: groups_2d(groups(n, 256)),
        params: Some(params),
    })
}
