//! Adapter and device selection.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use super::kernel::{Kernel, KernelSpec};
use super::limits::{self, LimitError};
use crate::kernels::choice::Family;
use crate::kernels::matmul::Variant;

/// Errors from setting up or using the GPU, each with the fix in its message.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter on any of the backends tried.
    #[error(
        "no GPU adapter found (backends: {backends}).\n  fix: install a Vulkan, Metal or DX12 driver; on Linux without a GPU install Mesa's \
         CPU Vulkan driver: `sudo apt-get install mesa-vulkan-drivers libvulkan1` (it provides lavapipe/llvmpipe)"
    )]
    NoAdapter {
        /// The backends searched, as wgpu prints them.
        backends: String,
    },
    /// `WGPU_ADAPTER_NAME` names none of the adapters found.
    #[error(
        "WGPU_ADAPTER_NAME={wanted:?} matches no adapter; available: {available}.\n  fix: set WGPU_ADAPTER_NAME to part of one of those names, or unset it"
    )]
    NoMatchingAdapter {
        /// The value of `WGPU_ADAPTER_NAME`.
        wanted: String,
        /// The names of the adapters found.
        available: String,
    },
    /// The adapter refused to open a device with the requested limits
    /// and features.
    #[error("could not open a device on adapter {adapter:?}")]
    Device {
        /// The adapter's name.
        adapter: String,
        /// wgpu's reason.
        source: wgpu::RequestDeviceError,
    },
    /// One buffer would exceed the device's buffer or storage-binding size.
    #[error(
        "{what} needs a buffer of {needed} bytes but adapter {adapter:?} allows at most {limit} bytes per {kind}.\n  fix: lower the batch size or the model width, or use a GPU with larger limits"
    )]
    TooLarge {
        /// The buffer's label (`dense_1 output`).
        what: String,
        /// Its size in bytes.
        needed: u64,
        /// The most the device allows, in bytes.
        limit: u64,
        /// Which limit: `buffer` or `storage binding`.
        kind: &'static str,
        /// The adapter's name.
        adapter: String,
    },
    /// Reading a buffer back to the host (or waiting for the device) failed;
    /// the message is wgpu's.
    #[error("GPU readback failed: {0}")]
    Readback(String),
    /// A WGSL shader failed validation or pipeline creation.
    #[error("shader {name} failed to compile: {message}")]
    Shader {
        /// The kernel's name.
        name: String,
        /// The compiler's diagnostics.
        message: String,
    },
    /// `DAE_KERNELS` is malformed or asks for a family this adapter lacks.
    #[error("{0}")]
    Kernels(String),
    /// A kernel or dispatch needs more of a limit than the device allows.
    #[error("{0}")]
    Limit(Box<LimitError>),
    /// `DAE_LIMITS` is malformed or names a limit the adapter cannot give.
    #[error(
        "DAE_LIMITS={value:?}: {message}.\n  fix: set DAE_LIMITS to `webgpu`, `adapter` and/or \
         comma-separated `name=value` limits, or unset it"
    )]
    BadLimits {
        /// The value of `DAE_LIMITS`.
        value: String,
        /// What is wrong with it.
        message: String,
    },
}

impl GpuError {
    /// Names where in a plan a [`GpuError::Limit`] arose (`layer 2
    /// (dense_1), forward`), unless it already says; other errors pass.
    pub fn at(self, site: impl FnOnce() -> String) -> GpuError {
        match self {
            GpuError::Limit(mut e) if e.site.is_none() => {
                e.site = Some(site());
                GpuError::Limit(e)
            }
            other => other,
        }
    }
}

impl From<LimitError> for GpuError {
    fn from(e: LimitError) -> GpuError {
        GpuError::Limit(Box::new(e))
    }
}

/// How a device's limits and features are chosen.
enum Request {
    /// `DAE_LIMITS` (see [`limits::requested`]) and subgroups where the
    /// adapter has them.
    Env,
    /// These limits, and these features where the adapter has them.
    Exactly(Box<wgpu::Limits>, wgpu::Features),
}

