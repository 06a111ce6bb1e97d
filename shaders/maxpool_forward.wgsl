// Max-pooling forward, one channel per invocation (channels % 4 != 0):
//   y[b, oy, ox, c] = max over the window's in-image positions of x[b, iy, ix, c]
//   argmax[b, oy, ox, c] = flat index into x of the winner (the first maximum
//   in the window's row-major order: later equal values do not replace it).
// x: (batch, h, w, c); y, argmax (u32): (batch, oh, ow, c), both overwritten.
// The window of output (oy, ox) covers padded rows [oy*stride, oy*stride+pool)
// and image row iy sits at padded row iy + pad_top; positions outside the
// image are clipped away, which is the same as padding with -inf.
// One invocation per output element, channel fastest; workgroup 64; the grid
// may be 2-D (groups_2d). maxpool_forward_vec4.wgsl is this with 4 channels.

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
    n: u32,        // invocations: batch * oh * ow * c
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(3) var<storage, read> p: Params;

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
    // Clip the window to the image; it always keeps at least one position.
    let iy0 = max(oy * p.stride, p.pad_top) - p.pad_top;
    let iy1 = min(oy * p.stride + p.pool, p.pad_top + p.h) - p.pad_top;
    let ix0 = max(ox * p.stride, p.pad_left) - p.pad_left;
    let ix1 = min(ox * p.stride + p.pool, p.pad_left + p.w) - p.pad_left;
    // Start from the first position so -inf inputs still name a winner.
    var arg = ((b * p.h + iy0) * p.w + ix0) * p.c + ch;
    var best = x[arg];
    for (var iy = iy0; iy < iy1; iy++) {
        for (var ix = ix0; ix < ix1; ix++) {
            let i = ((b * p.h + iy) * p.w + ix) * p.c + ch;
            let v = x[i];
            // Strict > keeps the first maximum on ties.
            if (v > best) {
                best = v;
                arg = i;
            }
        }
    }
    y[o] = best;
    argmax[o] = arg;
}
