//! GPU time of each dispatch from timestamp queries.
//!
//! [`DispatchTimer`] records a list of dispatches with a timestamp before and
//! after each one, in one submission, resolves the query sets into a buffer,
//! reads it back and converts ticks to nanoseconds with
//! [`wgpu::Queue::get_timestamp_period`]. Where the device has
//! `TIMESTAMP_QUERY_INSIDE_PASSES` the timestamps are written between the
//! dispatches of one compute pass ([`TimestampMode::InsidePasses`]); with
//! only `TIMESTAMP_QUERY` each dispatch gets its own compute pass whose
//! `ComputePassTimestampWrites` mark its beginning and end
//! ([`TimestampMode::PassWrites`]). [`Timing::choose`] picks one, or host
//! wall time where neither exists, and says why.

use super::{Dispatch, Gpu, GpuError, Readback};

/// Timestamps per query set: wgpu's cap on one set's size.
const QUERIES_PER_SET: u32 = wgpu::QUERY_SET_MAX_QUERIES;

/// Dispatches per query set: two timestamps each.
const DISPATCHES_PER_SET: usize = (QUERIES_PER_SET / 2) as usize;

/// Longer than this between two timestamps of one dispatch is taken as a
/// garbage value (an unwritten query, or a counter that wrapped) rather
/// than a time: ten minutes, in nanoseconds.
const MAX_PLAUSIBLE_NS: f64 = 600e9;

/// How [`DispatchTimer`] brackets each dispatch with timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampMode {
    /// One compute pass, `ComputePass::write_timestamp` before and after each
    /// dispatch; needs `TIMESTAMP_QUERY_INSIDE_PASSES`.
    InsidePasses,
    /// One compute pass per dispatch, its `ComputePassTimestampWrites`
    /// writing the beginning and the end; needs `TIMESTAMP_QUERY`.
    PassWrites,
}

impl TimestampMode {
    /// The features the device must have been opened with for this mode.
    pub fn features(self) -> wgpu::Features {
        match self {
            TimestampMode::InsidePasses => {
                wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES
            }
            TimestampMode::PassWrites => wgpu::Features::TIMESTAMP_QUERY,
        }
    }

    /// Whether `gpu`'s device can time dispatches this way.
    pub fn supported(self, gpu: &Gpu) -> bool {
        gpu.features.contains(self.features())
    }

    /// The finest mode `gpu` supports (inside passes first), if any.
    pub fn best(gpu: &Gpu) -> Option<TimestampMode> {
        [TimestampMode::InsidePasses, TimestampMode::PassWrites]
            .into_iter()
            .find(|m| m.supported(gpu))
    }
}

impl std::fmt::Display for TimestampMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimestampMode::InsidePasses => "written between the dispatches of one compute pass",
            TimestampMode::PassWrites => "one compute pass per dispatch",
        })
    }
}

/// What a profile asks for: the best timing available, host wall time, or
/// one particular timestamp mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimingChoice {
    /// Timestamps where the device has them ([`TimestampMode::best`]),
    /// host wall time elsewhere.
    Auto,
    /// Host wall time even where timestamps exist.
    Host,
    /// This timestamp mode, or host wall time where the device lacks it.
    Mode(TimestampMode),
}

/// Why dispatches are timed by host wall time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostReason {
    /// [`TimingChoice::Host`] asked for it.
    Requested,
    /// The device was opened without `TIMESTAMP_QUERY`.
    NoTimestampQuery,
    /// [`TimestampMode::InsidePasses`] was asked for and the device lacks
    /// `TIMESTAMP_QUERY_INSIDE_PASSES`.
    NoInsidePasses,
    /// The queue reports a timestamp period of zero (or not a number).
    NoPeriod,
}

impl std::fmt::Display for HostReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HostReason::Requested => "host timing requested",
            HostReason::NoTimestampQuery => "adapter lacks TIMESTAMP_QUERY",
            HostReason::NoInsidePasses => "adapter lacks TIMESTAMP_QUERY_INSIDE_PASSES",
            HostReason::NoPeriod => "adapter reports no timestamp period",
        })
    }
}

