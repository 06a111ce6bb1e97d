// Per-row min-max rescaling to [0, 1]:
//   y[row, f] = (x[row, f] − min_row x) / (max_row x − min_row x),
//   0 for a constant row (the same rule as walk_step.wgsl's main_renorm).
// x, y: (rows, features); y is overwritten and may not alias x.
// Dispatch: one invocation per row (no workgroup reduction: barriers are
// costly on lavapipe and the callers normalise modest row counts);
// workgroup 64, grid from groups_2d(rows / 64).

struct Params {
    rows: u32,
    features: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let row = id.x + id.y * nw.x * 64u;
    if (row >= p.rows) { return; }
    let start = row * p.features;
    let end = start + p.features;
    var lo = 3.4028235e38;
    var hi = -3.4028235e38;
    for (var i = start; i < end; i++) {
        lo = min(lo, x[i]);
        hi = max(hi, x[i]);
    }
    let range = hi - lo;
    for (var i = start; i < end; i++) {
        y[i] = select(0.0, (x[i] - lo) / range, range > 0.0);
    }
}
