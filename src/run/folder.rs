//! A run's folder: what it holds, who uses it, and never replacing a
//! trained model by accident.
//!
//! A process that trains into a folder holds its lock file (`.dae.lock`,
//! holding the process id) for as long as it runs. A lock whose process is
//! gone (killed, crashed) is stale and is taken over. Temporary files of
//! interrupted atomic writes (`.NAME.tmp-PID-N`) of dead processes are
//! removed when the folder is next locked.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::bail;

/// The resumable state: parameters, optimizer state, step counts, partial
/// sums, history and settings. Written first at every checkpoint.
pub const STATE: &str = "state.safetensors";
/// The clean weights of the last finished epoch.
pub const MODEL: &str = "model.safetensors";
/// One row per finished epoch.
pub const METRICS: &str = "metrics.csv";
/// Held while a process trains into the folder: the holder's process id,
/// so that a lock left by a killed run is recognised and taken over.
pub const LOCK: &str = ".dae.lock";
/// Figures a run writes (removed with the run by `--overwrite`).
const FIGURES: &[&str] = &["loss.png", "accuracy.png", "reconstructions.png"];

/// What to do with a folder that already holds a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FolderMode {
    /// Refuse it (`dae train` without `--resume` or `--overwrite`).
    Fresh,
    /// Delete the run's files and train anew (`--overwrite`).
    Overwrite,
    /// Continue it from its state (`--resume`); a folder without one is an
    /// error.
    Resume,
    /// Continue it if its settings are this run's, skip it if it is
    /// finished, refuse it if its settings differ (the studies).
    Auto,
}

/// Whether `dir` holds (part of) a run.
pub fn holds_run(dir: &Path) -> bool {
    [STATE, MODEL, METRICS].iter().any(|f| dir.join(f).exists())
}

/// Refuses `dir` if it holds a run (`dae train` without `--resume` or
/// `--overwrite`), naming both.
pub fn refuse_existing_run(dir: &Path) -> anyhow::Result<()> {
    if holds_run(dir) {
        let dir = dir.display();
        bail!(
            "{dir} already holds a run; training into it would replace its model. Fix: continue \
             it with `dae train --resume {dir}` (add --epochs N to extend a finished run), \
             replace it with --overwrite, or choose another --out"
        );
    }
    Ok(())
}

/// `base` if it holds no run, else the first of `base-2`, `base-3`, ...
/// that holds none.
pub fn next_free(base: &Path) -> PathBuf {
    if !holds_run(base) {
        return base.to_path_buf();
    }
    (2..)
        .map(|i| {
            let mut name = base.as_os_str().to_owned();
            name.push(format!("-{i}"));
            PathBuf::from(name)
        })
        .find(|p| !holds_run(p))
        .expect("an unbounded range finds a free name")
}

/// Whether process `pid` exists (a process we may not signal exists too).
pub fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = i32::try_from(pid) else {
            return false;
        };
        // SAFETY: kill with signal 0 only checks for the process; it sends
        // nothing and touches no memory.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        // No cheap portable check: assume it lives; the message names the
        // lock file to delete by hand.
        let _ = pid;
        true
    }
}

/// A locked run folder; the lock goes when this is dropped.
#[derive(Debug)]
pub struct RunFolder {
    /// The run folder.
    pub dir: PathBuf,
    lock: PathBuf,
    /// This lock created the folder: a run that fails before writing
    /// anything leaves no empty folder behind.
    created: bool,
}

impl RunFolder {
    /// Creates `dir` if needed and takes its lock, proving on the way that
    /// the folder is writable, before any long work starts.
    pub fn lock(dir: &Path) -> anyhow::Result<RunFolder> {
        let unwritable = |e: std::io::Error| {
            anyhow::anyhow!(
                "cannot write to the output folder {}: {e}. Fix: check its permissions, or \
                 choose another folder with --out",
                dir.display()
            )
        };
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(unwritable)?;
        let lock = dir.join(LOCK);
        for _ in 0..3 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id()).map_err(unwritable)?;
                    let folder = RunFolder {
                        dir: dir.to_path_buf(),
                        lock,
                        created,
                    };
                    folder.remove_orphans();
                    return Ok(folder);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&lock)
                        .ok()
                        .and_then(|s| s.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if process_alive(pid) => bail!(
                            "the output folder {} is in use by dae process {pid} (lock file {}). \
                             Fix: wait for that run to finish or stop it, or choose another --out; \
                             if no such process runs, delete the lock file",
                            dir.display(),
                            lock.display()
                        ),
                        _ => {
                            // Stale: its process is gone (or it never wrote
                            // its id). Take it over.
                            eprintln!(
                                "note: taking over the stale lock of a stopped run in {}",
                                dir.display()
                            );
                            let _ = std::fs::remove_file(&lock);
                        }
                    }
                }
                Err(e) => return Err(unwritable(e)),
            }
        }
        bail!(
            "cannot take the lock {}: another process keeps creating it. Fix: choose another --out",
            lock.display()
        )
    }

    /// `file` inside the run folder.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Deletes the files of the run the folder holds (`--overwrite`).
    pub fn clear_run(&self) -> anyhow::Result<()> {
        for f in [STATE, MODEL, METRICS].iter().chain(FIGURES) {
            match std::fs::remove_file(self.path(f)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => bail!("--overwrite: cannot delete {}: {e}", self.path(f).display()),
            }
        }
        Ok(())
    }

    /// Removes `.NAME.tmp-PID-N` files whose writer is gone.
    fn remove_orphans(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = orphan_pid(&name) {
                if pid != std::process::id() && !process_alive(pid) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}

/// The writer's pid of a temporary file named by `report::atomic_write`.
fn orphan_pid(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let (_, rest) = name.rsplit_once(".tmp-")?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

impl Drop for RunFolder {
    fn drop(&mut self) {
        // Only our own lock: a folder taken over after we were presumed dead
        // must keep its new holder's.
        let ours = std::fs::read_to_string(&self.lock)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            == Some(std::process::id());
        if ours {
            let _ = std::fs::remove_file(&self.lock);
            if self.created {
                // Fails unless empty, which is the point.
                let _ = std::fs::remove_dir(&self.dir);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orphan_names_parse() {
        assert_eq!(orphan_pid(".model.safetensors.tmp-1234-7"), Some(1234));
        assert_eq!(orphan_pid(".metrics.csv.tmp-99-0"), Some(99));
        assert_eq!(orphan_pid("model.safetensors"), None);
        assert_eq!(orphan_pid(".x.tmp-abc-1"), None);
        assert_eq!(orphan_pid(".x.tmp-12"), None);
    }

    #[test]
    fn this_process_is_alive() {
        assert!(process_alive(std::process::id()));
    }
}
