// Row-wise softmax backward from the forward output y:
//   dx[r, c] = y[r, c] · (dy[r, c] − Σ_j dy[r, j] · y[r, j]).
// dy, y, dx: (rows, cols). Dispatch: one invocation per row; workgroup 64;
// grid from groups_2d(rows / 64). dx is overwritten; it may not alias dy or y.

struct Params {
    rows: u32,
    cols: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let r = id.x + id.y * nw.x * 64u;
    if (r >= p.rows) { return; }
    let o = r * p.cols;
    var dot = 0.0;
    for (var c = 0u; c < p.cols; c++) { dot += dy[o + c] * y[o + c]; }
    for (var c = 0u; c < p.cols; c++) { dx[o + c] = y[o + c] * (dy[o + c] - dot); }
}
