//! Tuning to the adapter: for each matmul and convolution pass of a model,
//! the first run on an adapter checks every variant it can run against the
//! CPU reference (on the pass's own layer, batch cut), times those that pass
//! on the pass's full shape, and keeps the fastest. The choices are cached
//! per adapter, driver, `dae` version and shape in `$XDG_CACHE_HOME/dae`
//! (see [`cache`]), so later runs only read them.
//!
//! A challenger first races the incumbent at a sixteenth of the batch; one
//! more than twice as slow there is not timed at full size (on lavapipe
//! the tiled kernels are 5–25× slower, and timing them in full would cost
//! minutes for the larger convolutions).
//!
//! Results never change beyond the tested tolerance: every variant is held
//! to the same one. The fixed rule ([`Variant::best`]) is the incumbent; a
//! challenger replaces it only when it is at least [`MARGIN`] faster in the
//! median of several timings, so timing noise cannot flip a choice.

pub mod cache;

use crate::bench::{median_seconds, seeded, time_batch, time_program};
use crate::check::{gemm, Checker};
use crate::gpu::{Dispatch, Gpu, GpuError, Program};
use crate::kernels::activation::Activation;
use crate::kernels::choice::{Family, Op};
use crate::kernels::conv2d::{self, Conv2d};
use crate::kernels::matmul::{self, Form, Matmul, Variant};
use crate::nn::{Layer, ModelSpec, Resolved};

/// How much faster (as a fraction of the incumbent's time) a variant must
/// be to replace the fixed rule's choice.
pub const MARGIN: f64 = 0.10;

/// The environment variable that switches tuning off (`0` or `off`).
pub const ENV: &str = "DAE_TUNE";

/// Whether a run tunes: not when `DAE_TUNE` is `0`/`off`, nor when
/// `DAE_KERNELS` forces a family, nor when only one variant exists here.
pub fn enabled(gpu: &Gpu) -> bool {
    let off = std::env::var(ENV)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "off" | "no"))
        .unwrap_or(false);
    !off && gpu.kernel_family() == Family::Auto && gemm::variants(gpu, false).len() > 1
}

/// The matmul and convolution passes a training step of `spec` runs at its
/// batch size: each Dense layer's forward (NN), weight gradient (TN) and
/// input gradient (NT, when a trainable layer with parameters comes before
/// it), and the same
/// three passes of each Conv2D layer.
pub fn ops(spec: &ModelSpec, r: &Resolved) -> Vec<Op> {
    ops_skipping(spec, r, &[])
}

/// The passes the training plan of `spec` runs on `gpu`: [`ops`] without
/// those of the convolutions that run in sub-pixel form there (after an
/// UpSample; see [`crate::kernels::conv2d::subpixel`]), which choose no
/// variant.
pub fn plan_ops(gpu: &Gpu, spec: &ModelSpec, r: &Resolved) -> Vec<Op> {
    let layout = crate::nn::params::ParamLayout::new(spec, r);
    let absorbed: Vec<usize> = (0..spec.layers.len())
        .filter(|&i| {
            crate::train::plan::subpixel_at(gpu, spec, r, &layout, spec.batch_size, i).is_some()
        })
        .map(|i| i + 1)
        .collect();
    ops_skipping(spec, r, &absorbed)
}

fn ops_skipping(spec: &ModelSpec, r: &Resolved, skip: &[usize]) -> Vec<Op> {
    let batch = spec.batch_size;
    let mut out: Vec<Op> = Vec::new();
    let mut params_before = false;
    let mut push = |op: Op| {
        if !out.iter().any(|o| o.key() == op.key()) {
            out.push(op);
        }
    };
    for (i, l) in spec.layers.iter().enumerate() {
        let x = r.inputs[i];
        let mm = |m, k, n, form| {
            Op::Matmul(Matmul {
                m,
                k,
                n,
                form,
                act: Activation::Identity,
            })
        };
        match l.layer {
            Layer::Dense { units, .. } => {
                push(mm(batch, x.size(), units, Form::NN));
                if l.trainable {
                    push(mm(x.size(), batch, units, Form::TN));
                }
                if params_before {
                    push(mm(batch, units, x.size(), Form::NT));
                }
            }
            Layer::Conv2d {
                filters,
                kernel,
                same,
                ..
            } if !skip.contains(&i) => {
                let c = Conv2d {
                    batch,
                    h: x.h,
                    w: x.w,
                    cin: x.c,
                    cout: filters,
                    k: kernel,
                    padding: if same {
                        conv2d::Padding::Same
                    } else {
                        conv2d::Padding::Valid
                    },
                };
                push(Op::ConvForward(c));
                if l.trainable {
                    push(Op::ConvWeight(c));
                }
                if params_before {
                    push(Op::ConvInput(c));
                }
            }
            _ => {}
        }
        if l.trainable
            && matches!(
                l.layer,
                Layer::Dense { .. } | Layer::Conv2d { .. } | Layer::BatchNorm { .. }
            )
        {
            params_before = true;
        }
    }
    out
}

