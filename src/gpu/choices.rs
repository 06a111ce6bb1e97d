//! The device's kernel choices: the family `DAE_KERNELS` forces, the
//! tuned variant of each pass (see [`crate::tune`]) and the passes the
//! launchers asked about.

use super::Gpu;
use crate::kernels::choice::Family;
use crate::kernels::matmul::Variant;

impl Gpu {
    /// The kernel family `DAE_KERNELS` forced (auto when unset).
    pub fn kernel_family(&self) -> Family {
        self.family
    }

    /// The tuned variant for a pass key, if one was set.
    pub fn tuned(&self, key: &str) -> Option<Variant> {
        self.tuned
            .lock()
            .expect("tuning poisoned")
            .get(key)
            .copied()
    }

    /// Notes that a launcher chose a variant for the pass `key`.
    pub fn note_asked(&self, key: &str) {
        self.asked
            .lock()
            .expect("tuning poisoned")
            .insert(key.to_string());
    }

    /// Every pass key launchers chose a variant for so far, sorted: what
    /// [`crate::tune::ops`] must cover.
    pub fn asked_passes(&self) -> Vec<String> {
        self.asked
            .lock()
            .expect("tuning poisoned")
            .iter()
            .cloned()
            .collect()
    }

    /// Makes `variant` the choice for the pass `key` (see
    /// [`crate::tune`]); launchers built afterwards use it.
    pub fn set_tuned(&self, key: &str, variant: Variant) {
        self.tuned
            .lock()
            .expect("tuning poisoned")
            .insert(key.to_string(), variant);
    }

    /// With `on`, every [`Trainer`](crate::train::Trainer) built on this
    /// device first reads the adapter's tuning cache and tunes the passes
    /// it lacks ([`crate::tune::prepare`]). The CLI turns it on; the
    /// library default (off) keeps the fixed rule, so tests are repeatable.
    pub fn set_autotune(&self, on: bool) {
        self.autotune
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether plans built on this device tune first; see
    /// [`Gpu::set_autotune`].
    pub fn autotune(&self) -> bool {
        self.autotune.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// With `on` (the default unless `DAE_SUBPIXEL=off`), plans built
    /// afterwards run a convolution of an UpSample's output in sub-pixel form
    /// ([`crate::kernels::conv2d::subpixel`]) where it applies; off, as two
    /// layers.
    pub fn set_subpixel(&self, on: bool) {
        self.subpixel
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// See [`Gpu::set_subpixel`].
    pub fn subpixel(&self) -> bool {
        self.subpixel.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every tuned choice, sorted by key.
    pub fn tuned_choices(&self) -> Vec<(String, Variant)> {
        let mut v: Vec<_> = self
            .tuned
            .lock()
            .expect("tuning poisoned")
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        v.sort();
        v
    }
}
