// Classification correctness per row: row_correct[r] = 1.0 if the first
// argmax of scores[r, :] equals labels[r], else 0.0; rows r >= s.valid_rows
// are padding and get 0.0. Works on any score matrix (logits, probabilities,
// distances negated...).
// scores: (rows, cols); labels: (rows) u32; row_correct: (rows), overwritten.
// Dispatch: one invocation per row; workgroup 64; grid groups_2d(rows / 64).

struct Params {
    rows: u32,
    cols: u32,
    _pad0: u32,
    _pad1: u32,
}

struct Step {
    step: u32,
    batch_start: u32,
    seed: u32,
    valid_rows: u32,
    lr: f32,
    bias_correction1: f32,
    bias_correction2: f32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> scores: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> row_correct: array<f32>;
@group(0) @binding(3) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let r = id.x + id.y * nw.x * 64u;
    if (r >= p.rows) { return; }
    if (p.cols == 0u) { row_correct[r] = 0.0; return; }
    let o = r * p.cols;
    // Strict > keeps the first of tied maxima.
    var m = scores[o];
    var arg = 0u;
    for (var c = 1u; c < p.cols; c++) {
        let v = scores[o + c];
        if (v > m) { m = v; arg = c; }
    }
    row_correct[r] = select(0.0, 1.0, r < s.valid_rows && arg == labels[r]);
}
