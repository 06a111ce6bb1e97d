// Binary cross-entropy fused with a sigmoid output layer, Keras semantics:
//   row_loss[r] = mean_c −(t·ln p̂ + (1 − t)·ln(1 − p̂)),  p̂ = clamp(p, 1e-7, 1 − 1e-7)
//   dlogits[r, c] = (p − t) / (valid_rows·cols)
// where probs p = sigmoid(logits) was written by the layer; the gradient is
// with respect to the LOGITS (sigmoid's derivative cancels the loss's), so the
// layer's backward must not apply sigmoid's slope again. It uses the
// unclipped p (the clip only guards the logarithm).
// Rows r >= s.valid_rows are padding: their loss and gradient are 0.
// probs, tgt (the target; `target` is a WGSL keyword), dlogits: (rows, cols); row_loss: (rows). Outputs overwritten.
// Dispatch: one workgroup of 64 per row, lanes striding over the row, tree sum
// in workgroup memory; grid groups_2d(rows).

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

@group(0) @binding(0) var<storage, read> probs: array<f32>;
@group(0) @binding(1) var<storage, read> tgt: array<f32>;
@group(0) @binding(2) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

var<workgroup> part: array<f32, 64>;

const EPS: f32 = 1e-7;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nw: vec3<u32>) {
    // r is uniform across the workgroup, so leaving early keeps barriers uniform.
    let r = wg.x + wg.y * nw.x;
    if (r >= p.rows) { return; }
    let valid = r < s.valid_rows;
    let scale = 1.0 / (f32(s.valid_rows) * f32(p.cols));
    let o = r * p.cols;
    var acc = 0.0;
    for (var c = lid; c < p.cols; c += 64u) {
        let q = probs[o + c];
        let t = tgt[o + c];
        let qc = clamp(q, EPS, 1.0 - EPS);
        acc -= t * log(qc) + (1.0 - t) * log(1.0 - qc);
        dlogits[o + c] = select(0.0, (q - t) * scale, valid);
    }
    part[lid] = acc;
    workgroupBarrier();
    // Fixed-shape tree: the same inputs always sum in the same order.
    for (var w = 32u; w > 0u; w >>= 1u) {
        if (lid < w) { part[lid] += part[lid + w]; }
        workgroupBarrier();
    }
    if (lid == 0u) { row_loss[r] = select(0.0, part[0] / f32(p.cols), valid); }
}
