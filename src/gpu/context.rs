//! Adapter and device selection.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use super::kernel::{Kernel, KernelSpec};
use crate::kernels::choice::Family;
use crate::kernels::matmul::Variant;

/// Errors from setting up or using the GPU, each with the fix in its message.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error(
        "no GPU adapter found (backends: {backends}).\n  fix: install a Vulkan, Metal or DX12 driver; on Linux without a GPU install Mesa's \
         CPU Vulkan driver: `sudo apt-get install mesa-vulkan-drivers libvulkan1` (it provides lavapipe/llvmpipe)"
    )]
    NoAdapter { backends: String },
    #[error(
        "WGPU_ADAPTER_NAME={wanted:?} matches no adapter; available: {available}.\n  fix: set WGPU_ADAPTER_NAME to part of one of those names, or unset it"
    )]
    NoMatchingAdapter { wanted: String, available: String },
    #[error("could not open a device on adapter {adapter:?}")]
    Device {
        adapter: String,
        source: wgpu::RequestDeviceError,
    },
    #[error(
        "{what} needs a buffer of {needed} bytes but adapter {adapter:?} allows at most {limit} bytes per {kind}.\n  fix: lower the batch size or the model width, or use a GPU with larger limits"
    )]
    TooLarge {
        what: String,
        needed: u64,
        limit: u64,
        kind: &'static str,
        adapter: String,
    },
    #[error("GPU readback failed: {0}")]
    Readback(String),
    #[error("shader {name} failed to compile: {message}")]
    Shader { name: String, message: String },
    /// `DAE_KERNELS` is malformed or asks for a family this adapter lacks.
    #[error("{0}")]
    Kernels(String),
}

/// The device, its queue, what the adapter is and the pipeline cache.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    pub(super) kernels: Mutex<HashMap<String, Arc<Kernel>>>,
    pub(super) step_layout: wgpu::BindGroupLayout,
    /// Threads [`Gpu::precompile`] uses; see [`Gpu::set_compile_threads`].
    pub(super) compile_threads: AtomicUsize,
    /// `DAE_KERNELS`, read when the device opened.
    pub(super) family: Family,
    /// Tuned variants by [`Op::key`](crate::kernels::choice::Op::key).
    pub(super) tuned: Mutex<HashMap<String, Variant>>,
    /// Whether building a training plan first tunes its passes; see
    /// [`Gpu::set_autotune`].
    pub(super) autotune: std::sync::atomic::AtomicBool,
    /// Every pass key a launcher asked [`Variant::choose`] about.
    pub(super) asked: Mutex<std::collections::BTreeSet<String>>,
}

impl Gpu {
    /// Picks an adapter honouring `WGPU_BACKEND` (vulkan, metal, dx12, gl),
    /// `WGPU_ADAPTER_NAME` (a case-insensitive substring of the adapter name)
    /// and `WGPU_POWER_PREF` (low, high, none; default high), then opens a
    /// device with the adapter's own limits so large datasets fit.
    pub fn new() -> Result<Gpu, GpuError> {
        quiet_device_select();
        pollster::block_on(Self::new_async())
    }

    async fn new_async() -> Result<Gpu, GpuError> {
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let instance = instance(backends);
        let adapter = match std::env::var("WGPU_ADAPTER_NAME") {
            Ok(wanted) if !wanted.is_empty() => {
                let adapters = instance.enumerate_adapters(backends).await;
                let needle = wanted.to_lowercase();
                let names: Vec<String> = adapters
                    .iter()
                    .map(|a| {
                        let i = a.get_info();
                        format!("{} ({:?})", i.name, i.backend)
                    })
                    .collect();
                match adapters
                    .into_iter()
                    .find(|a| a.get_info().name.to_lowercase().contains(&needle))
                {
                    Some(a) => a,
                    None if names.is_empty() => {
                        return Err(GpuError::NoAdapter {
                            backends: format!("{backends:?}"),
                        })
                    }
                    None => {
                        return Err(GpuError::NoMatchingAdapter {
                            wanted,
                            available: names.join(", "),
                        })
                    }
                }
            }
            _ => instance
                .request_adapter(&wgpu::RequestAdapterOptions {
                    power_preference: wgpu::PowerPreference::from_env()
                        .unwrap_or(wgpu::PowerPreference::HighPerformance),
                    force_fallback_adapter: false,
                    compatible_surface: None,
                    apply_limit_buckets: false,
                })
                .await
                .map_err(|_| GpuError::NoAdapter {
                    backends: format!("{backends:?}"),
                })?,
        };
        Self::open(adapter).await
    }

