// acc[slot] = 1 if any of values[0..n) is NaN or ±Inf; otherwise acc is left
// as it was (never cleared here: the host zeroes the flag with the sums).
// values: (>= n) f32, read as raw bits; acc: (> slot), WRITTEN at one element.
// Dispatch: a grid-stride loop, invocation i checks i, i + stride, ... so any
// n works with a capped workgroup count; every writer stores the same 1.0,
// so concurrent writes need no atomics.
// The test is on the exponent bits, not `x != x`: WGSL lets a compiler
// assume floats are finite and fold such comparisons away, and a clamp such
// as max(p, 1e-7) may turn NaN into a number, so only integer arithmetic on
// the bit pattern reliably sees a divergence.

struct Params {
    n: u32,
    slot: u32,
    stride: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> values: array<u32>;
@group(0) @binding(1) var<storage, read_write> acc: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;

const EXP_MASK: u32 = 0x7f800000u;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    var bad = 0u;
    for (var i = gid.x; i < p.n; i += p.stride) {
        bad |= u32((values[i] & EXP_MASK) == EXP_MASK);
    }
    if (bad != 0u && p.slot < arrayLength(&acc)) { acc[p.slot] = 1.0; }
}
