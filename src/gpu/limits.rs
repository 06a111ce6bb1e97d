//! What a device is asked for, and what each kernel and dispatch needs of it.
//!
//! A device is opened with the WebGPU default limits (wgpu's
//! [`wgpu::Limits::default`]: 128 MiB per storage binding, 16 KiB of
//! workgroup memory, 8 storage buffers per stage, 65,535 workgroups per
//! dimension), raised only where a run needs more: the buffer and binding
//! sizes, up to the adapter's, for large datasets. Every kernel fits the
//! rest. `DAE_LIMITS` changes the request (see [`requested`]).
//!
//! [`Needs::of`] reflects a kernel's shader with naga (its workgroup size
//! and `var<workgroup>` declarations after the pipeline constants are
//! applied, and the storage buffers its layout binds) and [`Needs::check`]
//! holds them to the device's limits when the kernel is built;
//! [`check_grid`] holds a dispatch's workgroup counts to them when a plan
//! records it. Both fail with a [`LimitError`], which a plan names the layer
//! of (see [`super::GpuError::at`]).

use super::kernel::KernelSpec;

/// The limits to request of an adapter with `adapter` limits. `knob` is
/// `DAE_LIMITS`: unset or empty, the WebGPU defaults with the adapter's
/// `max_buffer_size` and `max_storage_buffer_binding_size`; `webgpu`, the
/// WebGPU defaults exactly; `adapter`, everything the adapter allows; any of
/// these followed by comma-separated `name=value` settings of the compute
/// limits (`webgpu,max_compute_workgroup_storage_size=4096`).
pub fn requested(adapter: &wgpu::Limits, knob: Option<&str>) -> Result<wgpu::Limits, String> {
    let defaults = wgpu::Limits::default();
    // An adapter below a default (a downlevel one) gets its own value
    // rather than a request it would refuse.
    let needed = wgpu::Limits {
        max_buffer_size: adapter.max_buffer_size,
        max_storage_buffer_binding_size: adapter.max_storage_buffer_binding_size,
        ..defaults.clone()
    }
    .or_worse_values_from(adapter);
    let mut parts = knob.unwrap_or("").split(',').map(str::trim).peekable();
    let base = parts.next_if(|p| ["webgpu", "adapter"].contains(p));
    let mut limits = match base {
        Some("webgpu") => defaults,
        Some(_) => adapter.clone(),
        None => needed,
    };
    for part in parts.filter(|p| !p.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not `webgpu`, `adapter` or `name=value`"))?;
        let value: u64 = value
            .trim()
            .parse()
            .map_err(|_| format!("{part:?}: the value is not a whole number"))?;
        let small =
            |v: u64| u32::try_from(v).map_err(|_| format!("{part:?}: the value is too large"));
        match name.trim() {
            "max_buffer_size" => limits.max_buffer_size = value,
            "max_storage_buffer_binding_size" => limits.max_storage_buffer_binding_size = value,
            "max_storage_buffers_per_shader_stage" => {
                limits.max_storage_buffers_per_shader_stage = small(value)?
            }
            "max_compute_workgroup_storage_size" => {
                limits.max_compute_workgroup_storage_size = small(value)?
            }
            "max_compute_invocations_per_workgroup" => {
                limits.max_compute_invocations_per_workgroup = small(value)?
            }
            "max_compute_workgroup_size_x" => limits.max_compute_workgroup_size_x = small(value)?,
            "max_compute_workgroup_size_y" => limits.max_compute_workgroup_size_y = small(value)?,
            "max_compute_workgroup_size_z" => limits.max_compute_workgroup_size_z = small(value)?,
            "max_compute_workgroups_per_dimension" => {
                limits.max_compute_workgroups_per_dimension = small(value)?
            }
            other => {
                return Err(format!(
                    "{other:?} is not a limit DAE_LIMITS sets (max_buffer_size, \
                     max_storage_buffer_binding_size, max_storage_buffers_per_shader_stage, \
                     max_compute_workgroup_storage_size, max_compute_invocations_per_workgroup, \
                     max_compute_workgroup_size_x/y/z, max_compute_workgroups_per_dimension)"
                ))
            }
        }
    }
    Ok(limits)
}

