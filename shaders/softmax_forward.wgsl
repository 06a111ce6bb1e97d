// Row-wise softmax, max-subtracted so exp never overflows:
//   y[r, c] = exp(x[r, c] − max_c x[r, :]) / Σ_c exp(x[r, c] − max_c x[r, :]).
// x, y: (rows, cols). Dispatch: one invocation per row (the classifiers have
// ~10 classes, far too few to share a row across a workgroup); workgroup 64;
// grid from groups_2d(rows / 64). y is overwritten; it may not alias x.

struct Params {
    rows: u32,
    cols: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let r = id.x + id.y * nw.x * 64u;
    if (r >= p.rows || p.cols == 0u) { return; }
    let o = r * p.cols;
    var m = x[o];
    for (var c = 1u; c < p.cols; c++) { m = max(m, x[o + c]); }
    var total = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        let e = exp(x[o + c] - m);
        y[o + c] = e;
        total += e;
    }
    let inv = 1.0 / total;
    for (var c = 0u; c < p.cols; c++) { y[o + c] *= inv; }
}
