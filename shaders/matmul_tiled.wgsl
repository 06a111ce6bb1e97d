// C = act(op(A)·op(B) + bias), the classic workgroup-memory tiled matmul for
// real GPUs (on lavapipe barriers and workgroup memory make it slow; see
// matmul_subgroup.wgsl for the CPU-driver variant).
//   FORM 0 (NN): A (m,k), B (k,n).  FORM 1 (NT): A (m,k), B (n,k).
//   FORM 2 (TN): A (k,m), B (k,n).  C (m,n), bias (n) optional. Row-major,
//   each operand `*_off` elements into its buffer.
// Dispatch: one workgroup of 16x16 invocations per 64x64 tile of C (grid
// (ceil(n/64), ceil(m/64))); each invocation owns a 4x4 set of outputs strided
// by 16 so workgroup-memory reads are broadcasts or consecutive. K is walked in
// slabs of 16 staged in workgroup memory with bounds-checked scalar loads, so
// any m, k, n works. C is overwritten.

struct Params {
    m: u32, k: u32, n: u32, act: u32,
    a_off: u32, b_off: u32, bias_off: u32, c_off: u32,
    has_bias: u32, alpha: f32, tiles_n: u32, tiles: u32,
}

// 0: C = A.B, 1: C = A.B^T, 2: C = A^T.B
override FORM: u32 = 0u;

const TILE: u32 = 64u;
const KT: u32 = 16u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> p: Params;

// as_[kx * TILE + row], bs[kx * TILE + col]: one K slab of the A and B tiles.
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

// op(A)[row, kx], zero outside the matrix.
fn load_a(row: u32, kx: u32) -> f32 {
    if (row >= p.m || kx >= p.k) { return 0.0; }
    if (FORM == 2u) { return a[p.a_off + kx * p.m + row]; }
    return a[p.a_off + row * p.k + kx];
}

// op(B)[kx, col], zero outside the matrix.
fn load_b(kx: u32, col: u32) -> f32 {
    if (kx >= p.k || col >= p.n) { return 0.0; }
    if (FORM == 1u) { return b[p.b_off + col * p.k + kx]; }
    return b[p.b_off + kx * p.n + col];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let r0 = wid.y * TILE;
    let c0 = wid.x * TILE;
    var acc: array<array<f32, 4>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += KT) {
        // 1024 elements per slab, 4 per invocation. Consecutive invocations
        // take consecutive addresses of whichever operand layout is in memory.
        for (var i = 0u; i < 4u; i++) {
            let e = li + 256u * i;
            if (FORM == 2u) {
                as_[(e / TILE) * TILE + e % TILE] = load_a(r0 + e % TILE, k0 + e / TILE);
            } else {
                as_[(e % KT) * TILE + e / KT] = load_a(r0 + e / KT, k0 + e % KT);
            }
            if (FORM == 1u) {
                bs[(e % KT) * TILE + e / KT] = load_b(k0 + e % KT, c0 + e / KT);
            } else {
                bs[(e / TILE) * TILE + e % TILE] = load_b(k0 + e / TILE, c0 + e % TILE);
            }
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
    for (var i = 0u; i < 4u; i++) {
        let row = r0 + lid.y + 16u * i;
        if (row >= p.m) { continue; }
        for (var j = 0u; j < 4u; j++) {
            let col = c0 + lid.x + 16u * j;
            if (col >= p.n) { continue; }
            var v = acc[i][j];
            if (p.has_bias != 0u) { v += bias[p.bias_off + col]; }
            c[p.c_off + row * p.n + col] = act(v);
        }
    }
}
