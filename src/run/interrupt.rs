//! SIGINT and SIGTERM (and SIGHUP) during a run: the first asks the run to
//! stop after its last finished step, save a checkpoint and exit with 130;
//! a second exits at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// Exit status after an interrupt (128 + SIGINT), as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Installs the handler (once per process; later calls do nothing). Until
/// it is installed a signal kills the process as usual.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let result = ctrlc::set_handler(|| {
            if SIGNALS.fetch_add(1, Ordering::SeqCst) == 0 {
                eprintln!(
                    "\ninterrupted: finishing the steps in flight and saving a checkpoint \
                     (press Ctrl-C again to exit at once, losing the steps since the last checkpoint)"
                );
            } else {
                std::process::exit(EXIT_INTERRUPTED as i32);
            }
        });
        if let Err(e) = result {
            eprintln!("warning: cannot catch Ctrl-C ({e}); an interrupt will end the run without a checkpoint");
        }
    });
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

/// The error a run returns when it stopped on a signal after saving its
/// state; `main` turns it into exit status 130.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Interrupted {
    /// Where the run stopped and how to resume it.
    pub message: String,
}
