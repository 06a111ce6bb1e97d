// Convolution passes whose GEMM has a single output column (N = 1: a layer
// with cout = 1, or the input gradient of one with cin = 1), for CPU drivers
// (lavapipe), where the 32-column subgroup tiles would waste 31 of 32
// columns. Needs sc (the channels summed over) and the W/bias offsets to be
// multiples of 4. Bindings: a = src / x (vec4s), b = W (vec4s), aux = bias /
// dy (scalars), c = output (scalars).
//   Entry `rows` (PASS 0 forward, PASS 1 backward input): C[r] = act(Σ_k A[r,k]·w[k] + bias)
//     with A[(b,y,x), (ky,kx,c)] = src[b, y + sgn*ky + off, x + sgn*kx + off, c] (0 in the
//     padding), src (batch, sh, sw, sc); w[(tap, c)] = W[w_off + tap*sc + c] in both passes
//     (W (ks, ks, sc, 1) forward, (ks, ks, 1, sc) backward input); C (batch, dh, dw) + c_off.
//     One invocation per 8 consecutive rows (8 vec4 accumulators over channels),
//     workgroup 64, grid ceil(m / 512) split over x and y. C is overwritten.
//   Entry `weight`: dW[(ky,kx,c)] = Σ_pixels x[b, y + ky + off, x + kx + off, c]·dy[b, y, x]
//     for x (batch, sh, sw, sc), dy (batch, dh, dw) (binding 2; binding 1 unused), m = ks*ks*sc.
//     One invocation per (split, 4 channels of one tap); split s sums pixels
//     [s*chunk, min((s+1)*chunk, k)) into C + c_off + s*m, overwritten (summed
//     by conv2d_reduce.wgsl). Grid ceil(m/4 * splits / 64) split over x and y.

struct Params {
    m: u32, k: u32, n: u32, act: u32,
    alpha: f32, has_bias: u32, w_off: u32, b_off: u32,
    tiles_n: u32, tiles: u32, chunk: u32, c_off: u32,
    ks: u32, sh: u32, sw: u32, sc: u32,
    dh: u32, dw: u32, sgn: i32, off: i32,
}

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
// Scalar binding: the bias (rows) or dy (weight), whose lengths need not be multiples of 4.
@group(0) @binding(2) var<storage, read> aux: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> p: Params;

fn act(v: f32) -> f32 {
    switch p.act {
        case 1u: { return max(v, 0.0); }
        case 2u: { return select(p.alpha * v, v, v > 0.0); }
        case 3u: { return 1.0 / (1.0 + exp(-v)); }
        default: { return v; }
    }
}

fn inside(y: i32, x: i32) -> bool { return y >= 0 && y < i32(p.sh) && x >= 0 && x < i32(p.sw); }

// Row r's destination pixel: (y, x) and the first pixel index of its image in src.
fn pixel(r: u32) -> vec3<i32> {
    let plane = p.dh * p.dw;
    let rr = min(r, p.m - 1u);
    return vec3(i32((rr % plane) / p.dw), i32(rr % p.dw), i32((rr / plane) * p.sh * p.sw));
}

// Index (in vec4s) of the source pixel under tap offset (oy, ox), or -1 in the padding.
fn src(q: vec3<i32>, oy: i32, ox: i32) -> i32 {
    let y = q.x + oy; let x = q.y + ox;
    return select(-1, (q.z + y * i32(p.sw) + x) * i32(p.sc / 4u), inside(y, x));
}

fn ld(i: i32, cq: u32) -> vec4<f32> { return select(vec4(0.0), a[u32(max(i, 0)) + cq], i >= 0); }

@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let r0 = (id.x + id.y * nw.x * 64u) * 8u;
    if (r0 >= p.m) { return; }
    let q0 = pixel(r0); let q1 = pixel(r0 + 1u); let q2 = pixel(r0 + 2u); let q3 = pixel(r0 + 3u);
    let q4 = pixel(r0 + 4u); let q5 = pixel(r0 + 5u); let q6 = pixel(r0 + 6u); let q7 = pixel(r0 + 7u);
    var s0 = vec4(0.0); var s1 = vec4(0.0); var s2 = vec4(0.0); var s3 = vec4(0.0);
    var s4 = vec4(0.0); var s5 = vec4(0.0); var s6 = vec4(0.0); var s7 = vec4(0.0);
    let cv = p.sc / 4u;
    for (var ky = 0u; ky < p.ks; ky++) {
        let oy = p.sgn * i32(ky) + p.off;
        for (var kx = 0u; kx < p.ks; kx++) {
            let ox = p.sgn * i32(kx) + p.off;
            let i0 = src(q0, oy, ox); let i1 = src(q1, oy, ox); let i2 = src(q2, oy, ox); let i3 = src(q3, oy, ox);
            let i4 = src(q4, oy, ox); let i5 = src(q5, oy, ox); let i6 = src(q6, oy, ox); let i7 = src(q7, oy, ox);
            let ib = (p.w_off + (ky * p.ks + kx) * p.sc) / 4u;
            for (var cq = 0u; cq < cv; cq++) {
                let wv = b[ib + cq];
                s0 = fma(ld(i0, cq), wv, s0); s1 = fma(ld(i1, cq), wv, s1);
                s2 = fma(ld(i2, cq), wv, s2); s3 = fma(ld(i3, cq), wv, s3);
                s4 = fma(ld(i4, cq), wv, s4); s5 = fma(ld(i5, cq), wv, s5);
                s6 = fma(ld(i6, cq), wv, s6); s7 = fma(ld(i7, cq), wv, s7);
            }
        }
    }
    var bv = 0.0;
    if (p.has_bias != 0u) { bv = aux[p.b_off]; }
    store(r0, s0, bv); store(r0 + 1u, s1, bv); store(r0 + 2u, s2, bv); store(r0 + 3u, s3, bv);
    store(r0 + 4u, s4, bv); store(r0 + 5u, s5, bv); store(r0 + 6u, s6, bv); store(r0 + 7u, s7, bv);
}

fn store(r: u32, s: vec4<f32>, bv: f32) {
    if (r < p.m) { c[p.c_off + r] = act(dot(s, vec4(1.0)) + bv); }
}

@compute @workgroup_size(64)
fn weight(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let i = id.x + id.y * nw.x * 64u;
    let groups = p.m / 4u;
    let split = i / groups;
    if (split * p.chunk >= p.k) { return; }
    let g = i % groups;
    let tap = (g * 4u) / p.sc;
    let cq = g % (p.sc / 4u);
    let oy = i32(tap / p.ks) + p.off; let ox = i32(tap % p.ks) + p.off;
    let k0 = split * p.chunk;
    let k1 = min(k0 + p.chunk, p.k);
    let plane = p.dh * p.dw;
    // The pixel (image, y, x) advances by carries, not divisions.
    var pn = k0 / plane; var py = (k0 % plane) / p.dw; var px = k0 % p.dw;
    var s = vec4(0.0);
    for (var kk = k0; kk < k1; kk++) {
        let i = src(vec3(i32(py), i32(px), i32(pn * p.sh * p.sw)), oy, ox);
        s = fma(ld(i, cq), vec4(aux[kk]), s);
        px += 1u; if (px == p.dw) { px = 0u; py += 1u; if (py == p.dh) { py = 0u; pn += 1u; } }
    }
    let o = p.c_off + split * p.m + g * 4u;
    c[o] = s.x; c[o + 1u] = s.y; c[o + 2u] = s.z; c[o + 3u] = s.w;
}
