//! Mesa's on-disk shader cache, as far as [`super::Gpu::precompile`] needs
//! to know it: whether what one device compiles reaches another.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Whether Mesa can keep what a helper device compiles for this one: its
/// disk cache is on and its folder (or the nearest existing parent, which
/// Mesa creates it under) is writable.
pub(super) fn disk_cache_usable() -> bool {
    let env = |v: &str| std::env::var_os(v);
    !disabled(env)
        && cache_dir(env).is_some_and(|d| d.ancestors().find(|p| p.is_dir()).is_some_and(writable))
}

/// `MESA_SHADER_CACHE_DISABLE` (or its old name) set to a true value.
fn disabled(env: impl Fn(&str) -> Option<OsString>) -> bool {
    ["MESA_SHADER_CACHE_DISABLE", "MESA_GLSL_CACHE_DISABLE"]
        .iter()
        .any(|v| {
            env(v).is_some_and(|s| {
                matches!(
                    s.to_string_lossy().trim().to_ascii_lowercase().as_str(),
                    "1" | "true" | "y" | "yes"
                )
            })
        })
}

/// Where Mesa keeps its cache (it adds `mesa_shader_cache` below this when
/// it comes from `MESA_SHADER_CACHE_DIR`, and below `.cache` otherwise).
fn cache_dir(env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let var = |v: &str| env(v).filter(|s| !s.is_empty()).map(PathBuf::from);
    var("MESA_SHADER_CACHE_DIR")
        .or_else(|| var("MESA_GLSL_CACHE_DIR"))
        .or_else(|| var("XDG_CACHE_HOME"))
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
}

#[cfg(unix)]
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(dir.as_os_str().as_bytes())
        // SAFETY: a valid NUL-terminated path; access(2) only reads it.
        .is_ok_and(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0)
}

#[cfg(not(unix))]
fn writable(_dir: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |v| {
            vars.iter()
                .find(|(k, _)| *k == v)
                .map(|(_, x)| OsString::from(x))
        }
    }

    #[test]
    fn the_cache_is_off_only_for_true_values() {
        for v in ["1", "true", "TRUE", "yes", "y"] {
            assert!(disabled(env(&[("MESA_SHADER_CACHE_DISABLE", v)])), "{v}");
        }
        for v in ["0", "false", "no", ""] {
            assert!(!disabled(env(&[("MESA_SHADER_CACHE_DISABLE", v)])), "{v}");
        }
        assert!(disabled(env(&[("MESA_GLSL_CACHE_DISABLE", "true")])));
        assert!(!disabled(env(&[])));
    }

    #[test]
    fn the_cache_folder_follows_mesas_order() {
        let all = [
            ("HOME", "/h"),
            ("XDG_CACHE_HOME", "/x"),
            ("MESA_SHADER_CACHE_DIR", "/m"),
        ];
        assert_eq!(cache_dir(env(&all)), Some("/m".into()));
        assert_eq!(cache_dir(env(&all[..2])), Some("/x".into()));
        assert_eq!(cache_dir(env(&all[..1])), Some("/h/.cache".into()));
        assert_eq!(cache_dir(env(&[("MESA_SHADER_CACHE_DIR", "")])), None);
        let tmp = std::env::temp_dir();
        assert!(writable(&tmp), "{}", tmp.display());
    }
}
