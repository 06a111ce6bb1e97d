//! A convolution of a nearest-upsampled image, run on the image before the
//! upsampling: the sub-pixel form of y = conv(upsample_s(x), W).
//!
//! Output pixel i = s·q + r of one axis reads upsampled pixels i − pad + t
//! for taps t < k, which are source pixels q + ⌊(r − pad + t)/s⌋: for each
//! phase r the k taps land on only n_r ≤ ⌈k/s⌉ + 1 distinct source offsets
//! d_min(r) ..= d_min(r) + n_r − 1. So each of the s² phases (r, c) is an
//! ordinary convolution of the source image with an n_r × n_c effective
//! kernel whose taps are sums of W's taps, on a q grid of about O/s × O/s
//! pixels. For 3 × 3 kernels that is 25 source taps per s × s block instead
//! of 81 upsampled ones at s = 3 (3.24× fewer multiply-adds), 16 instead of
//! 36 at s = 2 (2.25×), and the upsampled image is never written or read.
//!
//! - forward: fold W into the phases' effective kernels (one pass over W),
//!   one implicit GEMM per phase into a scratch tensor (bias and activation
//!   fused), scattered into its pixels of y;
//! - weight gradient: each phase's dz gathered into a scratch tensor, its
//!   effective-kernel gradient by the weight GEMM, folded back into dW (each
//!   tap the sum of the effective taps it went into);
//! - input gradient: per phase the transposed convolution of its dz with its
//!   effective kernel, straight into the source image's gradient (the
//!   upsampling's backward is in it), the phases summed in order.
//!
//! The GEMMs are the vec4 subgroup kernels (kh × kw taps at separate row and
//! column offsets), so the form applies where they do: channel counts and
//! parameter offsets multiples of 4, and at most 32 effective-kernel slabs.

use super::*;

mod backward;
mod passes;
pub use backward::backward;
use passes::{max_pixels, shuffle, slab_sums};

/// The slab sums of subpixel_slabs.wgsl.
pub(super) const SLABS_WGSL: &str = include_str!("../../../../shaders/subpixel_slabs.wgsl");
/// The phase scatter and gather of subpixel_shuffle.wgsl.
pub(super) const SHUFFLE_WGSL: &str = include_str!("../../../../shaders/subpixel_shuffle.wgsl");

/// A convolution of an upsampled image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subpixel {
    /// The convolution on the upsampled image: `h` and `w` are `factor`
    /// times the source's.
    pub conv: Conv2d,
    /// The nearest-neighbour upsampling factor.
    pub factor: usize,
}

/// One axis's phase r: outputs s·q + r for q < count.
#[derive(Clone, Debug)]
struct AxisPhase {
    r: usize,
    count: usize,
    /// The source offset of effective tap 0.
    d_min: i32,
    /// For each effective tap, the kernel taps (bits over 0..k) it sums.
    groups: Vec<u32>,
}

/// One 2-D phase: its two axes and its first effective-kernel slab.
struct Phase<'a> {
    y: &'a AxisPhase,
    x: &'a AxisPhase,
    slab: usize,
}

impl Phase<'_> {
    fn taps(&self) -> usize {
        self.y.groups.len() * self.x.groups.len()
    }
    fn pixels(&self, batch: usize) -> usize {
        batch * self.y.count * self.x.count
    }
}

fn axis(out: usize, s: usize, pad: usize, k: usize) -> Vec<AxisPhase> {
    (0..s)
        .filter(|&r| out > r)
        .map(|r| {
            let d = |t: usize| (r as i32 - pad as i32 + t as i32).div_euclid(s as i32);
            let d_min = d(0);
            let mut groups = vec![0u32; (d(k - 1) - d_min + 1) as usize];
            for t in 0..k {
                groups[(d(t) - d_min) as usize] |= 1 << t;
            }
            AxisPhase {
                r,
                count: (out - r).div_ceil(s),
                d_min,
                groups,
            }
        })
        .collect()
}

