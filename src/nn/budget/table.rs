//! The table of a run's allocations: built once from the spec, then checked
//! entry by entry against the limits.

use super::{human, Budget, Entry, Limits, Place, MAX_INDEXED_BYTES};
use crate::gpu::STEP_STRIDE;
use crate::kernels::activation::Activation;
use crate::nn::params::ParamLayout;
use crate::nn::{Layer, ModelSpec, Resolved};
use crate::optim::Optimizer;

/// The table of entries, built once.
pub(super) struct Table {
    entries: Vec<Entry>,
}

fn u(x: usize) -> u64 {
    // usize is at most 64 bits on every target Rust supports.
    x as u64
}

/// `a × b`, or an error naming what overflowed and the fix.
fn mul(a: u64, b: u64, what: &str, fix: &str) -> Result<u64, String> {
    a.checked_mul(b)
        .ok_or_else(|| format!("{what}: {a} × {b} overflows 64 bits. Fix: {fix}"))
}

impl Table {
    /// A storage buffer of `words` f32/u32 words (`Gpu::zeros` allocates at
    /// least one).
    fn words(&mut self, what: String, detail: String, words: u64, fix: &str) -> Result<(), String> {
        let bytes = mul(words.max(1), 4, &what, fix)?;
        self.push(what, detail, bytes, Place::Storage, fix);
        Ok(())
    }

    fn push(&mut self, what: String, detail: String, bytes: u64, place: Place, fix: &str) {
        self.entries.push(Entry {
            what,
            detail,
            bytes,
            place,
            fix: fix.to_string(),
        });
    }

    /// A (batch, n) f32 buffer.
    fn batched(&mut self, what: String, batch: u64, n: u64, fix: &str) -> Result<(), String> {
        let words = mul(batch, n, &what, fix)?;
        self.words(what, format!("batch {batch} × {n} f32"), words, fix)
    }

    pub(super) fn build(
        spec: &ModelSpec,
        r: &Resolved,
        layout: &ParamLayout,
        batch: usize,
        n_train: usize,
        n_test: usize,
        float_images: bool,
    ) -> Result<Table, String> {
        let mut t = Table {
            entries: Vec::new(),
        };
        let b = u(batch);
        let widest = layout
            .entries
            .iter()
            .max_by_key(|e| e.len)
            .map_or("the model", |e| e.name.as_str());
        let shrink =
            format!("reduce the units/filters of the largest layers (largest tensor: {widest})");
        let batch_fix = "reduce the batch size (--batch-size)";

        // GpuModel::with_resolved: parameters, gradients, optimizer state.
        let (total, trainable) = (u(layout.total_len), u(layout.trainable_len));
        t.words("parameters".into(), format!("{total} f32"), total, &shrink)?;
        t.words(
            "gradients".into(),
            format!("{trainable} f32"),
            trainable,
            &shrink,
        )?;
        let states = match spec.optimizer {
            Optimizer::Adam { .. } => 2,
            Optimizer::Sgd { .. } => 1,
        };
        for i in 0..states {
            let what = format!("optimizer state {i}");
            t.words(what, format!("{trainable} f32"), trainable, &shrink)?;
        }

        // Buffers::new, in its order.
        let inp = u(spec.input.size());
        for what in ["noisy batch", "input gradient", "clean batch"] {
            t.batched(what.into(), b, inp, batch_fix)?;
        }
        for (i, l) in spec.layers.iter().enumerate() {
            let name = &r.names[i];
            let n = u(r.outputs[i].size());
            let fix =
                format!("reduce the units/filters of {name} or the batch size (--batch-size)");
            if !l.layer.is_view() {
                t.batched(format!("{name} output"), b, n, &fix)?;
                t.batched(format!("{name} output gradient"), b, n, &fix)?;
            }
            match &l.layer {
                Layer::Dense { act, .. } | Layer::Conv2d { act, .. }
                    if act.kernel() != Activation::Identity =>
                {
                    t.batched(format!("{name} pre-activation gradient"), b, n, &fix)?;
                }
                Layer::MaxPool { .. } => t.batched(format!("{name} argmax"), b, n, &fix)?,
                Layer::BatchNorm { .. } => {
                    let c = u(r.inputs[i].c);
                    for s in ["batch mean", "batch rstd"] {
                        let what = format!("{name} {s}");
                        t.words(what, format!("{c} f32"), c, &fix)?;
                    }
                }
                _ => {}
            }
        }
        for what in ["batch labels", "per-row loss", "per-row correct"] {
            t.batched(what.into(), b, 1, batch_fix)?;
        }
        let out = r.outputs.last().map_or(1, |s| u(s.size()));
        t.batched("probabilities".into(), b, out, batch_fix)?;
        let widest_c = r.inputs.iter().map(|s| u(s.c)).max().unwrap_or(1);
        let sink = 2 * widest_c;
        t.words(
            "frozen gradient sink".into(),
            format!("2 × {widest_c} f32"),
            sink,
            &shrink,
        )?;
        let largest = r.inputs.iter().map(|s| u(s.size())).max().unwrap_or(1);
        t.batched("input gradient sink".into(), b, largest, batch_fix)?;

        // GpuDataset::upload: u8 packed four to a word, or f32.
        let f = u(spec.input.size());
        let limit = "train on fewer images (--train-limit)";
        let test_fix = "use a dataset with fewer test images";
        for (split, count, fix) in [("train", u(n_train), limit), ("test", u(n_test), test_fix)] {
            if float_images {
                let values = mul(count, f, &format!("{split} images"), fix)?;
                let detail = format!("{count} × {f} f32");
                t.words(format!("{split} images"), detail.clone(), values, fix)?;
                let what = format!("{split} images upload staging (host)");
                t.push(what, detail, values * 4, Place::Host, fix);
            } else {
                let bytes = mul(count, f, &format!("{split} images"), fix)?;
                let detail = format!("{count} × {f} u8");
                t.words(format!("{split} images"), detail, bytes.div_ceil(4), fix)?;
                let staged = bytes.div_ceil(4) * 4;
                let what = format!("{split} images upload staging (host)");
                t.push(what, format!("{count} × {f} u8"), staged, Place::Host, fix);
                if bytes % 4 != 0 {
                    let what = format!("{split} images padded copy (host)");
                    t.push(what, format!("{count} × {f} u8"), staged, Place::Host, fix);
                }
            }
            t.words(
                format!("{split} labels"),
                format!("{count} u8"),
                count.div_ceil(4),
                fix,
            )?;
            // StepPlan::build's sample orders.
            t.words(
                format!("{split} indices"),
                format!("{count} u32"),
                count,
                fix,
            )?;
        }
        t.words("metric sums".into(), "4 f32".into(), 4, batch_fix)?;

        // Trainer::new's step slots, bound one slot at a time.
        let steps = (u(n_train) / b).max(1) + u(n_test).div_ceil(b);
        let fix = "raise the batch size (--batch-size) or train on fewer images (--train-limit)";
        let bytes = mul(steps, STEP_STRIDE, "step slots", fix)?;
        let detail = format!("{steps} steps × {STEP_STRIDE} B");
        t.push("step slots".into(), detail, bytes, Place::Buffer, fix);

        // The initial parameters on the host, and wgpu's staging copy of
        // them on upload.
        let p = mul(total, 4, "parameters", &shrink)?;
        t.push(
            "initial parameters (host)".into(),
            format!("{total} f32"),
            p,
            Place::Host,
            &shrink,
        );
        let what = "parameter upload staging (host)".into();
        t.push(what, format!("{total} f32"), p, Place::Host, &shrink);
        Ok(t)
    }

