// Mean squared error and its gradient, in one pass:
//   row_loss[r] = mean_c (pred[r, c] − target[r, c])²
//   dpred[r, c] = 2·(pred[r, c] − target[r, c]) / (valid_rows·cols) · f'(pred[r, c])
// where f' is the slope of the last layer's activation at its output pred
// (slope_kind: 0 identity, 1 relu, 2 leaky relu, 3 sigmoid), so dpred is that
// layer's pre-activation gradient, bit for bit activation_backward.wgsl's
// dy * f'(y) on the plain gradient (kind 0 multiplies by 1.0: the plain gradient).
// so that Σ_r row_loss[r] / valid_rows is the batch loss and dpred its gradient.
// Rows r >= s.valid_rows are padding: their loss and gradient are 0.
// pred, tgt (the target; `target` is a WGSL keyword), dpred: (rows, cols); row_loss: (rows). Both outputs overwritten.
// Dispatch: one workgroup of 64 per row (rows have ~784 columns): lanes stride
// over the row, so loads are coalesced, then a tree sum in workgroup memory;
// grid groups_2d(rows).

struct Params {
    rows: u32,
    cols: u32,
    slope_kind: u32,
    slope_alpha: f32,
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

@group(0) @binding(0) var<storage, read> pred: array<f32>;
@group(0) @binding(1) var<storage, read> tgt: array<f32>;
@group(0) @binding(2) var<storage, read_write> dpred: array<f32>;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

var<workgroup> part: array<f32, 64>;

fn slope(v: f32) -> f32 {
    switch p.slope_kind {
        case 1u: { return select(0.0, 1.0, v > 0.0); }
        case 2u: { return select(p.slope_alpha, 1.0, v > 0.0); }
        case 3u: { return v * (1.0 - v); }
        default: { return 1.0; }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nw: vec3<u32>) {
    // r is uniform across the workgroup, so leaving early keeps barriers uniform.
    let r = wg.x + wg.y * nw.x;
    if (r >= p.rows) { return; }
    let valid = r < s.valid_rows;
    let scale = 2.0 / (f32(s.valid_rows) * f32(p.cols));
    let o = r * p.cols;
    var acc = 0.0;
    for (var c = lid; c < p.cols; c += 64u) {
        let y = pred[o + c];
        let d = y - tgt[o + c];
        acc += d * d;
        dpred[o + c] = select(0.0, scale * d, valid) * slope(y);
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
