//! The tuning cache: one text file per adapter fingerprint in
//! `$XDG_CACHE_HOME/dae` (else `$HOME/.cache/dae`), one `key variant` line
//! per pass. The fingerprint covers the adapter, its driver and version,
//! the subgroup sizes and `dae`'s own version (kernels change between
//! versions), so a driver update re-tunes. Unreadable lines are skipped
//! (the pass is tuned again); the file is rewritten atomically.

use std::path::{Path, PathBuf};

use crate::gpu::Gpu;
use crate::kernels::matmul::Variant;

/// The cache folder: `$XDG_CACHE_HOME/dae`, else `$HOME/.cache/dae`.
pub fn dir() -> Option<PathBuf> {
    let nonempty = |v: &str| {
        std::env::var_os(v)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    nonempty("XDG_CACHE_HOME")
        .or_else(|| nonempty("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("dae"))
}

/// 64-bit FNV-1a of everything that makes an adapter's timings its own.
pub fn fingerprint(gpu: &Gpu) -> String {
    let i = &gpu.info;
    let text = format!(
        "{}|{:?}|{:#x}|{:#x}|{}|{}|{:?}|{}..{}|{}",
        i.name,
        i.backend,
        i.vendor,
        i.device,
        i.driver,
        i.driver_info,
        i.device_type,
        i.subgroup_min_size,
        i.subgroup_max_size,
        env!("CARGO_PKG_VERSION")
    );
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// This adapter's cache file, if there is a cache folder.
pub fn path(gpu: &Gpu) -> Option<PathBuf> {
    dir().map(|d| d.join(format!("tuning-{}.txt", fingerprint(gpu))))
}

/// The (key, variant) lines of a cache text written for `fingerprint`;
/// empty if it was written for another.
pub fn parse(text: &str, fingerprint: &str) -> Vec<(String, Variant)> {
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let mut same = false;
    let mut out = Vec::new();
    for l in lines.by_ref() {
        let mut parts = l.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some("fingerprint"), Some(f), None) => same = f == fingerprint,
            (Some("adapter"), ..) => {}
            (Some(key), Some(v), None) if same => {
                if let Some(v) = Variant::from_name(v) {
                    out.push((key.to_string(), v));
                }
            }
            _ => {}
        }
    }
    out
}

/// Sets the cached choices on `gpu`; returns how many. A missing file is
/// no choices.
pub fn load(gpu: &Gpu, path: &Path) -> anyhow::Result<usize> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        // Not UTF-8 or unreadable: ignored, tuned again and rewritten.
        Err(_) => return Ok(0),
    };
    let entries = parse(&text, &fingerprint(gpu));
    for (k, v) in &entries {
        gpu.set_tuned(k, *v);
    }
    Ok(entries.len())
}

/// Writes every choice on `gpu`, plus those another process saved
/// meanwhile, atomically.
pub fn save(gpu: &Gpu, path: &Path) -> anyhow::Result<()> {
    let fp = fingerprint(gpu);
    let mut all: std::collections::BTreeMap<String, Variant> = std::fs::read_to_string(path)
        .map(|t| parse(&t, &fp).into_iter().collect())
        .unwrap_or_default();
    all.extend(gpu.tuned_choices());
    let mut text = format!(
        "# dae kernel tuning: the fastest variant of each pass on this adapter, one `key variant` line each.\n\
         # Delete this file to tune again.\nadapter {} ({:?}, {})\nfingerprint {fp}\n",
        gpu.info.name, gpu.info.backend, gpu.info.driver_info
    );
    for (k, v) in &all {
        text += &format!("{k} {}\n", v.name());
    }
    crate::report::atomic_write(path, text.as_bytes()).map_err(|e| {
        anyhow::anyhow!(
            "could not write the tuning cache {}: {e}.\n  fix: make its folder writable, point XDG_CACHE_HOME elsewhere, or set DAE_TUNE=0",
            path.display()
        )
    })
}
