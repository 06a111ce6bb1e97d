// Appends one batch into a bigger matrix at the row the step uniform names,
// so one pre-built dispatch serves every batch of an epoch:
//   dst[batch_start + r, :] = src[r, :] for r < min(rows, valid_rows)
//   and batch_start + r < dst_rows.
// Padding rows (r >= valid_rows) are skipped so they never overwrite the next
// batch's rows; rows past dst's end are skipped rather than left to robust
// buffer access, which may clamp them onto real rows.
// src: (rows, features); dst: (dst_rows, features). The rows written are
// overwritten, every other row of dst is left as it was.
// Dispatch: workgroup 64, each invocation handles 4 elements of src 64 apart;
// grid from groups_2d(rows·features / 256).

struct Params {
    rows: u32,
    features: u32,
    dst_rows: u32,
    _pad: u32,
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

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nw: vec3<u32>) {
    let n = min(p.rows, s.valid_rows) * p.features;
    let base = (wg.x + wg.y * nw.x) * 256u + lid;
    for (var k = 0u; k < 4u; k++) {
        let i = base + k * 64u;
        if (i >= n) { return; }
        let r = i / p.features;
        let f = i - r * p.features;
        let d = s.batch_start + r;
        if (d < p.dst_rows) {
            dst[d * p.features + f] = src[i];
        }
    }
}
