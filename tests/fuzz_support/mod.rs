//! The fuzz test's machinery: a counting global allocator, the seeded fuzz
//! loop, and (in `mutate`) the mutations.
#![allow(dead_code)]

pub mod mutate;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

// ---- the counting allocator ----------------------------------------------

/// `System`, noting the largest single allocation made by a thread while it
/// is measuring (thread-local, so parallel tests do not see each other).
struct Counting;

thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // try_with: no panic while a thread's locals are being torn down.
    let _ = MEASURING.try_with(|m| {
        if m.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result with the largest single allocation it made.
pub fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    MEASURING.with(|m| m.set(true));
    let r = f();
    MEASURING.with(|m| m.set(false));
    (r, LARGEST.with(|l| l.get()))
}

/// What any read may allocate regardless of its input: the gzip decoder's
/// buffer and state (~32 KiB + ~43 KiB), JSON parsing, error messages.
pub const FIXED: usize = 256 << 10;

// ---- the fuzz loop ------------------------------------------------------------

pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one case did: its mutations, the check it failed (if any), and its
/// outcome ("Ok" or the error variant) for the tally.
pub type Case = (Vec<String>, Option<String>, Vec<String>);

/// The variant name of a result, e.g. "Truncated" or "Ok".
pub fn outcome<T, E: std::fmt::Debug>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "Ok".to_string(),
        Err(e) => {
            let d = format!("{e:?}");
            d[..d.find([' ', '(', '{']).unwrap_or(d.len())].to_string()
        }
    }
}

/// Runs `case(seed)` for seeds 0.. until the case or time budget is spent.
/// Panics are caught and reported with their seed. Prints how many cases ran
/// and how they ended (some damaged inputs must still be valid: "Ok").
/// `must_reach` lists outcomes some case must end in (so the mutations are
/// known to get past the first checks); not checked when replaying a seed.
pub fn fuzz(name: &str, must_reach: &[&str], case: impl Fn(u64) -> Case) {
    let seeds: Vec<u64> = match std::env::var("DAE_FUZZ_SEED") {
        Ok(s) => vec![s.parse().expect("DAE_FUZZ_SEED must be a number")],
        Err(_) => (0..env_or("DAE_FUZZ_CASES", 20_000)).collect(),
    };
    let budget = Duration::from_secs(env_or("DAE_FUZZ_SECS", 10));
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut tally = BTreeMap::new();
    let mut ran = 0;
    for seed in seeds {
        if start.elapsed() > budget {
            break;
        }
        ran += 1;
        match catch_unwind(AssertUnwindSafe(|| case(seed))) {
            Ok((_, None, outcomes)) => {
                for o in outcomes {
                    *tally.entry(o).or_insert(0) += 1;
                }
            }
            Ok((what, Some(problem), _)) => {
                failures.push(format!("seed {seed} {what:?}: {problem}"))
            }
            Err(_) => failures.push(format!("seed {seed}: panicked (see the panic above)")),
        }
    }
    println!(
        "{name}: {ran} cases in {:.1} s; outcomes {tally:?}",
        start.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {ran} {name} cases failed (rerun one with DAE_FUZZ_SEED):\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    if seeds_replayed() {
        return;
    }
    assert!(ran >= 100, "only {ran} {name} cases ran in the time budget");
    for reached in ["Ok"].iter().chain(must_reach) {
        assert!(
            tally.contains_key(*reached),
            "{name}: no case ended {reached:?}: {tally:?}"
        );
    }
}

pub fn seeds_replayed() -> bool {
    std::env::var_os("DAE_FUZZ_SEED").is_some()
}