/// One pass's tuning: what each variant measured and what was kept.
#[derive(Clone, Debug)]
pub struct Choice {
    /// The pass's cache key ([`crate::kernels::choice::Op::key`]).
    pub key: String,
    /// The variant kept for it.
    pub chosen: Variant,
    /// Median milliseconds per variant (estimated from the race at a
    /// sixteenth of the batch for one more than twice as slow there);
    /// `None` where the variant failed the check or exceeds a device limit
    /// (it is never chosen).
    pub times: Vec<(Variant, Option<f64>)>,
}

/// Tunes every pass of `ops` that has no choice yet on `gpu`, sets the
/// choices on `gpu` and returns them. `log` receives one line per pass.
pub fn tune(gpu: &Gpu, ops: &[Op], log: &mut dyn FnMut(&str)) -> Result<Vec<Choice>, GpuError> {
    let mut out = Vec::new();
    for op in ops {
        let key = op.key();
        if gpu.tuned(&key).is_some() {
            continue;
        }
        let incumbent = Variant::best(gpu);
        // The incumbent first, so a challenger more than twice as slow in
        // its first timed run stops there instead of running every rep.
        // The wide matmul tiles are candidates for matmul passes only.
        let mut order = Variant::candidates(gpu, op);
        order.sort_by_key(|v| *v != incumbent);
        let mut times: Vec<(Variant, Option<f64>)> = Vec::new();
        let mut why: Vec<&str> = Vec::new();
        let base_of = |times: &[(Variant, Option<f64>)]| {
            times
                .iter()
                .find(|(w, _)| *w == incumbent)
                .and_then(|(_, t)| *t)
                .map(|t| t / 1e3)
        };
        for v in order {
            // Timed first: a variant the device's limits rule out is left
            // to the plan, whose error names the layer.
            let t = match challenge(gpu, *op, v, incumbent, base_of(&times)) {
                Ok(t) if passes_check(gpu, *op, v) => Ok(t * 1e3),
                Ok(_) => Err("failed the check"),
                Err(GpuError::Limit(_)) => Err("exceeds a device limit"),
                Err(e) => return Err(e),
            };
            why.push(t.err().unwrap_or(""));
            times.push((v, t.ok()));
        }
        let time_of = |v: Variant| times.iter().find(|(w, _)| *w == v).and_then(|(_, t)| *t);
        let mut chosen = incumbent;
        let base = time_of(incumbent);
        for &(v, t) in &times {
            let Some(t) = t else { continue };
            let better = match base {
                None => time_of(chosen).is_none_or(|c| t < c),
                Some(b) => t < b * (1.0 - MARGIN) && time_of(chosen).is_none_or(|c| t < c),
            };
            if v != incumbent && better {
                chosen = v;
            }
        }
        if time_of(chosen).is_none() && why.iter().all(|w| *w == "exceeds a device limit") {
            log(&format!(
                "  {key}: no variant fits this device's limits (left to the plan)"
            ));
            continue;
        }
        if time_of(chosen).is_none() {
            return Err(GpuError::Kernels(format!(
                "no kernel variant computes {key} correctly on {}.\n  fix: run `dae check` and report its failing rows (README, \"Running on your GPU\")",
                gpu.info.name
            )));
        }
        gpu.set_tuned(&key, chosen);
        let shown: Vec<String> = times
            .iter()
            .zip(&why)
            .map(|((v, t), w)| match t {
                Some(t) => format!("{} {t:.2} ms", v.name()),
                None => format!("{} {w}", v.name()),
            })
            .collect();
        log(&format!(
            "  {key}: {} ({})",
            chosen.name(),
            shown.join(", ")
        ));
        out.push(Choice { key, chosen, times });
    }
    Ok(out)
}

/// Seconds of `op` with `v`; for a challenger (`base`: the incumbent's
/// seconds), first a race at a sixteenth of the batch: a challenger more
/// than twice as slow there is not timed at full size, and its time is
/// estimated by scaling the incumbent's by the race's ratio.
fn challenge(
    gpu: &Gpu,
    op: Op,
    v: Variant,
    incumbent: Variant,
    base: Option<f64>,
) -> Result<f64, GpuError> {
    let Some(base) = base else {
        return time(gpu, op, v, None);
    };
    if let Some(small) = shrunk(op) {
        let inc = time(gpu, small, incumbent, None)?;
        let ch = time(gpu, small, v, Some(2.0 * inc))?;
        if ch > 2.0 * inc {
            return Ok(base * ch / inc);
        }
    }
    time(gpu, op, v, Some(2.0 * base))
}

/// `op` with its batch dimension cut to a sixteenth, where that leaves a
/// smaller pass.
fn shrunk(op: Op) -> Option<Op> {
    let cut = |n: usize| (n >= 32).then_some(n / 16);
    match op {
        Op::Matmul(s) => match s.form {
            Form::NN | Form::NT => cut(s.m).map(|m| Op::Matmul(Matmul { m, ..s })),
            Form::TN => cut(s.k).map(|k| Op::Matmul(Matmul { k, ..s })),
        },
        Op::ConvForward(c) | Op::ConvInput(c) | Op::ConvWeight(c) => {
            let batch = (c.batch >= 16).then_some((c.batch / 16).max(1))?;
            let c = Conv2d { batch, ..c };
            Some(match op {
                Op::ConvForward(_) => Op::ConvForward(c),
                Op::ConvInput(_) => Op::ConvInput(c),
                _ => Op::ConvWeight(c),
            })
        }
    }
}

