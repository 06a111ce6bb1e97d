//! The counter-based random numbers every kernel draws, and the reference of
//! the input-corruption kernel.
//!
//! A draw is a pure function of (seed, step, stream, index): no state, so the
//! GPU computes any element's number independently and this file reproduces it
//! exactly. The WGSL copies of [`pcg`], [`key`], [`hash_keyed`], `uniform01`
//! and `normal` live in `shaders/noise.wgsl`, `shaders/dropout_forward.wgsl`
//! and `shaders/dropout_backward.wgsl`; they must stay identical to these.

use crate::gpu::StepInfo;
use crate::kernels::noise::Noise;

/// PCG's output permutation applied to a one-step LCG of `v` (Jarzynski and
/// Olano, "Hash Functions for GPU Rendering", 2020): a bijection of u32 that
/// mixes well enough that consecutive inputs give independent-looking words.
pub fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The per-dispatch part of the hash: shaders compute it once per invocation
/// from the step uniform and the layer's stream.
pub fn key(seed: u32, step: u32, stream: u32) -> u32 {
    pcg(stream.wrapping_add(pcg(step.wrapping_add(pcg(seed)))))
}

/// The per-element part. Two rounds, the second keyed again, so that two
/// streams whose keys differ by d do not yield the same sequence shifted by d.
pub fn hash_keyed(key: u32, index: u32) -> u32 {
    pcg(pcg(index.wrapping_add(key)) ^ key)
}

/// The random word for element `index` of `stream` at (`seed`, `step`).
pub fn hash(seed: u32, step: u32, stream: u32, index: u32) -> u32 {
    hash_keyed(key(seed, step, stream), index)
}

/// A uniform draw in [0, 1): the top 24 bits of the hash times 2^-24, exact in
/// f32 on the CPU and the GPU alike.
pub fn uniform01(seed: u32, step: u32, stream: u32, index: u32) -> f32 {
    uniform01_keyed(key(seed, step, stream), index)
}

/// [`uniform01`] for a key made once by [`key`].
pub fn uniform01_keyed(key: u32, index: u32) -> f32 {
    (hash_keyed(key, index) >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// A standard normal draw by Box-Muller from the uniforms at indices 2·index
/// (radius) and 2·index + 1 (angle) of the same stream. The radius uses
/// 1 − u ∈ (0, 1] so the logarithm is finite; the angle is shifted to
/// [−π, π), the range where GPU `cos` has its documented accuracy.
pub fn normal(seed: u32, step: u32, stream: u32, index: u32) -> f32 {
    normal_keyed(key(seed, step, stream), index)
}

/// [`normal`] for a key made once by [`key`].
pub fn normal_keyed(key: u32, index: u32) -> f32 {
    let u1 = 1.0 - uniform01_keyed(key, index.wrapping_mul(2));
    let u2 = uniform01_keyed(key, index.wrapping_mul(2).wrapping_add(1));
    // The angle is formed in f32 exactly as the shader forms it.
    let angle = 6.283_185_5_f32 * u2 - std::f32::consts::PI;
    let r = (-2.0 * (u1 as f64).ln()).max(0.0).sqrt();
    (r * (angle as f64).cos()) as f32
}

/// y = corrupt(x) with the draws of `stream` at `step`. x, y: (n).
/// Overwrites y. See [`Noise`] for what each kind does.
pub fn apply(y: &mut [f32], x: &[f32], noise: Noise, stream: u32, step: &StepInfo) {
    let k = key(step.seed, step.step, stream);
    for (i, (o, &v)) in y.iter_mut().zip(x).enumerate() {
        let i = i as u32;
        *o = match noise {
            Noise::None => v,
            Noise::Gaussian { sigma, clip } => {
                let z = v + sigma * normal_keyed(k, i);
                if clip {
                    z.clamp(0.0, 1.0)
                } else {
                    z
                }
            }
            Noise::Uniform { level } => {
                let u = uniform01_keyed(k, i);
                (v + level * (2.0 * u - 1.0)).clamp(0.0, 1.0)
            }
            Noise::SaltPepper { p } => {
                // One draw decides both: below p/2 pepper, below p salt.
                let u = uniform01_keyed(k, i);
                if u < 0.5 * p {
                    0.0
                } else if u < p {
                    1.0
                } else {
                    v
                }
            }
            Noise::Masking { p } => {
                if uniform01_keyed(k, i) < p {
                    0.0
                } else {
                    v
                }
            }
        };
    }
}
