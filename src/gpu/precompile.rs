//! Compiling a plan's pipelines before its first step, several at a time.
//!
//! Most drivers compile a compute pipeline when it is created. Mesa's
//! lavapipe (llvmpipe) only translates it to NIR then; LLVM compiles it at
//! the first dispatch that uses it, on the device's one queue thread. With an
//! empty Mesa shader cache that is 0.03–5 s per pipeline (the unrolled matmul
//! and convolution kernels take seconds each), one after another, inside the
//! first training step. [`Gpu::precompile`] does that work before the first
//! step and spreads it over threads:
//!
//! - the calling thread has this device compile its share: a dispatch of zero
//!   workgroups compiles the pipeline and runs nothing;
//! - each helper thread opens its own device on the same adapter
//!   ([`Gpu::open_matching`]), builds the same kernel there and compiles it the
//!   same way. llvmpipe writes the machine code to Mesa's on-disk shader
//!   cache, keyed by the shader, so this device's first dispatch of that
//!   pipeline loads it (a few ms) instead of compiling it again. A helper
//!   opens its device only once the calling thread has gone 25 ms without
//!   finishing a pipeline: with a warm cache it loads them all sooner than a
//!   device opens, so a warm start costs nothing extra.
//!
//! The code that runs is the same either way, so results are bit-identical
//! to compiling lazily. The longest sources go first and each thread takes
//! the next pipeline when it finishes one. Without a usable disk cache
//! (`MESA_SHADER_CACHE_DISABLE`, a read-only cache folder) helpers could not
//! hand their work over, so only the calling thread compiles. A pipeline
//! whose precompile fails simply compiles at its first dispatch, as before.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use super::mesa_cache::disk_cache_usable;
use super::{Gpu, GpuError, Kernel};

/// What one [`Gpu::precompile`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Precompiled {
    /// Pipelines compiled (those compiled by an earlier call are skipped).
    pub pipelines: usize,
    /// Of those, compiled by helper devices.
    pub by_helpers: usize,
    /// Helper devices that took pipelines.
    pub helpers: usize,
    /// Pipelines whose precompile failed; they compile at first dispatch.
    pub failed: usize,
    /// Wall time of the whole precompile, in seconds.
    pub seconds: f64,
}

/// Bytes of each stand-in buffer a zero-workgroup dispatch binds: more than
/// any kernel's params struct (the only fixed-size bindings).
const STAND_IN_BYTES: u64 = 4096;

/// How long helpers watch the calling thread before they open a device;
/// see `Shared::needs_help`.
const PATIENCE: std::time::Duration = std::time::Duration::from_millis(25);

/// Most threads `DAE_COMPILE_THREADS` may ask for.
const MAX_THREADS: usize = 64;

/// Threads by default at most: a plan has under ten slow pipelines, and
/// each helper's lavapipe device starts a pool of threads per core.
const DEFAULT_MAX_THREADS: usize = 8;

/// `DAE_COMPILE_THREADS` (0 compiles lazily, at first dispatch), else the
/// machine's cores, at most [`DEFAULT_MAX_THREADS`].
pub(super) fn default_threads() -> usize {
    std::env::var("DAE_COMPILE_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(DEFAULT_MAX_THREADS)
        })
        .min(MAX_THREADS)
}

impl Gpu {
    /// True when the driver compiles a pipeline at its first dispatch rather
    /// than when it is created (Mesa's llvmpipe).
    pub fn compiles_at_first_dispatch(&self) -> bool {
        self.info.backend == wgpu::Backend::Vulkan
            && (self.info.driver.contains("llvmpipe") || self.info.name.contains("llvmpipe"))
    }

    /// Threads [`Gpu::precompile`] uses: `DAE_COMPILE_THREADS`, else the
    /// machine's cores; 0 leaves compiling to the first dispatch.
    pub fn compile_threads(&self) -> usize {
        self.compile_threads.load(Ordering::Relaxed)
    }

    /// How pipelines get compiled, for `dae info`.
    pub fn describe_compiling(&self) -> String {
        match (self.compiles_at_first_dispatch(), self.compile_threads()) {
            (false, _) => "compiled when created".into(),
            (true, 0) => "compiled at first dispatch (DAE_COMPILE_THREADS=0)".into(),
            (true, n) => format!(
                "compiled at first dispatch; precompiled before a run's first step on {n} \
                 thread{} (DAE_COMPILE_THREADS)",
                if n == 1 { "" } else { "s" }
            ),
        }
    }