    /// A second device on this one's adapter, opened the same way; see
    /// [`Gpu::open_matching`].
    pub fn open_like(&self) -> Result<Gpu, GpuError> {
        Self::open_matching(&self.info)
    }

    /// A device on the adapter `info` describes (same backend, name, vendor,
    /// device and driver), opened as [`Gpu::new`] opens one: same features,
    /// limits and step layout, so the same [`KernelSpec`] builds the same
    /// pipeline. For [`Gpu::precompile`]'s helper threads.
    pub fn open_matching(want: &wgpu::AdapterInfo) -> Result<Gpu, GpuError> {
        quiet_device_select();
        let instance = instance(wgpu::Backends::from(want.backend));
        let adapters = pollster::block_on(instance.enumerate_adapters(want.backend.into()));
        let same = |i: &wgpu::AdapterInfo| {
            (
                &i.name,
                i.vendor,
                i.device,
                &i.driver,
                &i.driver_info,
                i.device_type,
            ) == (
                &want.name,
                want.vendor,
                want.device,
                &want.driver,
                &want.driver_info,
                want.device_type,
            )
        };
        let adapter = adapters
            .into_iter()
            .find(|a| same(&a.get_info()))
            .ok_or_else(|| GpuError::NoMatchingAdapter {
                wanted: want.name.clone(),
                available: "none with the same driver".into(),
            })?;
        pollster::block_on(Self::open(adapter))
    }

