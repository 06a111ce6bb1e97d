// Convolution (stride 1) as an implicit GEMM on the classic workgroup-memory
// tiled matmul, for real GPUs (on lavapipe barriers and workgroup memory are
// slow; see conv2d_subgroup.wgsl). Any shape works: every load is a
// bounds-checked scalar gather, padding reads as 0.
//   PASS 0 (forward):        C = act(A·W + bias); A[(b,y,x), (ky,kx,c)] = src[b, y+ky+off, x+kx+off, c]
//                            with src = x (batch, sh, sw, sc), W (ks, ks, sc, n) + w_off,
//                            bias (n) + b_off, C = y (batch, dh, dw, n).
//   PASS 1 (backward input): C = A·B; A as above with sgn = -1 (the flipped kernel),
//                            src = dy (batch, sh, sw, sc), B[(tap, co), ci] = W[tap, ci, co]
//                            (W (ks, ks, n, sc) + w_off), C = dx (batch, dh, dw, n).
//   PASS 2 (weight grad):    C = Aᵀ·dy with A the forward's im2col of x, dy (batch*dh*dw, n),
//                            C = dW (ks*ks*sc, n); split s (grid z) sums pixels
//                            [s*chunk, (s+1)*chunk) into C + c_off + s*m*n.
// Dispatch: one workgroup of 16x16 invocations per 64x64 tile of C, grid
// (ceil(n/64), ceil(m/64), splits); each invocation owns a 4x4 set of outputs
// strided by 16. K is walked in slabs of 16 staged in workgroup memory.
// C is overwritten.

struct Params {
    m: u32, k: u32, n: u32, act: u32,
    alpha: f32, has_bias: u32, w_off: u32, b_off: u32,
    tiles_n: u32, tiles: u32, chunk: u32, c_off: u32,
    ks: u32, sh: u32, sw: u32, sc: u32,
    dh: u32, dw: u32, sgn: i32, off: i32,
}

// 0: forward, 1: backward input, 2: weight gradient
override PASS: u32 = 0u;

const TILE: u32 = 64u;
const KT: u32 = 16u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> p: Params;

var<workgroup> as_: array<f32, 1024>;
var<workgroup> bs: array<f32, 1024>;

fn act(v: f32) -> f32 {
    switch p.act {
        case 1u: { return max(v, 0.0); }
        case 2u: { return select(p.alpha * v, v, v > 0.0); }
        case 3u: { return 1.0 / (1.0 + exp(-v)); }
        default: { return v; }
    }
}

// src[pixel, tap, c] for destination pixel `pix` (of the dh x dw grid), 0 in the padding.
fn gather(pix: u32, tap: u32, ch: u32) -> f32 {
    let plane = p.dh * p.dw;
    let img = pix / plane;
    let y = i32((pix % plane) / p.dw) + p.sgn * i32(tap / p.ks) + p.off;
    let x = i32(pix % p.dw) + p.sgn * i32(tap % p.ks) + p.off;
    if (y < 0 || y >= i32(p.sh) || x < 0 || x >= i32(p.sw)) { return 0.0; }
    return a[((img * p.sh + u32(y)) * p.sw + u32(x)) * p.sc + ch];
}

// op(A)[row, kx] within [0, m) x [klo, khi), 0 outside.
fn load_a(row: u32, kx: u32, khi: u32) -> f32 {
    if (row >= p.m || kx >= khi) { return 0.0; }
    if (PASS == 2u) { return gather(kx, row / p.sc, row % p.sc); }
    return gather(row, kx / p.sc, kx % p.sc);
}

// op(B)[kx, col], 0 outside.
fn load_b(kx: u32, col: u32, khi: u32) -> f32 {
    if (kx >= khi || col >= p.n) { return 0.0; }
    if (PASS == 1u) { return b[p.w_off + ((kx / p.sc) * p.n + col) * p.sc + kx % p.sc]; }
    if (PASS == 2u) { return b[kx * p.n + col]; }
    return b[p.w_off + kx * p.n + col];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let r0 = wid.y * TILE;
    let c0 = wid.x * TILE;
    var klo = 0u;
    var khi = p.k;
    if (PASS == 2u) {
        klo = wid.z * p.chunk;
        khi = min(klo + p.chunk, p.k);
    }
    var acc: array<array<f32, 4>, 4>;
    for (var k0 = klo; k0 < khi; k0 += KT) {
        // 1024 elements per slab, 4 per invocation; consecutive invocations
        // take consecutive rows of the output pixels (and so of memory).
        for (var i = 0u; i < 4u; i++) {
            let e = li + 256u * i;
            as_[(e / TILE) * TILE + e % TILE] = load_a(r0 + e % TILE, k0 + e / TILE, khi);
            bs[(e / TILE) * TILE + e % TILE] = load_b(k0 + e / TILE, c0 + e % TILE, khi);
        }
        workgroupBarrier();
        for (var kx = 0u; kx < KT; kx++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                av[i] = as_[kx * TILE + lid.y + 16u * i];
                bv[i] = bs[kx * TILE + lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }
    let base = p.c_off + wid.z * p.m * p.n;
    for (var i = 0u; i < 4u; i++) {
        let row = r0 + lid.y + 16u * i;
        if (row >= p.m) { continue; }
        for (var j = 0u; j < 4u; j++) {
            let col = c0 + lid.x + 16u * j;
            if (col >= p.n) { continue; }
            var v = acc[i][j];
            if (PASS == 0u) {
                if (p.has_bias != 0u) { v += bias[p.b_off + col]; }
                v = act(v);
            }
            c[base + row * p.n + col] = v;
        }
    }
}