/// What one kernel needs of the device, whatever it is dispatched over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// Storage buffers its pipeline layout binds (group 0, and the step
    /// buffer in group 1); every binding of dae's layouts is one.
    pub storage_buffers: u32,
    /// Bind groups of its pipeline layout.
    pub bind_groups: u32,
    /// `@workgroup_size`, after the pipeline constants.
    pub workgroup_size: [u32; 3],
    /// Bytes of the `var<workgroup>` its entry point uses, each rounded up
    /// to 16 bytes as WebGPU counts them.
    pub workgroup_storage: u64,
}

impl Needs {
    /// Reflects `spec`'s shader with naga. Errors are the shader's own
    /// (it does not parse, validate or take the constants).
    pub fn of(spec: &KernelSpec) -> Result<Needs, String> {
        use naga::valid::{Capabilities, ValidationFlags, Validator};
        let module = naga::front::wgsl::parse_str(&spec.source)
            .map_err(|e| e.emit_to_string(&spec.source))?;
        let info = Validator::new(ValidationFlags::all(), Capabilities::all())
            .validate(&module)
            .map_err(|e| format!("{e:?}"))?;
        let constants: naga::back::PipelineConstants = spec
            .constants
            .iter()
            .map(|(n, v)| (n.to_string(), *v))
            .collect();
        let (module, info) = naga::back::pipeline_constants::process_overrides(
            &module,
            &info,
            Some((naga::ShaderStage::Compute, spec.entry)),
            &constants,
        )
        .map_err(|e| format!("pipeline constants: {e}"))?;
        let (index, entry) = module
            .entry_points
            .iter()
            .enumerate()
            .find(|(_, e)| e.name == spec.entry && e.stage == naga::ShaderStage::Compute)
            .ok_or_else(|| format!("no compute entry point {:?}", spec.entry))?;
        let uses = info.get_entry_point(index);
        let workgroup_storage = module
            .global_variables
            .iter()
            .filter(|(h, v)| v.space == naga::AddressSpace::WorkGroup && !uses[*h].is_empty())
            .map(|(_, v)| {
                u64::from(module.types[v.ty].inner.size(module.to_ctx())).next_multiple_of(16)
            })
            .sum();
        Ok(Needs {
            storage_buffers: spec.bindings.len() as u32 + u32::from(spec.uses_step),
            bind_groups: 1 + u32::from(spec.uses_step),
            workgroup_size: entry.workgroup_size,
            workgroup_storage,
        })
    }

    /// Holds the needs of kernel `kernel` to `limits`.
    pub fn check(&self, kernel: &str, limits: &wgpu::Limits) -> Result<(), LimitError> {
        let [x, y, z] = self.workgroup_size.map(u64::from);
        let checks = [
            (
                u64::from(self.storage_buffers),
                "storage buffers in one shader stage",
                "max_storage_buffers_per_shader_stage",
                u64::from(limits.max_storage_buffers_per_shader_stage),
            ),
            (
                u64::from(self.bind_groups),
                "bind groups",
                "max_bind_groups",
                u64::from(limits.max_bind_groups),
            ),
            (
                self.workgroup_storage,
                "bytes of workgroup memory",
                "max_compute_workgroup_storage_size",
                u64::from(limits.max_compute_workgroup_storage_size),
            ),
            (
                x * y * z,
                "invocations per workgroup",
                "max_compute_invocations_per_workgroup",
                u64::from(limits.max_compute_invocations_per_workgroup),
            ),
            (
                x,
                "invocations along x of a workgroup",
                "max_compute_workgroup_size_x",
                u64::from(limits.max_compute_workgroup_size_x),
            ),
            (
                y,
                "invocations along y of a workgroup",
                "max_compute_workgroup_size_y",
                u64::from(limits.max_compute_workgroup_size_y),
            ),
            (
                z,
                "invocations along z of a workgroup",
                "max_compute_workgroup_size_z",
                u64::from(limits.max_compute_workgroup_size_z),
            ),
        ];
        for (needed, need, limit_name, limit) in checks {
            if needed > limit {
                return Err(LimitError::new(kernel, needed, need, limit_name, limit));
            }
        }
        Ok(())
    }
}