    /// Sets the threads [`Gpu::precompile`] uses (at most 64); 0 leaves
    /// compiling to the first dispatch.
    pub fn set_compile_threads(&self, threads: usize) {
        self.compile_threads
            .store(threads.min(MAX_THREADS), Ordering::Relaxed);
    }

    /// Has the driver compile every kernel of `kernels` not compiled yet,
    /// on [`Gpu::compile_threads`] threads; returns when all are done. Does
    /// nothing on drivers that compiled them when they were created.
    pub fn precompile(&self, kernels: &[Arc<Kernel>]) -> Precompiled {
        self.precompile_with(kernels, self.compile_threads())
    }

    /// [`Gpu::precompile`] on `threads` threads (this one and `threads - 1`
    /// helper devices).
    pub fn precompile_with(&self, kernels: &[Arc<Kernel>], threads: usize) -> Precompiled {
        if threads == 0 {
            return Precompiled::default();
        }
        self.precompile_on(kernels, threads - 1, true)
    }

    /// [`Gpu::precompile`] on `helpers` helper devices only, this device
    /// compiling only what they leave (all of it when no helper opens or
    /// Mesa's disk cache is off): its first dispatches then load every
    /// pipeline from the disk cache. For tests of the helpers' path.
    pub fn precompile_on_helpers(&self, kernels: &[Arc<Kernel>], helpers: usize) -> Precompiled {
        self.precompile_on(kernels, helpers, false)
    }

    fn precompile_on(
        &self,
        kernels: &[Arc<Kernel>],
        helpers: usize,
        mut here: bool,
    ) -> Precompiled {
        let t0 = Instant::now();
        if !self.compiles_at_first_dispatch() {
            return Precompiled::default();
        }
        let mut seen = std::collections::HashSet::new();
        let mut jobs: Vec<Arc<Kernel>> = kernels
            .iter()
            .filter(|k| !k.is_compiled() && seen.insert(Arc::as_ptr(k)))
            .cloned()
            .collect();
        // Longest compile first: source length is a fair proxy.
        jobs.sort_by_key(|k| std::cmp::Reverse(k.spec().source.len()));
        let wanted = helpers.min(jobs.len().saturating_sub(here as usize));
        let helpers = if wanted > 0 && disk_cache_usable() {
            wanted
        } else {
            0
        };
        let shared = Arc::new(Shared {
            jobs,
            next: AtomicUsize::new(0),
            tally: Mutex::new(Tally::default()),
            changed: Condvar::new(),
        });
        for _ in 0..helpers {
            shared.lock().alive += 1;
            let (sh, info) = (shared.clone(), self.info.clone());
            let (limits, features) = (self.limits.clone(), self.features);
            // Detached: a helper still opening its device when this thread
            // has compiled everything (a warm cache) is not waited for.
            let spawned = std::thread::Builder::new()
                .name("dae-precompile".into())
                .spawn(move || helper(&sh, &info, &limits, features));
            if spawned.is_err() {
                shared.lock().alive -= 1;
            }
        }
        let n = shared.jobs.len();
        loop {
            if here {
                while let Some(k) = shared.take() {
                    let ok = compile(self, k).is_ok();
                    if ok {
                        k.mark_compiled();
                    }
                    shared.finish(ok);
                }
            }
            // Wait for the pipelines helpers took, or for all of them to
            // end (some may have left pipelines untaken).
            let mut t = shared.lock();
            while t.report.pipelines + t.report.failed < n && t.alive > 0 {
                t = shared.changed.wait(t).unwrap_or_else(|e| e.into_inner());
            }
            if t.report.pipelines + t.report.failed >= n {
                let mut report = t.report.clone();
                report.seconds = t0.elapsed().as_secs_f64();
                return report;
            }
            here = true;
        }
    }
}

/// The pipelines of one [`Gpu::precompile`], taken in order by its threads.
struct Shared {
    jobs: Vec<Arc<Kernel>>,
    next: AtomicUsize,
    tally: Mutex<Tally>,
    changed: Condvar,
}

