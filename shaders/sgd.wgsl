// Keras SGD over a contiguous range of the flat parameter buffer:
//   momentum != 0: v = momentum * v - lr * g;  w += v
//   momentum == 0: w -= lr * g  (velocity is neither read nor written)
// grads: (n) at word offset off_g; params: (n) at word offset off_w, updated
// in place; velocity: (n) from word 0, updated in place. lr comes from the
// step uniform (group 1).

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

struct Params {
    n: u32,
    off_w: u32,
    off_g: u32,
    momentum: f32,
}

// Each buffer is bound twice, as vec4 and as f32 (the same buffer in both
// slots): `main` moves 4 elements per load and store (what CPU drivers are
// bound by; offsets must be multiples of 4 words) and finishes the last
// n % 4 elements through the f32 view; `scalar` uses only the f32 views.
@group(0) @binding(0) var<storage, read> grads4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> params4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> velocity4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(6) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

fn update_one(i: u32) {
    let g = grads[p.off_g + i];
    if (p.momentum == 0.0) {
        params[p.off_w + i] -= s.lr * g;
    } else {
        let v = p.momentum * velocity[i] - s.lr * g;
        velocity[i] = v;
        params[p.off_w + i] += v;
    }
}

// One invocation per 4 elements (one vec4); workgroup 64; the grid may be
// 2-D (groups_2d). The invocation of the last, partial quad does its 1-3
// elements one by one.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let q = id.x + id.y * nw.x * 64u;
    let full = p.n / 4u;
    if (q < full) {
        let g = grads4[p.off_g / 4u + q];
        let w = p.off_w / 4u + q;
        if (p.momentum == 0.0) {
            params4[w] -= s.lr * g;
        } else {
            let v = p.momentum * velocity4[q] - s.lr * g;
            velocity4[q] = v;
            params4[w] += v;
        }
    } else if (q == full) {
        for (var i = 4u * full; i < p.n; i++) {
            update_one(i);
        }
    }
}

// Fallback for offsets that are not multiples of 4: 4 elements per
// invocation at stride 64; workgroup 64; the grid may be 2-D.
@compute @workgroup_size(64)
fn scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32,
          @builtin(num_workgroups) nw: vec3<u32>) {
    let base = (wid.x + wid.y * nw.x) * 256u + t;
    for (var j = 0u; j < 4u; j++) {
        let i = base + j * 64u;
        if (i >= p.n) { return; }
        update_one(i);
    }
}
