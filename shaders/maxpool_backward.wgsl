// Max-pooling backward, one channel per invocation (channels % 4 != 0):
//   dx[i] = Σ over the outputs o whose window holds i and whose argmax[o] == i
//           of dy[o]
// dy, argmax (u32, from maxpool_forward): (batch, oh, ow, c);
// dx: (batch, h, w, c), overwritten (zero where no window picked it).
// One invocation per INPUT element, channel fastest, so no two invocations
// write the same dx and no atomics are needed. Image row iy sits at padded row
// py = iy + pad_top, inside the windows oy with oy*stride <= py <
// oy*stride + pool: at most one when stride == pool (the presets), several
// when stride < pool. The launcher uses it for stride != pool only: the
// maxpool_backward_window*.wgsl variants are faster for stride == pool.
// Workgroup 64; the grid may be 2-D (groups_2d).
// maxpool_backward_vec4.wgsl is this with 4 channels per invocation.

struct Params {
    batch: u32,
    h: u32,
    w: u32,
    c: u32,        // channels (in vec4 units in the vec4 variant)
    oh: u32,
    ow: u32,
    pool: u32,
    stride: u32,
    pad_top: u32,
    pad_left: u32,
    n: u32,        // invocations: batch * h * w * c
    slope_kind: u32,   // SLOPE = 1: 0 identity, 1 relu, 2 leaky relu, 3 sigmoid
    slope_alpha: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<u32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<storage, read> p: Params;

@group(0) @binding(4) var<storage, read> y: array<f32>;   // SLOPE = 1 only

// SLOPE = 1: the layer before this one ends in an activation whose output is
// this pass's x; dx is multiplied by its slope at x (y below), so dx is that
// layer's pre-activation gradient, bit for bit what activation_backward.wgsl
// would compute from this pass's plain dx.
override SLOPE: u32 = 0u;

fn slope(v: f32) -> f32 {
    switch p.slope_kind {
        case 1u: { return select(0.0, 1.0, v > 0.0); }
        case 2u: { return select(p.slope_alpha, 1.0, v > 0.0); }
        case 3u: { return v * (1.0 - v); }
        default: { return 1.0; }
    }
}

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
    let py = iy + p.pad_top;
    let px = ix + p.pad_left;
    // First window holding py: oy > (py - pool) / stride.
    let oy0 = select(0u, (py - p.pool) / p.stride + 1u, py >= p.pool);
    let ox0 = select(0u, (px - p.pool) / p.stride + 1u, px >= p.pool);
    let oy1 = min(py / p.stride + 1u, p.oh);
    let ox1 = min(px / p.stride + 1u, p.ow);
    var acc = 0.0;
    for (var oy = oy0; oy < oy1; oy++) {
        for (var ox = ox0; ox < ox1; ox++) {
            let o = ((b * p.oh + oy) * p.ow + ox) * p.c + ch;
            acc += select(0.0, dy[o], argmax[o] == i);
        }
    }
    if (SLOPE == 1u) { dx[i] = acc * slope(y[i]); } else { dx[i] = acc; }
}
