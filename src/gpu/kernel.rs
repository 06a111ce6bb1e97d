//! Compute pipelines with explicit layouts, and pre-built dispatch records.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::limits::{check_grid, Needs};
use super::{Gpu, GpuError, StepInfo, STEP_STRIDE};

/// How a shader declares one binding of group 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binding {
    /// `var<storage, read>`
    ReadOnly,
    /// `var<storage, read_write>`
    ReadWrite,
    /// `var<uniform>`
    Uniform,
}

/// What to compile: a WGSL source, its entry point, the layout of group 0,
/// whether group 1 holds the step uniform, and pipeline-overridable constants
/// (`override NAME: T;`) that specialise one source into variants.
#[derive(Clone, Debug)]
pub struct KernelSpec {
    /// The kernel's name, used as its label and in errors (`matmul_forward`).
    pub name: &'static str,
    /// The WGSL source: a shader file's text, or generated.
    pub source: Cow<'static, str>,
    /// The entry point (`main` unless set with [`KernelSpec::entry`]).
    pub entry: &'static str,
    /// Group 0's bindings, in declaration order.
    pub bindings: Vec<Binding>,
    /// Group 1 binds the step buffer's [`StepInfo`] at a dynamic offset.
    pub uses_step: bool,
    /// Values of the shader's `override` constants, by name.
    pub constants: Vec<(&'static str, f64)>,
}

impl KernelSpec {
    /// A kernel of entry point `main`, without the step uniform or constants.
    pub fn new(name: &'static str, source: &'static str, bindings: &[Binding]) -> KernelSpec {
        KernelSpec {
            name,
            source: Cow::Borrowed(source),
            entry: "main",
            bindings: bindings.to_vec(),
            uses_step: false,
            constants: Vec::new(),
        }
    }

    /// Compiles entry point `entry` instead of `main`.
    pub fn entry(mut self, entry: &'static str) -> Self {
        self.entry = entry;
        self
    }

    /// Binds the step uniform as group 1 (see [`KernelSpec::uses_step`]).
    pub fn with_step(mut self) -> Self {
        self.uses_step = true;
        self
    }

    /// Sets the `override` constant `name` to `value`.
    pub fn constant(mut self, name: &'static str, value: f64) -> Self {
        self.constants.push((name, value));
        self
    }

    pub(super) fn cache_key(&self) -> String {
        let mut key = format!("{}:{}", self.name, self.entry);
        for (n, v) in &self.constants {
            key.push_str(&format!(":{n}={v}"));
        }
        if let Cow::Owned(src) = &self.source {
            // Generated sources are keyed by content so variants never collide.
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            src.hash(&mut h);
            key.push_str(&format!(":src{:x}", h.finish()));
        }
        key
    }
}

/// A compiled compute pipeline and the layout of its group 0.
pub struct Kernel {
    /// The name of the spec it was built from.
    pub name: &'static str,
    /// The compiled compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// The explicit layout of group 0, built from the spec's bindings.
    pub layout: wgpu::BindGroupLayout,
    /// Group 1 takes the step uniform (see [`KernelSpec::uses_step`]).
    pub uses_step: bool,
    bindings: Vec<Binding>,
    spec: KernelSpec,
    needs: Needs,
    /// Set once the driver has compiled the pipeline (see
    /// [`Gpu::precompile`]), so a later plan does not compile it again.
    compiled: AtomicBool,
}

impl Kernel {
    /// Builds the pipeline once the shader's needs (see [`Needs::of`]) are
    /// known to fit the device's limits: a kernel that does not fit fails
    /// here, naming what it needs and the limit, not in the driver.
    pub(super) fn build(gpu: &Gpu, spec: &KernelSpec) -> Result<Kernel, GpuError> {
        let needs = Needs::of(spec).map_err(|message| GpuError::Shader {
            name: spec.name.to_string(),
            message,
        })?;
        needs.check(spec.name, &gpu.limits)?;
        let device = &gpu.device;
        let entries: Vec<wgpu::BindGroupLayoutEntry> = spec
            .bindings
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match b {
                        Binding::ReadOnly => wgpu::BufferBindingType::Storage { read_only: true },
                        Binding::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                        // Params are read from a storage buffer: Mesa's
                        // lavapipe specialises a shader on the values of its
                        // first uniform buffer and recompiles it (with LLVM,
                        // leaking the old code) whenever they change, which
                        // happens at every dispatch that reuses a pipeline.
                        Binding::Uniform => wgpu::BufferBindingType::Storage { read_only: true },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(spec.name),
            entries: &entries,
        });
        let groups: Vec<Option<&wgpu::BindGroupLayout>> = if spec.uses_step {
            vec![Some(&layout), Some(&gpu.step_layout)]
        } else {
            vec![Some(&layout)]
        };
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(spec.name),
            bind_group_layouts: &groups,
            immediate_size: 0,
        });
        // Validation errors surface through an error scope so a bad shader
        // names itself instead of aborting the process.
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(spec.name),
            source: wgpu::ShaderSource::Wgsl(spec.source.clone()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(spec.name),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(spec.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &spec.constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        if let Some(err) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Shader {
                name: spec.name.to_string(),
                message: err.to_string(),
            });
        }
        Ok(Kernel {
            name: spec.name,
            pipeline,
            layout,
            uses_step: spec.uses_step,
            bindings: spec.bindings.clone(),
            spec: spec.clone(),
            needs,
            compiled: AtomicBool::new(false),
        })
    }

    /// What the kernel was built from.
    pub fn spec(&self) -> &KernelSpec {
        &self.spec
    }

    /// What it needs of the device (checked when it was built).
    pub fn needs(&self) -> Needs {
        self.needs
    }

    /// Group 0's bindings, in declaration order.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// Whether [`Gpu::precompile`] has had the driver compile it.
    pub fn is_compiled(&self) -> bool {
        self.compiled.load(Ordering::Acquire)
    }

    pub(super) fn mark_compiled(&self) {
        self.compiled.store(true, Ordering::Release);
    }

    /// Binds buffers to group 0 in declaration order.
    pub fn bind(&self, gpu: &Gpu, resources: &[wgpu::BindingResource]) -> wgpu::BindGroup {
        assert_eq!(
            resources.len(),
            self.bindings.len(),
            "kernel {} takes {} bindings",
            self.name,
            self.bindings.len()
        );
        let entries: Vec<wgpu::BindGroupEntry> = resources
            .iter()
            .enumerate()
            .map(|(i, r)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: r.clone(),
            })
            .collect();
        gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(self.name),
            layout: &self.layout,
            entries: &entries,
        })
    }
}