impl Subpixel {
    /// Source image height (before the upsampling).
    pub fn src_h(&self) -> usize {
        self.conv.h / self.factor
    }
    /// Source image width.
    pub fn src_w(&self) -> usize {
        self.conv.w / self.factor
    }
    /// Elements of the source image x: (batch, src_h, src_w, cin).
    pub fn x_len(&self) -> usize {
        self.conv.batch * self.src_h() * self.src_w() * self.conv.cin
    }

    fn axes(&self) -> (Vec<AxisPhase>, Vec<AxisPhase>) {
        let c = &self.conv;
        (
            axis(c.out_h(), self.factor, c.pad(), c.k),
            axis(c.out_w(), self.factor, c.pad(), c.k),
        )
    }

    /// Effective-kernel slabs (cin × cout each) over every phase.
    pub fn slabs(&self) -> usize {
        let (ay, ax) = self.axes();
        let n = |a: &[AxisPhase]| a.iter().map(|p| p.groups.len()).sum::<usize>();
        n(&ay) * n(&ax)
    }

    /// Multiply-adds of the phase GEMMs, counted twice (the same for every
    /// pass): what this form computes, against [`Conv2d::flops`].
    pub fn flops(&self) -> f64 {
        let (ay, ax) = self.axes();
        let c = &self.conv;
        let mut f = 0.0;
        for_phases(&ay, &ax, |p| {
            f += 2.0 * p.pixels(c.batch) as f64 * (p.taps() * c.cin * c.cout) as f64;
        });
        f
    }

    fn check(&self) {
        self.conv.check();
        assert!(
            self.factor >= 1
                && self.conv.h.is_multiple_of(self.factor)
                && self.conv.w.is_multiple_of(self.factor),
            "subpixel: {self:?} is not an upsampled image"
        );
        assert!(
            self.conv.cin.is_multiple_of(4)
                && self.conv.cout.is_multiple_of(4)
                && self.conv.k * self.conv.k <= 32
                && self.slabs() <= 32,
            "subpixel: {self:?} is outside the form (see `applies`)"
        );
    }
}

fn for_phases<'a>(ay: &'a [AxisPhase], ax: &'a [AxisPhase], mut f: impl FnMut(&Phase<'a>)) {
    let mut slab = 0;
    for y in ay {
        for x in ax {
            let p = Phase { y, x, slab };
            f(&p);
            slab += p.taps();
        }
    }
}

/// Whether [`forward`] and its backward passes run `sp` here, with the
/// kernel's and bias's offsets in the parameter buffer: the subgroup kernels
/// are the adapter's choice and `DAE_SUBPIXEL` is on, the factor is at least
/// 2, the channel counts and offsets are multiples of 4, the kernel has at
/// most 32 taps and the phases at most 32 effective-kernel slabs.
pub fn applies(gpu: &Gpu, sp: &Subpixel, offsets: &[usize]) -> bool {
    let c = &sp.conv;
    gpu.subpixel()
        && Variant::untuned(gpu) == Variant::Subgroup
        && Variant::Subgroup.supported(gpu)
        && sp.factor >= 2
        && c.h.is_multiple_of(sp.factor)
        && c.w.is_multiple_of(sp.factor)
        && c.cin.is_multiple_of(4)
        && c.cout.is_multiple_of(4)
        && c.k * c.k <= 32
        && offsets.iter().all(|o| o.is_multiple_of(4))
        && sp.slabs() <= 32
}

/// The masks that fold W's k·k taps into the phases' effective taps: bit
/// ty·k + tx of slab (phase, ey, ex) is set when tap (ty, tx) lands there.
fn fold_masks(ay: &[AxisPhase], ax: &[AxisPhase], k: usize) -> Vec<u32> {
    let mut masks = Vec::new();
    for_phases(ay, ax, |p| {
        for gy in &p.y.groups {
            for gx in &p.x.groups {
                let mut m = 0u32;
                for ty in (0..k).filter(|t| gy >> t & 1 == 1) {
                    for tx in (0..k).filter(|t| gx >> t & 1 == 1) {
                        m |= 1 << (ty * k + tx);
                    }
                }
                masks.push(m);
            }
        }
    });
    masks
}

