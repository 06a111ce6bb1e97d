// Gradient of the L2 penalty factor * sum(w^2), ADDED INTO the gradient:
//   g += 2 * factor * w
// params: (n) at word offset off_w; grads: (n) at word offset off_g, added
// into. The scheduler applies it to each kernel's range, not to biases.

struct Params {
    n: u32,
    off_w: u32,
    off_g: u32,
    factor: f32,
}

// Each buffer is bound twice, as vec4 and as f32 (the same buffer in both
// slots): `main` moves 4 elements per load and store (what CPU drivers are
// bound by; offsets must be multiples of 4 words) and finishes the last
// n % 4 elements through the f32 view; `scalar` uses only the f32 views.
@group(0) @binding(0) var<storage, read> params4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> grads4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;
@group(0) @binding(4) var<storage, read> p: Params;

// One invocation per 4 elements (one vec4); workgroup 64; the grid may be
// 2-D (groups_2d). The invocation of the last, partial quad does its 1-3
// elements one by one.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let q = id.x + id.y * nw.x * 64u;
    let full = p.n / 4u;
    let k = 2.0 * p.factor;
    if (q < full) {
        grads4[p.off_g / 4u + q] += k * params4[p.off_w / 4u + q];
    } else if (q == full) {
        for (var i = 4u * full; i < p.n; i++) {
            grads[p.off_g + i] += k * params[p.off_w + i];
        }
    }
}

// Fallback for offsets that are not multiples of 4: 4 elements per
// invocation at stride 64; workgroup 64; the grid may be 2-D.
@compute @workgroup_size(64)
fn scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32,
          @builtin(num_workgroups) nw: vec3<u32>) {
    let base = (wid.x + wid.y * nw.x) * 256u + t;
    let k = 2.0 * p.factor;
    for (var j = 0u; j < 4u; j++) {
        let i = base + j * 64u;
        if (i >= p.n) { return; }
        grads[p.off_g + i] += k * params[p.off_w + i];
    }
}
