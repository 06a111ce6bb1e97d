// Softmax cross-entropy over integer labels, fused: softmax, loss, gradient
// and correctness in one pass.
//   probs[r, :]     = softmax(logits[r, :])           (max-subtracted; all rows)
//   row_loss[r]     = −ln(max(probs[r, label], 1e-7))
//   dlogits[r, c]   = (probs[r, c] − [c == label]) / valid_rows
//   row_correct[r]  = 1.0 if the first argmax of logits[r, :] is label, else 0.0
// Rows r >= s.valid_rows are padding: loss, gradient and correct are 0. A
// label >= classes matches no class (loss −ln 1e-7, never correct).
// logits, probs, dlogits: (rows, classes); labels: (rows) u32; row_loss,
// row_correct: (rows). All outputs overwritten.
// Dispatch: one invocation per row (~10 classes); workgroup 64; grid
// groups_2d(rows / 64).

struct Params {
    rows: u32,
    classes: u32,
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

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> row_correct: array<f32>;
@group(0) @binding(6) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let r = id.x + id.y * nw.x * 64u;
    if (r >= p.rows || p.classes == 0u) { return; }
    let o = r * p.classes;
    let label = labels[r];
    let valid = r < s.valid_rows;
    // Strict > keeps the first of tied maxima, as numpy's argmax does.
    var m = logits[o];
    var arg = 0u;
    for (var c = 1u; c < p.classes; c++) {
        let v = logits[o + c];
        if (v > m) { m = v; arg = c; }
    }
    var total = 0.0;
    for (var c = 0u; c < p.classes; c++) {
        let e = exp(logits[o + c] - m);
        probs[o + c] = e;
        total += e;
    }
    let inv = 1.0 / total;
    let g = 1.0 / f32(s.valid_rows);
    var p_label = 0.0;
    for (var c = 0u; c < p.classes; c++) {
        let q = probs[o + c] * inv;
        probs[o + c] = q;
        let hit = c == label;
        p_label = select(p_label, q, hit);
        dlogits[o + c] = select(0.0, (q - select(0.0, 1.0, hit)) * g, valid);
    }
    row_loss[r] = select(0.0, -log(max(p_label, 1e-7)), valid);
    row_correct[r] = select(0.0, 1.0, valid && arg == label);
}
