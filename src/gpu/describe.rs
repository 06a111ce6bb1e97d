//! `dae info`: the adapter, the device opened on it and its limits.

use super::Gpu;
use crate::kernels::choice::Family;
use crate::kernels::matmul::Variant;

impl Gpu {
    /// A multi-line description for `dae info`: the adapter, the kernel
    /// variant, the features, and the device's limits (what was requested),
    /// each with the adapter's own value where it allows more.
    pub fn describe(&self) -> String {
        let i = &self.info;
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
                // Only the tuner picks these, per pass (shown with the tuned choices).
                v @ (Variant::Tiled64 | Variant::Tiled128x64) => v.name().to_string(),
            },
            match self.kernel_family() {
                Family::Auto => "",
                _ => ", forced by DAE_KERNELS",
            }
        );
        let timestamps = if self
            .features
            .contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
        {
            "yes (also inside passes)"
        } else if self.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            "yes"
        } else {
            "no"
        };
        let yes = |b: bool| if b { "yes" } else { "no" };
        format!(
            "adapter:        {}\nbackend:        {:?}\ndevice type:    {}\ndriver:         {} ({})\nvendor/device:  {:#06x}/{:#06x}\n\
             kernel variant: {}\nsubgroups:      {} (sizes {}..{})\ntimestamps:     {}\npipelines:      {}\n\
             limits (requested; the adapter's own in brackets where it allows more; DAE_LIMITS changes them):\n{}",
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
            timestamps,
            self.describe_compiling(),
            self.describe_limits(),
        ) + &self.driver_note().map_or(String::new(), |n| format!("\nnote:           {n}"))
    }

    /// Advice when the adapter is lavapipe from a Mesa release before 25,
    /// whose storage-buffer loads cost dae's kernels most of their time:
    /// the same CPU runs them faster with a newer Mesa.
    pub fn driver_note(&self) -> Option<String> {
        if self.info.device_type != wgpu::DeviceType::Cpu || !self.info.name.contains("llvmpipe") {
            return None;
        }
        let (major, minor) = mesa_release(&self.info.driver_info)?;
        (major < 25).then(|| {
            format!(
                "lavapipe from Mesa {major}.{minor}; Mesa 25's lavapipe trains dae's presets \
                 1.0-1.6x faster (1.35x typical) on the same CPU (Debian 12: apt-get install -t \
                 bookworm-backports mesa-vulkan-drivers; README, \"Choosing an adapter\")"
            )
        })
    }

    /// One line per limit that dae's kernels, dispatches and buffers are
    /// held to.
    fn describe_limits(&self) -> String {
        let (l, a) = (&self.limits, &self.adapter_limits);
        const MIB: u64 = 1 << 20;
        let rows: [(&str, u64, u64, &str, u64); 9] = [
            (
                "max_storage_buffer_binding_size",
                l.max_storage_buffer_binding_size,
                a.max_storage_buffer_binding_size,
                "MiB",
                MIB,
            ),
            (
                "max_buffer_size",
                l.max_buffer_size,
                a.max_buffer_size,
                "MiB",
                MIB,
            ),
            (
                "max_compute_workgroup_size_x",
                l.max_compute_workgroup_size_x.into(),
                a.max_compute_workgroup_size_x.into(),
                "",
                1,
            ),
            (
                "max_compute_invocations_per_workgroup",
                l.max_compute_invocations_per_workgroup.into(),
                a.max_compute_invocations_per_workgroup.into(),
                "",
                1,
            ),
            (
                "max_compute_workgroups_per_dimension",
                l.max_compute_workgroups_per_dimension.into(),
                a.max_compute_workgroups_per_dimension.into(),
                "",
                1,
            ),
            (
                "max_compute_workgroup_storage_size",
                l.max_compute_workgroup_storage_size.into(),
                a.max_compute_workgroup_storage_size.into(),
                "KiB",
                1024,
            ),
            (
                "max_storage_buffers_per_shader_stage",
                l.max_storage_buffers_per_shader_stage.into(),
                a.max_storage_buffers_per_shader_stage.into(),
                "",
                1,
            ),
            (
                "min_storage_buffer_offset_alignment",
                l.min_storage_buffer_offset_alignment.into(),
                a.min_storage_buffer_offset_alignment.into(),
                "",
                1,
            ),
            (
                "min_uniform_buffer_offset_alignment",
                l.min_uniform_buffer_offset_alignment.into(),
                a.min_uniform_buffer_offset_alignment.into(),
                "",
                1,
            ),
        ];
        let with_unit = |v: u64, unit: &str, scale: u64| {
            if unit.is_empty() {
                v.to_string()
            } else {
                format!("{} {unit}", v / scale)
            }
        };
        rows.iter()
            .map(|&(name, device, adapter, unit, scale)| {
                // Alignments are better when smaller.
                let better = if name.starts_with("min_") {
                    adapter < device
                } else {
                    adapter > device
                };
                let own = if better {
                    format!(" ({})", with_unit(adapter, unit, scale))
                } else {
                    String::new()
                };
                format!("  {name:<38} {}{own}", with_unit(device, unit, scale))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The Mesa release named in a driver string: `"Mesa 22.3.6 (LLVM 15.0.6)"`
/// and `"Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)"` give (22, 3) and (25, 0).
fn mesa_release(driver_info: &str) -> Option<(u32, u32)> {
    let rest = driver_info.split("Mesa ").nth(1)?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::mesa_release;

    #[test]
    fn mesa_release_reads_debian_and_upstream_strings() {
        assert_eq!(mesa_release("Mesa 22.3.6 (LLVM 15.0.6)"), Some((22, 3)));
        assert_eq!(
            mesa_release("Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)"),
            Some((25, 0))
        );
        assert_eq!(mesa_release("Mesa 24.2.8-1ubuntu1~24.04.1"), Some((24, 2)));
        assert_eq!(mesa_release("NVIDIA 550.54"), None);
        assert_eq!(mesa_release("Mesa x.y"), None);
    }
}