/// The masks of the backward fold: bit j of tap t's mask is set when
/// effective slab j holds tap t.
fn unfold_masks(fold: &[u32], k: usize) -> Vec<u32> {
    (0..k * k)
        .map(|t| {
            fold.iter()
                .enumerate()
                .filter(|(_, m)| *m >> t & 1 == 1)
                .fold(0u32, |acc, (j, _)| acc | 1 << j)
        })
        .collect()
}

/// y = act(conv(upsample(x), W) + b), overwritten.
///
/// # Shapes
/// x (batch, src_h, src_w, cin), W (k, k, cin, cout) and b (cout) from their
/// views' offsets, y (batch, oh, ow, cout) of `sp.conv`.
pub fn forward(
    gpu: &Gpu,
    y: &Tensor,
    x: &Tensor,
    w: View,
    b: View,
    sp: Subpixel,
    act: Activation,
) -> Result<Program, GpuError> {
    sp.check();
    let c = sp.conv;
    check_len("subpixel forward", "x", x.len, 0, sp.x_len());
    check_len("subpixel forward", "y", y.len, 0, c.y_len());
    check_len("subpixel forward", "W", w.tensor.len, w.offset, c.w_len());
    check_len("subpixel forward", "b", b.tensor.len, b.offset, c.cout);
    let (ay, ax) = sp.axes();
    let slab = c.cin * c.cout;
    let masks = fold_masks(&ay, &ax, c.k);
    let weff = gpu.zeros("subpixel W", masks.len() * slab)?;
    let yp = gpu.zeros("subpixel phase y", max_pixels(&ay, &ax, c.batch) * c.cout)?;
    let mut prog = Program::default();
    prog.push(slab_sums(gpu, w, weff.view(), &masks, slab)?);
    let (kind, alpha) = act.code();
    let mut err = None;
    for_phases(&ay, &ax, |p| {
        let params = Params {
            m: p.pixels(c.batch) as u32,
            k: (p.taps() * c.cin) as u32,
            n: c.cout as u32,
            act: kind,
            alpha,
            has_bias: 1,
            w_off: (p.slab * slab) as u32,
            b_off: b.offset as u32,
            sh: sp.src_h() as u32,
            sw: sp.src_w() as u32,
            sc: c.cin as u32,
            dh: p.y.count as u32,
            dw: p.x.count as u32,
            sgn: 1,
            ks: p.x.groups.len() as u32,
            kh: p.y.groups.len() as u32,
            off: p.y.d_min,
            offx: p.x.d_min,
            ..common(c)
        };
        let r = gemm(
            gpu,
            params,
            [x, &weff, b.tensor, &yp],
            0,
            true,
            Variant::Subgroup,
        )
        .and_then(|d| {
            prog.push(d);
            shuffle(gpu, y, &yp, &sp, p, c.cout, false)
        });
        match r {
            Ok(d) => prog.push(d),
            Err(e) => err = err.take().or(Some(e)),
        }
    });
    err.map_or(Ok(prog), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tap of every phase lands once, on the source pixel the
    /// upsampled image holds there.
    #[test]
    fn phases_cover_every_tap_once() {
        for (out, s, pad, k) in [(28, 3, 0, 3), (16, 2, 1, 3), (14, 2, 0, 3), (9, 2, 2, 5)] {
            let phases = axis(out, s, pad, k);
            assert_eq!(phases.iter().map(|p| p.count).sum::<usize>(), out);
            for p in &phases {
                let all = p.groups.iter().fold(0u32, |a, g| {
                    assert_eq!(a & g, 0, "a tap in two groups");
                    a | g
                });
                assert_eq!(all, (1 << k) - 1);
                for (e, g) in p.groups.iter().enumerate() {
                    for t in (0..k).filter(|t| g >> t & 1 == 1) {
                        for q in 0..p.count {
                            let u = (s * q + p.r + t) as i32 - pad as i32;
                            assert_eq!(
                                u.div_euclid(s as i32),
                                q as i32 + p.d_min + e as i32,
                                "out {out} s {s} pad {pad} k {k} r {} t {t}",
                                p.r
                            );
                        }
                    }
                }
            }
        }
    }
}
