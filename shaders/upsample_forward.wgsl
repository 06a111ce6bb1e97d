// Nearest-neighbour upsampling forward by an integer factor f, one channel
// per invocation (channels % 4 != 0):
//   y[b, oy, ox, c] = x[b, oy / f, ox / f, c]
// x: (batch, h, w, c); y: (batch, h*f, w*f, c), overwritten.
// One invocation per INPUT element, channel fastest: it loads x once and
// stores its f×f block of y. Workgroup 64; the grid may be 2-D (groups_2d).
// upsample_forward_vec4.wgsl is this with 4 channels per invocation.

struct Params {
    batch: u32,
    h: u32,
    w: u32,
    c: u32,        // channels (in vec4 units in the vec4 variant)
    factor: u32,
    n: u32,        // invocations: batch * h * w * c
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let i = id.x + id.y * nw.x * 64u;
    if (i >= p.n) { return; }
    let ch = i % p.c;
    var r = i / p.c;
    let ix = r % p.w;
    r = r / p.w;
    let iy = r % p.h;
    let b = r / p.h;
    let f = p.factor;
    let ow = p.w * f;
    let v = x[i];
    for (var dy = 0u; dy < f; dy++) {
        let row = (b * p.h + iy) * f + dy;
        for (var dx = 0u; dx < f; dx++) {
            y[(row * ow + ix * f + dx) * p.c + ch] = v;
        }
    }
}
