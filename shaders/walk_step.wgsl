// One step of the manifold walk x ← x + eta·(r(x) − x), r the reconstruction:
//   y = x + eta·(r − x)
//   main:        x_next = y
//   main_renorm: x_next = (y − min_row y) / (max_row y − min_row y), each row
//                rescaled to [0, 1]; a constant row becomes 0.
// x, r, x_next: (rows, features); x_next is overwritten and may not alias x
// or r (walk with two buffers, swapping them each step).
// Dispatch:
//   main: workgroup 64, each invocation handles 4 elements 64 apart; grid
//     from groups_2d(rows·features / 256).
//   main_renorm: one invocation per row (the walk has few rows, and a
//     workgroup reduction costs barriers that lavapipe pays dearly for);
//     workgroup 64, grid from groups_2d(rows / 64).

struct Params {
    rows: u32,
    features: u32,
    eta: f32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> r: array<f32>;
@group(0) @binding(2) var<storage, read_write> x_next: array<f32>;
@group(0) @binding(3) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nw: vec3<u32>) {
    let n = p.rows * p.features;
    let base = (wg.x + wg.y * nw.x) * 256u + lid;
    for (var k = 0u; k < 4u; k++) {
        let i = base + k * 64u;
        if (i >= n) { return; }
        x_next[i] = x[i] + p.eta * (r[i] - x[i]);
    }
}

@compute @workgroup_size(64)
fn main_renorm(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let row = id.x + id.y * nw.x * 64u;
    if (row >= p.rows) { return; }
    let start = row * p.features;
    let end = start + p.features;
    // The unnormalised step is stored and read back rather than recomputed,
    // so a multiply-add the compiler fuses in one loop but not the other can
    // never put a value outside the [lo, hi] it was measured against.
    var lo = 3.4028235e38;
    var hi = -3.4028235e38;
    for (var i = start; i < end; i++) {
        let y = x[i] + p.eta * (r[i] - x[i]);
        x_next[i] = y;
        lo = min(lo, y);
        hi = max(hi, y);
    }
    let range = hi - lo;
    for (var i = start; i < end; i++) {
        x_next[i] = select(0.0, (x_next[i] - lo) / range, range > 0.0);
    }
}