/// Holds one dispatch of kernel `kernel` over `workgroups` to `limits`.
pub fn check_grid(
    kernel: &str,
    workgroups: [u32; 3],
    limits: &wgpu::Limits,
) -> Result<(), LimitError> {
    let limit = limits.max_compute_workgroups_per_dimension;
    for (n, axis) in workgroups.into_iter().zip(["x", "y", "z"]) {
        if n > limit {
            let need = match axis {
                "x" => "workgroups along x",
                "y" => "workgroups along y",
                _ => "workgroups along z",
            };
            let name = "max_compute_workgroups_per_dimension";
            return Err(LimitError::new(kernel, n.into(), need, name, limit.into()));
        }
    }
    Ok(())
}

/// A kernel, or one dispatch of it, needs more of a device limit than the
/// device allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitError {
    /// Where in a plan: `layer 2 (dense_1), forward`; `None` until a plan
    /// names it.
    pub site: Option<String>,
    /// The kernel (its shader's name).
    pub kernel: String,
    /// How much it needs, in units of `need`.
    pub needed: u64,
    /// What it needs: `bytes of workgroup memory`.
    pub need: &'static str,
    /// The `wgpu::Limits` field that bounds it.
    pub limit_name: &'static str,
    /// The device's value of that limit.
    pub limit: u64,
}

impl LimitError {
    fn new(
        kernel: &str,
        needed: u64,
        need: &'static str,
        limit_name: &'static str,
        limit: u64,
    ) -> LimitError {
        LimitError {
            site: None,
            kernel: kernel.to_string(),
            needed,
            need,
            limit_name,
            limit,
        }
    }

    /// What to change.
    pub fn fix(&self) -> String {
        let default = default_values()
            .into_iter()
            .find(|(n, _)| *n == self.limit_name)
            .map(|(_, v)| v);
        match default {
            Some(d) if self.limit < d => format!(
                "the device was opened below the WebGPU default of {d} (DAE_LIMITS?): raise {} \
                 to at least {}",
                self.limit_name, self.needed
            ),
            _ if self.limit_name == "max_compute_workgroups_per_dimension" => format!(
                "lower the batch size or the layer's size (units, filters, image size), or use \
                 an adapter with a larger {}",
                self.limit_name
            ),
            Some(d) => format!(
                "dae's kernels fit the WebGPU default of {d} but this one does not: please \
                 report it"
            ),
            None => format!("use an adapter with a larger {}", self.limit_name),
        }
    }
}

/// The WebGPU defaults of the limits kernels and dispatches are held to.
fn default_values() -> [(&'static str, u64); 8] {
    let d = wgpu::Limits::default();
    [
        (
            "max_storage_buffers_per_shader_stage",
            d.max_storage_buffers_per_shader_stage.into(),
        ),
        ("max_bind_groups", d.max_bind_groups.into()),
        (
            "max_compute_workgroup_storage_size",
            d.max_compute_workgroup_storage_size.into(),
        ),
        (
            "max_compute_invocations_per_workgroup",
            d.max_compute_invocations_per_workgroup.into(),
        ),
        (
            "max_compute_workgroup_size_x",
            d.max_compute_workgroup_size_x.into(),
        ),
        (
            "max_compute_workgroup_size_y",
            d.max_compute_workgroup_size_y.into(),
        ),
        (
            "max_compute_workgroup_size_z",
            d.max_compute_workgroup_size_z.into(),
        ),
        (
            "max_compute_workgroups_per_dimension",
            d.max_compute_workgroups_per_dimension.into(),
        ),
    ]
}

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(site) = &self.site {
            write!(f, "{site}: ")?;
        }
        write!(
            f,
            "kernel {} needs {} {} but the device allows {} ({}).\n  fix: {}",
            self.kernel,
            self.needed,
            self.need,
            self.limit,
            self.limit_name,
            self.fix()
        )
    }
}

impl std::error::Error for LimitError {}
