// acc[slot] += Σ_{i<n} values[i]: the per-step loss/correct-count sum that
// accumulates over an epoch without a host round-trip.
// values: (>= n); acc: (> slot), ADDED INTO at one element.
// Dispatch: ONE workgroup of 256: lane l sums values[l], values[l + 256], ...
// (coalesced), then a fixed-shape tree in workgroup memory, so the order of
// the additions never changes from run to run. n is the batch's row count (at
// most ~60,000 for a whole-dataset evaluation: ~235 values per lane).

struct Params {
    n: u32,
    slot: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> values: array<f32>;
@group(0) @binding(1) var<storage, read_write> acc: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;

const WG: u32 = 256u;
var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    var t = 0.0;
    for (var i = lid; i < p.n; i += WG) { t += values[i]; }
    part[lid] = t;
    workgroupBarrier();
    for (var w = WG / 2u; w > 0u; w >>= 1u) {
        if (lid < w) { part[lid] += part[lid + w]; }
        workgroupBarrier();
    }
    if (lid == 0u && p.slot < arrayLength(&acc)) { acc[p.slot] += part[0]; }
}
