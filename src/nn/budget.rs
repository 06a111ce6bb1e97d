//! What a training run will allocate, checked before anything is.
//!
//! [`check`] lists every large buffer a run allocates (mirroring
//! `train::plan::GpuModel::new`, `train::plan::Buffers::new`,
//! `train::plan::StepPlan::build`, `data::gpu::GpuDataset::upload` and the
//! step buffer of `train::Trainer::new`) as one table of (what, bytes)
//! entries, computed in u64 with checked arithmetic, then holds each entry to
//! the adapter's limits and the total to the host's free memory. Kernels'
//! own small scratch (BatchNorm and conv partial sums) is left out: it is
//! chosen per adapter, and `Gpu::zeros` still checks it when it is created.

mod table;

use super::params::ParamLayout;
use super::{ModelSpec, Resolved, MAX_TENSOR_WORDS};
use crate::gpu::Gpu;
use table::Table;

/// The most one storage buffer may hold in bytes so that its 32-bit words
/// (or, for packed u8 data, its bytes) have u32 indices: see
/// [`MAX_TENSOR_WORDS`].
pub const MAX_INDEXED_BYTES: u64 = MAX_TENSOR_WORDS * 4;

/// What the run may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The adapter's `max_buffer_size`.
    pub max_buffer_size: u64,
    /// The adapter's `max_storage_buffer_binding_size`.
    pub max_storage_binding: u64,
    /// Free host memory (MemAvailable on Linux); `None`: unknown, unchecked.
    pub host_memory: Option<u64>,
    /// The device's buffers live in host memory (a CPU adapter such as
    /// lavapipe, or an integrated GPU), so they count against `host_memory`.
    pub unified_memory: bool,
}

impl Limits {
    /// The adapter's buffer limits and `host` bytes of free host memory
    /// (device memory separate from it).
    pub fn from_adapter(limits: &wgpu::Limits, host: Option<u64>) -> Limits {
        Limits {
            max_buffer_size: limits.max_buffer_size,
            max_storage_binding: limits.max_storage_buffer_binding_size,
            host_memory: host,
            unified_memory: false,
        }
    }

    /// The limits of an open device and the host's free memory now.
    pub fn for_gpu(gpu: &Gpu) -> Limits {
        Limits {
            unified_memory: matches!(
                gpu.info.device_type,
                wgpu::DeviceType::Cpu | wgpu::DeviceType::IntegratedGpu
            ),
            ..Limits::from_adapter(&gpu.limits, host_available_memory())
        }
    }
}

/// Free host memory in bytes: `MemAvailable` of /proc/meminfo on Linux,
/// `None` elsewhere or if it cannot be read.
pub fn host_available_memory() -> Option<u64> {
    if cfg!(target_os = "linux") {
        mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
    } else {
        None
    }
}

/// The `MemAvailable:` line of a /proc/meminfo text, in bytes.
pub fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut parts = line["MemAvailable:".len()..].split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => n.checked_mul(1024),
        None => Some(n),
        Some(_) => None,
    }
}

/// Where an entry lives and which limits hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A GPU buffer bound whole as storage: the binding, buffer and 32-bit
    /// index limits.
    Storage,
    /// A GPU buffer only ever bound in small windows (the step slots): the
    /// buffer limit.
    Buffer,
    /// Host memory.
    Host,
}

/// One allocation of the run.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The buffer's label, as the GPU debugger shows it (`dense_1 output`).
    pub what: String,
    /// How its size arises (`256 × 512 f32`).
    pub detail: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Where it lives, and so which limits hold it.
    pub place: Place,
    /// What to change when it does not fit.
    pub fix: String,
}

/// The run's allocations, all of which fit.
#[derive(Clone, Debug)]
pub struct Budget {
    /// Every allocation of the run, GPU and host.
    pub entries: Vec<Entry>,
    /// Sum over the GPU buffers.
    pub gpu_bytes: u64,
    /// Host memory needed: host copies, plus the GPU buffers on a
    /// unified-memory adapter.
    pub host_bytes: u64,
}

impl Budget {
    /// The largest GPU buffer.
    pub fn largest(&self) -> Option<&Entry> {
        self.entries
            .iter()
            .filter(|e| e.place != Place::Host)
            .max_by_key(|e| e.bytes)
    }

    /// One line for a run's log: `GPU 61.2 MiB in 31 buffers (largest:
    /// train images, 44.9 MiB); host 12.0 MiB`.
    pub fn summary(&self) -> String {
        let n = self
            .entries
            .iter()
            .filter(|e| e.place != Place::Host)
            .count();
        let largest = self
            .largest()
            .map(|e| format!(" (largest: {}, {})", e.what, human(e.bytes)))
            .unwrap_or_default();
        format!(
            "GPU {} in {n} buffers{largest}; host {}",
            human(self.gpu_bytes),
            human(self.host_bytes)
        )
    }
}

/// Bytes as `12.3 MiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Every large buffer of a training (or evaluation) run of `spec`, checked
/// against `limits` before anything is allocated.
///
/// `resolved` is `spec.resolve(..)`'s result; `batch` the batch size;
/// `train_images` and `test_images` the dataset's image counts
/// (`spec.train_limit` is applied here, as `GpuDataset::upload` does);
/// `features` the values per image. Errors name the buffer (and with it the
/// layer), the bytes it needs, the limit it exceeds and the fix.
pub fn check(
    spec: &ModelSpec,
    resolved: &Resolved,
    batch: usize,
    train_images: usize,
    test_images: usize,
    features: usize,
    limits: &Limits,
) -> Result<Budget, String> {
    check_data(
        spec,
        resolved,
        batch,
        (train_images, test_images),
        features,
        false,
        limits,
    )
}

/// [`check`] for a dataset whose images are u8 or, where `float_images`,
/// f32 (four bytes a value); `images` is (train, test) image counts.
pub fn check_data(
    spec: &ModelSpec,
    resolved: &Resolved,
    batch: usize,
    (train_images, test_images): (usize, usize),
    features: usize,
    float_images: bool,
    limits: &Limits,
) -> Result<Budget, String> {
    if batch == 0 {
        return Err("the batch size must be at least 1".into());
    }
    if resolved.outputs.len() != spec.layers.len() {
        return Err(format!(
            "model {}: its resolution has {} layers, the spec {}",
            spec.name,
            resolved.outputs.len(),
            spec.layers.len()
        ));
    }
    if features != spec.input.size() {
        return Err(format!(
            "model {} takes {} inputs but the dataset's images have {features} values",
            spec.name,
            spec.input.size()
        ));
    }
    let layout = ParamLayout::try_new(spec, resolved)?;
    let n_train = train_images.min(spec.train_limit.unwrap_or(usize::MAX));
    let t = Table::build(
        spec,
        resolved,
        &layout,
        batch,
        n_train,
        test_images,
        float_images,
    )?;
    t.check(limits)
}