/// One pre-built dispatch: a pipeline, its bound buffers and its grid. The
/// uniform params buffer it binds is kept alive here.
pub struct Dispatch {
    /// The pipeline to run.
    pub kernel: Arc<Kernel>,
    /// Group 0: its buffers, in declaration order.
    pub group: wgpu::BindGroup,
    /// Workgroup counts along x, y and z.
    pub workgroups: [u32; 3],
    /// The uniform params buffer bound in `group`, if any, kept alive here.
    pub params: Option<wgpu::Buffer>,
}

impl Dispatch {
    /// Holds its workgroup counts to the device's
    /// `max_compute_workgroups_per_dimension` (see [`check_grid`]).
    pub fn check(&self, gpu: &Gpu) -> Result<(), GpuError> {
        Ok(check_grid(self.kernel.name, self.workgroups, &gpu.limits)?)
    }

    /// Records the dispatch into `pass`; `step` is the step buffer's bind group
    /// and the byte offset of this step's slot, required if the kernel
    /// [uses the step uniform](Kernel::uses_step).
    ///
    /// # Panics
    /// If the kernel uses the step uniform and `step` is `None`.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, step: Option<(&wgpu::BindGroup, u32)>) {
        pass.set_pipeline(&self.kernel.pipeline);
        pass.set_bind_group(0, &self.group, &[]);
        if self.kernel.uses_step {
            let (group, offset) = step.expect("kernel reads the step uniform but none was given");
            pass.set_bind_group(1, group, &[offset]);
        }
        let [x, y, z] = self.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }
}

/// An ordered list of dispatches, recorded into one compute pass.
#[derive(Default)]
pub struct Program {
    /// The dispatches, in the order they run.
    pub dispatches: Vec<Dispatch>,
}

impl Program {
    /// Appends one dispatch.
    pub fn push(&mut self, d: Dispatch) {
        self.dispatches.push(d);
    }

    /// Appends every dispatch of `other`, in order.
    pub fn extend(&mut self, other: Program) {
        self.dispatches.extend(other.dispatches);
    }

    /// The distinct kernels of `programs`, each once, in order of first use.
    pub fn kernels(programs: &[&Program]) -> Vec<Arc<Kernel>> {
        let mut seen = std::collections::HashSet::new();
        programs
            .iter()
            .flat_map(|p| &p.dispatches)
            .filter(|d| seen.insert(Arc::as_ptr(&d.kernel)))
            .map(|d| d.kernel.clone())
            .collect()
    }

    /// Records every dispatch into `pass` in order, each with the same `step`
    /// (see [`Dispatch::record`]).
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, step: Option<(&wgpu::BindGroup, u32)>) {
        for d in &self.dispatches {
            d.record(pass, step);
        }
    }

    /// Runs the program once with the given step record and waits; for tests,
    /// benchmarks and one-off work outside the training loop.
    pub fn run(&self, gpu: &Gpu, step: &StepInfo) -> Result<(), GpuError> {
        let (buffer, group) = gpu.step_buffer(1);
        gpu.write_steps(&buffer, std::slice::from_ref(step));
        let mut enc = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("program"),
            });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("program"),
                timestamp_writes: None,
            });
            self.record(&mut pass, Some((&group, 0)));
        }
        gpu.queue.submit([enc.finish()]);
        gpu.wait()
    }
}

/// Byte offset of step slot `i` in the step buffer.
pub fn step_offset(i: usize) -> u32 {
    (i as u64 * STEP_STRIDE) as u32
}
