// Max-pooling backward for stride == pool (the presets), one channel per
// invocation (channels % 4 != 0):
//   dx[i] = dy[o] where argmax[o] == i for the one window o holding i, else 0
// dy, argmax (u32, from maxpool_forward): (batch, oh, ow, c);
// dx: (batch, h, w, c), overwritten (zero where no window picked it).
// One invocation per OUTPUT element, channel fastest: it loads dy and argmax
// once and writes its whole window of dx, instead of every input reloading
// them. Windows do not overlap, so no two invocations write the same dx. The
// last window row and column also zero the trailing image rows and columns
// that 'valid' padding leaves out of every window, so all of dx is written.
// Workgroup 64; the grid may be 2-D (groups_2d). maxpool_backward.wgsl
// handles stride != pool; maxpool_backward_window_vec4.wgsl is this with 4
// channels per invocation.

struct Params {
    batch: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    pool: u32,
    stride: u32,   // == pool
    pad_top: u32,
    pad_left: u32,
    n: u32,        // invocations: batch * oh * ow * c
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
    let o = id.x + id.y * nw.x * 64u;
    if (o >= p.n) { return; }
    let ch = o % p.c;
    var r = o / p.c;
    let ox = r % p.ow;
    r = r / p.ow;
    let oy = r % p.oh;
    let b = r / p.oh;
    let iy0 = max(oy * p.pool, p.pad_top) - p.pad_top;
    let ix0 = max(ox * p.pool, p.pad_left) - p.pad_left;
    let iy1 = select(min(oy * p.pool + p.pool, p.pad_top + p.h) - p.pad_top, p.h, oy + 1u == p.oh);
    let ix1 = select(min(ox * p.pool + p.pool, p.pad_left + p.w) - p.pad_left, p.w, ox + 1u == p.ow);
    let g = dy[o];
    let a = argmax[o];
    for (var iy = iy0; iy < iy1; iy++) {
        for (var ix = ix0; ix < ix1; ix++) {
            let i = ((b * p.h + iy) * p.w + ix) * p.c + ch;
            var gi = g;
            if (SLOPE == 1u) { gi = g * slope(y[i]); }
            dx[i] = select(0.0, gi, a == i);
        }
    }
}