#[derive(Default)]
struct Tally {
    /// What finished so far (`seconds` unused).
    report: Precompiled,
    /// Helper threads not ended yet.
    alive: usize,
    /// Pipelines the calling thread finished.
    here: usize,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self) -> Option<&Arc<Kernel>> {
        self.jobs.get(self.next.fetch_add(1, Ordering::Relaxed))
    }

    fn exhausted(&self) -> bool {
        self.next.load(Ordering::Relaxed) >= self.jobs.len()
    }

    /// One pipeline finished here, compiled or not.
    fn finish(&self, ok: bool) {
        let mut t = self.lock();
        if ok {
            t.report.pipelines += 1;
        } else {
            t.report.failed += 1;
        }
        t.here += 1;
        self.changed.notify_all();
    }

    /// Whether a helper should open a device: false once every pipeline is
    /// taken, true as soon as the calling thread has finished none for
    /// [`PATIENCE`]. With a warm cache it loads one pipeline every few ms and
    /// is done before a device could open (60-100 ms of CPU); compiling, it
    /// spends 0.03-5 s on each, so the helpers start within [`PATIENCE`].
    fn needs_help(&self) -> bool {
        let mut t = self.lock();
        loop {
            if self.exhausted() {
                return false;
            }
            let before = t.here;
            t = self
                .changed
                .wait_timeout_while(t, PATIENCE, |t| t.here == before && !self.exhausted())
                .unwrap_or_else(|e| e.into_inner())
                .0;
            if t.here == before && !self.exhausted() {
                return true;
            }
        }
    }
}

/// Reports a helper's pipelines and its end when it ends, even by a panic,
/// so the thread waiting for them never waits forever.
struct Report<'a> {
    shared: &'a Shared,
    taken: usize,
    ok: usize,
}

impl Drop for Report<'_> {
    fn drop(&mut self) {
        let mut t = self.shared.lock();
        t.report.pipelines += self.ok;
        t.report.by_helpers += self.ok;
        t.report.failed += self.taken - self.ok;
        t.report.helpers += (self.taken > 0) as usize;
        t.alive -= 1;
        self.shared.changed.notify_all();
    }
}

/// A helper thread: its own device on the same adapter compiles pipelines
/// until none is left, so they land in Mesa's disk cache.
fn helper(
    shared: &Shared,
    info: &wgpu::AdapterInfo,
    limits: &wgpu::Limits,
    features: wgpu::Features,
) {
    // Declared before the device so that it reports after the device is
    // gone: closing it finishes Mesa's pending disk-cache writes.
    let mut report = Report {
        shared,
        taken: 0,
        ok: 0,
    };
    if !shared.needs_help() {
        return;
    }
    let Ok(gpu) = Gpu::open_matching(info, limits, features) else {
        return;
    };
    let mut compiled = Vec::new();
    while let Some(k) = shared.take() {
        report.taken += 1;
        if gpu.kernel(k.spec()).and_then(|h| compile(&gpu, &h)).is_ok() {
            report.ok += 1;
            compiled.push(k);
        }
    }
    drop(gpu);
    for k in compiled {
        k.mark_compiled();
    }
}

/// One dispatch of zero workgroups of `k` on `gpu`, over stand-in buffers:
/// the driver compiles the pipeline and runs nothing. Waits for it.
fn compile(gpu: &Gpu, k: &Kernel) -> Result<(), GpuError> {
    let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let buffers: Vec<wgpu::Buffer> = k
        .bindings()
        .iter()
        .map(|_| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("precompile stand-in"),
                size: STAND_IN_BYTES,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        })
        .collect();
    let resources: Vec<wgpu::BindingResource> =
        buffers.iter().map(|b| b.as_entire_binding()).collect();
    let group = k.bind(gpu, &resources);
    let (_steps, step_group) = gpu.step_buffer(1);
    let mut enc = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("precompile"),
        });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("precompile"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&k.pipeline);
        pass.set_bind_group(0, &group, &[]);
        if k.uses_step {
            pass.set_bind_group(1, &step_group, &[0]);
        }
        pass.dispatch_workgroups(0, 0, 0);
    }
    gpu.queue.submit([enc.finish()]);
    if let Some(err) = pollster::block_on(scope.pop()) {
        return Err(GpuError::Shader {
            name: k.name.to_string(),
            message: err.to_string(),
        });
    }
    gpu.wait()
}