/// How dispatch times are measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Timing {
    /// GPU timestamps: the mode and nanoseconds per tick.
    Timestamps {
        /// Where the timestamps are written.
        mode: TimestampMode,
        /// Nanoseconds per timestamp tick (the queue's timestamp period).
        period_ns: f64,
    },
    /// Host wall time around a submission, and why.
    Host(HostReason),
}

impl Timing {
    /// Resolves `choice` against what `gpu`'s device has.
    pub fn choose(gpu: &Gpu, choice: TimingChoice) -> Timing {
        let mode = match choice {
            TimingChoice::Host => return Timing::Host(HostReason::Requested),
            TimingChoice::Auto => TimestampMode::best(gpu),
            TimingChoice::Mode(m) => m.supported(gpu).then_some(m),
        };
        let Some(mode) = mode else {
            let has_query = gpu.features.contains(wgpu::Features::TIMESTAMP_QUERY);
            return Timing::Host(if has_query {
                HostReason::NoInsidePasses
            } else {
                HostReason::NoTimestampQuery
            });
        };
        let period_ns = gpu.queue.get_timestamp_period() as f64;
        if period_ns.is_finite() && period_ns > 0.0 {
            Timing::Timestamps { mode, period_ns }
        } else {
            Timing::Host(HostReason::NoPeriod)
        }
    }

    /// True for GPU timestamps, false for the host fallback.
    pub fn is_gpu(&self) -> bool {
        matches!(self, Timing::Timestamps { .. })
    }
}

/// The header line of a profile: what the times are and where they come
/// from, e.g. `GPU time from timestamp queries (period 1 ns), one compute
/// pass per dispatch` or `host wall time per dispatch (adapter lacks
/// TIMESTAMP_QUERY)`.
impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Timing::Timestamps { mode, period_ns } => write!(
                f,
                "GPU time from timestamp queries (period {period_ns} ns), {mode}"
            ),
            Timing::Host(why) => write!(f, "host wall time per dispatch ({why})"),
        }
    }
}

/// Nanoseconds between two raw timestamps `period_ns` apart per tick, or
/// `None` where the pair is no measurement: either one zero (unwritten),
/// `end` not after `begin` (a wrapped counter, reordering, or a dispatch
/// below the timer's resolution), or an implausibly long span.
pub fn elapsed_ns(begin: u64, end: u64, period_ns: f64) -> Option<f64> {
    if begin == 0 || end == 0 || end <= begin {
        return None;
    }
    let ns = (end - begin) as f64 * period_ns;
    (ns.is_finite() && ns > 0.0 && ns <= MAX_PLAUSIBLE_NS).then_some(ns)
}

/// Query sets, a resolve buffer and a staging buffer for timing up to a
/// fixed number of dispatches per submission; reusable across submissions.
pub struct DispatchTimer {
    mode: TimestampMode,
    period_ns: f64,
    capacity: usize,
    sets: Vec<wgpu::QuerySet>,
    resolve: wgpu::Buffer,
    readback: Readback,
}