    /// Each entry against its limits, then the host total.
    pub(super) fn check(self, limits: &Limits) -> Result<Budget, String> {
        let mut gpu_bytes = 0u64;
        let mut host_bytes = 0u64;
        let total = |acc: u64, e: &Entry| {
            acc.checked_add(e.bytes).ok_or_else(|| {
                format!(
                    "the run's memory overflows 64 bits at {} ({})",
                    e.what, e.detail
                )
            })
        };
        for e in &self.entries {
            let caps: &[(u64, &str)] = match e.place {
                Place::Storage => &[
                    (
                        limits.max_storage_binding,
                        "the adapter's max_storage_buffer_binding_size",
                    ),
                    (limits.max_buffer_size, "the adapter's max_buffer_size"),
                    (MAX_INDEXED_BYTES, "what 32-bit shader indices address"),
                ],
                Place::Buffer => &[(limits.max_buffer_size, "the adapter's max_buffer_size")],
                Place::Host => &[],
            };
            if let Some((cap, name)) = caps.iter().filter(|(c, _)| e.bytes > *c).min() {
                return Err(format!(
                    "{} needs {} ({}), over {name} of {}. Fix: {}",
                    e.what,
                    human(e.bytes),
                    e.detail,
                    human(*cap),
                    e.fix
                ));
            }
            if e.place == Place::Host {
                host_bytes = total(host_bytes, e)?;
            } else {
                gpu_bytes = total(gpu_bytes, e)?;
                if limits.unified_memory {
                    host_bytes = total(host_bytes, e)?;
                }
            }
        }
        if let Some(free) = limits.host_memory {
            if host_bytes > free {
                let biggest = self
                    .entries
                    .iter()
                    .filter(|e| e.place == Place::Host || limits.unified_memory)
                    .max_by_key(|e| e.bytes);
                let (what, fix) = biggest.map_or(("", ""), |e| (e.what.as_str(), e.fix.as_str()));
                let unified = if limits.unified_memory {
                    " (this adapter's GPU buffers live in host memory)"
                } else {
                    ""
                };
                return Err(format!(
                    "the run needs {} of host memory{unified}, but only {} is available; the \
                     largest part is {what}. Fix: {fix}, or free memory",
                    human(host_bytes),
                    human(free)
                ));
            }
        }
        Ok(Budget {
            entries: self.entries,
            gpu_bytes,
            host_bytes,
        })
    }
}