/// The device, its queue, what the adapter is and the pipeline cache.
pub struct Gpu {
    /// The open device: creates buffers, pipelines and bind groups.
    pub device: wgpu::Device,
    /// The device's queue: takes writes and command submissions.
    pub queue: wgpu::Queue,
    /// The adapter's name, backend, driver and device type.
    pub info: wgpu::AdapterInfo,
    /// The device's limits: what was requested (see [`limits::requested`]),
    /// and what kernels, dispatches and buffers are held to.
    pub limits: wgpu::Limits,
    /// What the adapter would have allowed.
    pub adapter_limits: wgpu::Limits,
    /// The features the device was opened with (subgroups, timestamp queries
    /// where the adapter has them).
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
    /// Whether an upsampled convolution runs in sub-pixel form; see
    /// [`Gpu::set_subpixel`].
    pub(super) subpixel: std::sync::atomic::AtomicBool,
    /// Every pass key a launcher asked [`Variant::choose`] about.
    pub(super) asked: Mutex<std::collections::BTreeSet<String>>,
}

impl Gpu {
    /// Picks an adapter honouring `WGPU_BACKEND` (vulkan, metal, dx12, gl),
    /// `WGPU_ADAPTER_NAME` (a case-insensitive substring of the adapter name)
    /// and `WGPU_POWER_PREF` (low, high, none; default high), then opens a
    /// device with the WebGPU default limits, raised to the adapter's for
    /// buffer and binding sizes so large datasets fit; `DAE_LIMITS` changes
    /// that (see [`limits::requested`]).
    pub fn new() -> Result<Gpu, GpuError> {
        quiet_device_select();
        pollster::block_on(Self::new_async(Request::Env))
    }

    /// The adapter [`Gpu::new`] picks, opened with exactly `limits` (which
    /// it must allow) and those of `features` it has: a smaller device than
    /// the adapter, for tests and for checking a model against one.
    pub fn with_limits(limits: wgpu::Limits, features: wgpu::Features) -> Result<Gpu, GpuError> {
        quiet_device_select();
        pollster::block_on(Self::new_async(Request::Exactly(
            Box::new(limits),
            features,
        )))
    }

    async fn new_async(request: Request) -> Result<Gpu, GpuError> {
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
        Self::open(adapter, request).await
    }

    /// A second device on this one's adapter, opened the same way; see
    /// [`Gpu::open_matching`].
    pub fn open_like(&self) -> Result<Gpu, GpuError> {
        Self::open_matching(&self.info, &self.limits, self.features)
    }

    /// A device on the adapter `info` describes (same backend, name, vendor,
    /// device and driver), opened with `limits` and `features` (another
    /// device's) and the same step layout, so the same [`KernelSpec`] builds
    /// the same pipeline. For [`Gpu::precompile`]'s helper threads.
    pub fn open_matching(
        want: &wgpu::AdapterInfo,
        limits: &wgpu::Limits,
        features: wgpu::Features,
    ) -> Result<Gpu, GpuError> {
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
        pollster::block_on(Self::open(
            adapter,
            Request::Exactly(Box::new(limits.clone()), features),
        ))
    }

    /// Opens a device with the limits `request` chooses and the optional
    /// features dae uses (subgroups, for the register-blocked kernels) where
    /// the adapter has them.
    async fn open(adapter: wgpu::Adapter, request: Request) -> Result<Gpu, GpuError> {
        let info = adapter.get_info();
        let family = Family::from_env().map_err(GpuError::Kernels)?;
        let subpixel = crate::kernels::choice::subpixel_from_env().map_err(GpuError::Kernels)?;
        let adapter_limits = adapter.limits();
        let (limits, wanted_features) = match request {
            Request::Env => {
                let knob = std::env::var("DAE_LIMITS").ok();
                let limits =
                    limits::requested(&adapter_limits, knob.as_deref()).map_err(|message| {
                        GpuError::BadLimits {
                            value: knob.clone().unwrap_or_default(),
                            message,
                        }
                    })?;
                (
                    limits,
                    wgpu::Features::SUBGROUP
                        | wgpu::Features::TIMESTAMP_QUERY
                        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES,
                )
            }
            Request::Exactly(limits, features) => (*limits, features),
        };
        let features = adapter.features() & wanted_features;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("dae device"),
                required_features: features,
                required_limits: limits,
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|source| GpuError::Device {
                adapter: info.name.clone(),
                source,
            })?;
        let limits = device.limits();
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
            adapter_limits,
            features,
            kernels: Mutex::new(HashMap::new()),
            step_layout,
            compile_threads: AtomicUsize::new(super::precompile::default_threads()),
            family,
            tuned: Mutex::new(HashMap::new()),
            autotune: std::sync::atomic::AtomicBool::new(false),
            subpixel: std::sync::atomic::AtomicBool::new(subpixel),
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

    /// True when the device was opened with subgroup operations, which the
    /// subgroup kernel variants need.
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