    /// Opens a device with the adapter's own limits so large datasets fit,
    /// and the optional features dae uses where the adapter has them.
    async fn open(adapter: wgpu::Adapter) -> Result<Gpu, GpuError> {
        let info = adapter.get_info();
        let family = Family::from_env().map_err(GpuError::Kernels)?;
        let wanted_features = wgpu::Features::SUBGROUP
            | wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        let features = adapter.features() & wanted_features;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("dae device"),
                required_features: features,
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|source| GpuError::Device {
                adapter: info.name.clone(),
                source,
            })?;
        let step_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("step uniform layout"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                // Storage, not uniform: see `Binding::Uniform` on lavapipe.
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage { read_only: true },
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(
                        std::mem::size_of::<super::StepInfo>() as u64
                    ),
                },
                count: None,
            }],
        });
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            features,
            kernels: Mutex::new(HashMap::new()),
            step_layout,
            compile_threads: AtomicUsize::new(super::precompile::default_threads()),
            family,
            tuned: Mutex::new(HashMap::new()),
            autotune: std::sync::atomic::AtomicBool::new(false),
            asked: Mutex::new(Default::default()),
        })
        .and_then(|gpu| {
            if family == Family::Subgroup && !Variant::Subgroup.supported(&gpu) {
                return Err(GpuError::Kernels(format!(
                    "DAE_KERNELS=subgroup, but adapter {:?} has no subgroups of exactly 4, 8 or 16 lanes (it reports {}..{}).\n  fix: set DAE_KERNELS=auto or tiled",
                    gpu.info.name, gpu.info.subgroup_min_size, gpu.info.subgroup_max_size
                )));
            }
            Ok(gpu)
        })
    }

    /// True on CPU implementations (lavapipe, WARP, SwiftShader), where
    /// register-blocked kernels without workgroup memory are fastest.
    pub fn is_cpu(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

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

    pub fn autotune(&self) -> bool {
        self.autotune.load(std::sync::atomic::Ordering::Relaxed)
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

    pub fn has_subgroups(&self) -> bool {
        self.features.contains(wgpu::Features::SUBGROUP)
    }

    /// Fails with a clear message when one buffer of `bytes` cannot exist.
    pub fn check_size(&self, what: &str, bytes: u64) -> Result<(), GpuError> {
        let binding = self.limits.max_storage_buffer_binding_size;
        if bytes > binding {
            return Err(GpuError::TooLarge {
                what: what.to_string(),
                needed: bytes,
                limit: binding,
                kind: "storage binding",
                adapter: self.info.name.clone(),
            });
        }
        if bytes > self.limits.max_buffer_size {
            return Err(GpuError::TooLarge {
                what: what.to_string(),
                needed: bytes,
                limit: self.limits.max_buffer_size,
                kind: "buffer",
                adapter: self.info.name.clone(),
            });
        }
        Ok(())
    }

    /// Returns the compiled kernel for `spec`, building it on first use.
    pub fn kernel(&self, spec: &KernelSpec) -> Result<Arc<Kernel>, GpuError> {
        let key = spec.cache_key();
        if let Some(k) = self
            .kernels
            .lock()
            .expect("kernel cache poisoned")
            .get(&key)
        {
            return Ok(k.clone());
        }
        let k = Arc::new(Kernel::build(self, spec)?);
        // Another thread may have built the same kernel meanwhile: keep the
        // first, so one pipeline serves both (and is compiled once).
        Ok(self
            .kernels
            .lock()
            .expect("kernel cache poisoned")
            .entry(key)
            .or_insert(k)
            .clone())
    }

    /// Blocks until all submitted work is done.
    pub fn wait(&self) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| GpuError::Readback(e.to_string()))
    }

    /// A multi-line description for `dae info`.
    pub fn describe(&self) -> String {
        let i = &self.info;
        let l = &self.limits;
        let kind = match i.device_type {
            wgpu::DeviceType::Cpu => "CPU (software rasteriser)",
            wgpu::DeviceType::DiscreteGpu => "GPU (discrete)",
            wgpu::DeviceType::IntegratedGpu => "GPU (integrated)",
            wgpu::DeviceType::VirtualGpu => "GPU (virtual)",
            wgpu::DeviceType::Other => "other",
        };
        let variant = format!(
            "{}{}",
            match Variant::untuned(self) {
                Variant::Subgroup => format!(
                    "register-blocked with {}-lane subgroup broadcasts (CPU driver)",
                    i.subgroup_min_size
                ),
                Variant::Tiled => "workgroup-memory tiles (GPU)".to_string(),
            },
            match self.family {
                Family::Auto => "",
                _ => ", forced by DAE_KERNELS",
            }
        );
        let yes = |b: bool| if b { "yes" } else { "no" };
        format!(
            "adapter:        {}\nbackend:        {:?}\ndevice type:    {}\ndriver:         {} ({})\nvendor/device:  {:#06x}/{:#06x}\n\
             kernel variant: {}\nsubgroups:      {} (sizes {}..{})\ntimestamps:     {}\npipelines:      {}\n\
             limits:\n  max_storage_buffer_binding_size: {} MiB\n  max_buffer_size:                 {} MiB\n  \
             max_compute_workgroup_size_x:    {}\n  max_compute_invocations_per_workgroup: {}\n  \
             max_compute_workgroups_per_dimension: {}\n  max_compute_workgroup_storage_size: {} KiB\n  \
             max_storage_buffers_per_shader_stage: {}\n  min_uniform_buffer_offset_alignment: {}",
            i.name,
            i.backend,
            kind,
            i.driver,
            i.driver_info,
            i.vendor,
            i.device,
            variant,
            yes(self.has_subgroups()),
            i.subgroup_min_size,
            i.subgroup_max_size,
            yes(self.features.contains(wgpu::Features::TIMESTAMP_QUERY)),
            self.describe_compiling(),
            l.max_storage_buffer_binding_size / (1 << 20),
            l.max_buffer_size / (1 << 20),
            l.max_compute_workgroup_size_x,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroups_per_dimension,
            l.max_compute_workgroup_storage_size / 1024,
            l.max_storage_buffers_per_shader_stage,
            l.min_uniform_buffer_offset_alignment,
        )
    }
}

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

/// Mesa's implicit `VK_LAYER_MESA_device_select` layer orders GPUs by the
/// display they drive: it connects to Wayland (and X11) while devices are
/// enumerated, and on a headless machine libwayland prints
/// `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` twice,
/// which users read as dae's own error. A compute-only instance has no
/// display and picks its adapter itself, so the layer is switched off with
/// its own variable — unless the user set it or asked the layer for a
/// device (`MESA_VK_DEVICE_SELECT`). Driver and validation messages are
/// untouched.
fn quiet_device_select() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let user_chose = ["NODEVICE_SELECT", "MESA_VK_DEVICE_SELECT"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        if !user_chose {
            // Before the Vulkan loader starts (it reads the variable when
            // the layer loads), on the thread that opens the GPU.
            std::env::set_var("NODEVICE_SELECT", "1");
        }
    });
}