impl DispatchTimer {
    /// A timer for up to `capacity` dispatches per [`DispatchTimer::time`]
    /// call, with as many query sets as that takes (each holds
    /// [`wgpu::QUERY_SET_MAX_QUERIES`] timestamps, two per dispatch).
    /// `None` where the device lacks `mode`'s features or reports no
    /// timestamp period.
    pub fn new(gpu: &Gpu, mode: TimestampMode, capacity: usize) -> Option<DispatchTimer> {
        let period_ns = match Timing::choose(gpu, TimingChoice::Mode(mode)) {
            Timing::Timestamps { period_ns, .. } => period_ns,
            Timing::Host(_) => return None,
        };
        let capacity = capacity.max(1);
        let sets = (0..capacity.div_ceil(DISPATCHES_PER_SET))
            .map(|i| {
                let count = (capacity - i * DISPATCHES_PER_SET).min(DISPATCHES_PER_SET) * 2;
                gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("dispatch timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: count as u32,
                })
            })
            .collect();
        let bytes = capacity as u64 * 2 * wgpu::QUERY_SIZE as u64;
        let resolve = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dispatch timestamps resolved"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        Some(DispatchTimer {
            mode,
            period_ns,
            capacity,
            sets,
            resolve,
            readback: Readback::new(gpu, bytes),
        })
    }

    /// How this timer writes its timestamps.
    pub fn mode(&self) -> TimestampMode {
        self.mode
    }

    /// Nanoseconds per timestamp tick.
    pub fn period_ns(&self) -> f64 {
        self.period_ns
    }

    /// The most dispatches one [`DispatchTimer::time`] call takes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Runs `dispatches` once, in order, in one submission, each bracketed
    /// by two timestamps, and returns each one's GPU time in nanoseconds
    /// (`None` where the pair is no measurement; see [`elapsed_ns`]). `step`
    /// is the step uniform for kernels that read it. Panics if there are
    /// more dispatches than [`DispatchTimer::capacity`].
    pub fn time(
        &self,
        gpu: &Gpu,
        dispatches: &[Dispatch],
        step: Option<(&wgpu::BindGroup, u32)>,
    ) -> Result<Vec<Option<f64>>, GpuError> {
        assert!(
            dispatches.len() <= self.capacity,
            "{} dispatches but the timer holds {}",
            dispatches.len(),
            self.capacity
        );
        if dispatches.is_empty() {
            return Ok(Vec::new());
        }
        let slot = |j: usize| {
            let at = (j % DISPATCHES_PER_SET) as u32 * 2;
            (&self.sets[j / DISPATCHES_PER_SET], at)
        };
        let mut enc = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("dispatch timestamps"),
            });
        match self.mode {
            TimestampMode::InsidePasses => {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("dispatch timestamps"),
                    timestamp_writes: None,
                });
                for (j, d) in dispatches.iter().enumerate() {
                    let (set, at) = slot(j);
                    pass.write_timestamp(set, at);
                    d.record(&mut pass, step);
                    pass.write_timestamp(set, at + 1);
                }
            }
            TimestampMode::PassWrites => {
                for (j, d) in dispatches.iter().enumerate() {
                    let (set, at) = slot(j);
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("dispatch timestamps"),
                        timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                            query_set: set,
                            beginning_of_pass_write_index: Some(at),
                            end_of_pass_write_index: Some(at + 1),
                        }),
                    });
                    d.record(&mut pass, step);
                }
            }
        }
        // Every full set resolves to a multiple of 32 KiB, so each set's
        // offset keeps QUERY_RESOLVE_BUFFER_ALIGNMENT.
        let used = dispatches.len().div_ceil(DISPATCHES_PER_SET);
        for (i, set) in self.sets[..used].iter().enumerate() {
            let n = (dispatches.len() - i * DISPATCHES_PER_SET).min(DISPATCHES_PER_SET);
            let offset = (i as u64) * u64::from(QUERIES_PER_SET) * u64::from(wgpu::QUERY_SIZE);
            enc.resolve_query_set(set, 0..n as u32 * 2, &self.resolve, offset);
        }
        gpu.queue.submit([enc.finish()]);
        let bytes = self.readback.read(gpu, &self.resolve)?;
        let ticks: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        Ok(ticks
            .chunks_exact(2)
            .take(dispatches.len())
            .map(|t| elapsed_ns(t[0], t[1], self.period_ns))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::elapsed_ns;

    #[test]
    fn unmeasured_pairs_are_none() {
        assert_eq!(elapsed_ns(100, 350, 1.0), Some(250.0));
        assert_eq!(elapsed_ns(100, 350, 2.5), Some(625.0));
        assert_eq!(elapsed_ns(0, 350, 1.0), None, "unwritten begin");
        assert_eq!(elapsed_ns(100, 0, 1.0), None, "unwritten end");
        assert_eq!(elapsed_ns(350, 100, 1.0), None, "wrapped or reordered");
        assert_eq!(elapsed_ns(100, 100, 1.0), None, "below resolution");
        assert_eq!(elapsed_ns(1, u64::MAX, 1.0), None, "implausible span");
    }
}