/// The variant against the CPU reference on `op`'s layer with its batch
/// cut to 2 (every pass of that layer, as `dae check` runs it).
fn passes_check(gpu: &Gpu, op: Op, v: Variant) -> bool {
    let mut c = Checker {
        gpu,
        rows: Vec::new(),
    };
    match op {
        Op::Matmul(s) => {
            let s = match s.form {
                Form::NN | Form::NT => Matmul { m: s.m.min(2), ..s },
                Form::TN => Matmul { k: s.k.min(2), ..s },
            };
            gemm::matmul_case(&mut c, v, s, true, 0, 77);
        }
        Op::ConvForward(s) | Op::ConvInput(s) | Op::ConvWeight(s) => {
            let s = Conv2d {
                batch: s.batch.min(2),
                ..s
            };
            gemm::conv_case(&mut c, v, s, Activation::Relu, 78);
        }
    }
    !c.rows.is_empty() && c.rows.iter().all(|r| r.pass)
}

/// Median seconds of one pass of `op` with variant `v` at its full shape;
/// just the first timed run (after one that compiles) when that already
/// exceeds `cutoff` seconds.
fn time(gpu: &Gpu, op: Op, v: Variant, cutoff: Option<f64>) -> Result<f64, GpuError> {
    let over = |t: f64| cutoff.is_some_and(|c| t > c);
    let reps = 5;
    match op {
        Op::Matmul(s) => {
            let a = gpu.upload_f32("tune A", &seeded(s.a_len(), 1))?;
            let b = gpu.upload_f32("tune B", &seeded(s.b_len(), 2))?;
            let c = gpu.zeros("tune C", s.c_len())?;
            let d: Dispatch =
                matmul::matmul_variant(gpu, c.view(), a.view(), b.view(), None, s, v)?;
            let first = time_batch(gpu, &d, 1)?;
            let first = time_batch(gpu, &d, 1)?.min(first);
            if over(first) {
                return Ok(first);
            }
            median_seconds(first, reps, |n| time_batch(gpu, &d, n))
        }
        Op::ConvForward(s) | Op::ConvInput(s) | Op::ConvWeight(s) => {
            let x = gpu.upload_f32("tune x", &seeded(s.x_len(), 1))?;
            let y = gpu.upload_f32("tune y", &seeded(s.y_len(), 2))?;
            let p = gpu.upload_f32("tune params", &seeded(s.w_len() + 64 + s.cout, 3))?;
            let prog: Program = match op {
                Op::ConvForward(_) => {
                    let b_off = s.w_len().next_multiple_of(64);
                    let d = conv2d::forward_variant(
                        gpu,
                        &y,
                        &x,
                        p.at(0),
                        p.at(b_off),
                        s,
                        Activation::Relu,
                        v,
                    )?;
                    let mut prog = Program::default();
                    prog.push(d);
                    prog
                }
                Op::ConvInput(_) => conv2d::backward_input_variant(gpu, &x, &y, p.at(0), s, v)?,
                _ => conv2d::backward_weight_variant(gpu, p.at(0), &y, &x, s, v)?,
            };
            let first = time_program(gpu, &prog, 1)?;
            let first = time_program(gpu, &prog, 1)?.min(first);
            if over(first) {
                return Ok(first);
            }
            median_seconds(first, reps, |n| time_program(gpu, &prog, n))
        }
    }
}

/// What a run does before building its plan: read this adapter's cached
/// choices, tune the passes of `spec` that have none, and save the cache.
/// Returns one line for the user, or `None` when tuning is off or every
/// pass was cached.
pub fn prepare(
    gpu: &Gpu,
    spec: &ModelSpec,
    r: &Resolved,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<Option<String>> {
    if !enabled(gpu) {
        return Ok(None);
    }
    let path = cache::path(gpu);
    let loaded = match &path {
        Some(p) => cache::load(gpu, p)?,
        None => 0,
    };
    let ops = plan_ops(gpu, spec, r);
    let missing = ops.iter().filter(|o| gpu.tuned(&o.key()).is_none()).count();
    if missing == 0 {
        return Ok(None);
    }
    log(&format!(
        "tuning {missing} matmul/convolution passes for this adapter (once; {loaded} cached)"
    ));
    let start = std::time::Instant::now();
    tune(gpu, &ops, log)?;
    let saved = match &path {
        Some(p) => {
            cache::save(gpu, p)?;
            format!("saved to {}", p.display())
        }
        None => "not saved: no cache folder ($XDG_CACHE_HOME or $HOME unset)".into(),
    };
    Ok(Some(format!(
        "kernels: tuned {missing} passes in {:.1} s, {saved}",
        start.elapsed().as_secs_f64()
    )))
}
