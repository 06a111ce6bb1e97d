// C = act(op(A)·op(B) + bias), register-blocked with subgroupBroadcast of A,
// for CPU drivers (lavapipe): the path for any shape (scalar loads).
//   FORM 0 (NN): A (m,k), B (k,n).  FORM 1 (NT): A (m,k), B (n,k).
//   FORM 2 (TN): A (k,m), B (k,n).  C (m,n), bias (n) when has_bias.
//   Row-major, each operand `*_off` elements into its buffer; m, k, n >= 1
//   arbitrary. C is overwritten.
// Dispatch and register plan as matmul_subgroup.wgsl (one S-lane subgroup per
// 32 x 4S tile, workgroup 64, 32 named vec4 accumulators per lane), but every
// operand is read as scalars with rows and columns clamped into range and k
// past the end read as zero, so ragged widths such as 10 need no padding.
// Written out in full for the same reason: loops over private arrays of
// accumulators are ~10x slower on lavapipe.

const NSG: u32 = 16u;   // subgroups per workgroup
const TN: u32 = 16u;  // columns of one subgroup tile: 4 lanes x 4

struct Params {
    m: u32, k: u32, n: u32, act: u32,
    a_off: u32, b_off: u32, bias_off: u32, c_off: u32,
    has_bias: u32, alpha: f32, tiles_n: u32, tiles: u32,
}

// 0: C = A.B, 1: C = A.B^T, 2: C = A^T.B
override FORM: u32 = 0u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> p: Params;

fn act(v: vec4<f32>) -> vec4<f32> {
    switch p.act {
        case 1u: { return max(v, vec4(0.0)); }
        case 2u: { return select(p.alpha * v, v, v > vec4(0.0)); }
        case 3u: { return 1.0 / (1.0 + exp(-v)); }
        default: { return v; }
    }
}

// acc + x.x*b0 + x.y*b1 + x.z*b2 + x.w*b3: one row's 4-column update over 4 k.
fn mac(acc: vec4<f32>, x: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) -> vec4<f32> {
    return fma(vec4(x.w), b3, fma(vec4(x.z), b2, fma(vec4(x.y), b1, fma(vec4(x.x), b0, acc))));
}

// Loads with the k index clamped into range and the value zeroed past K.
fn ldA(i: u32, ok: bool) -> f32 { return select(0.0, a[i], ok); }
fn ldB(i: u32, ok: bool) -> f32 { return select(0.0, b[i], ok); }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
    let tile = (wid.x + wid.y * nw.x) * NSG + sg;
    // Whole-subgroup exit only: lanes of a live subgroup must all reach the broadcasts.
    if (tile >= p.tiles) { return; }
    let M = p.m; let K = p.k; let N = p.n;
    let r0 = (tile / p.tiles_n) * 32u;
    let cbase = (tile % p.tiles_n) * TN + lane * 4u;
    // This lane loads A for rows ra + 0..7 and broadcasts them to the subgroup.
    let ra = r0 + lane * 8u;
    let cc0 = cbase + 0u;
    var acc0_0 = vec4(0.0);
    var acc1_0 = vec4(0.0);
    var acc2_0 = vec4(0.0);
    var acc3_0 = vec4(0.0);
    var acc4_0 = vec4(0.0);
    var acc5_0 = vec4(0.0);
    var acc6_0 = vec4(0.0);
    var acc7_0 = vec4(0.0);
    var acc8_0 = vec4(0.0);
    var acc9_0 = vec4(0.0);
    var acc10_0 = vec4(0.0);
    var acc11_0 = vec4(0.0);
    var acc12_0 = vec4(0.0);
    var acc13_0 = vec4(0.0);
    var acc14_0 = vec4(0.0);
    var acc15_0 = vec4(0.0);
    var acc16_0 = vec4(0.0);
    var acc17_0 = vec4(0.0);
    var acc18_0 = vec4(0.0);
    var acc19_0 = vec4(0.0);
    var acc20_0 = vec4(0.0);
    var acc21_0 = vec4(0.0);
    var acc22_0 = vec4(0.0);
    var acc23_0 = vec4(0.0);
    var acc24_0 = vec4(0.0);
    var acc25_0 = vec4(0.0);
    var acc26_0 = vec4(0.0);
    var acc27_0 = vec4(0.0);
    var acc28_0 = vec4(0.0);
    var acc29_0 = vec4(0.0);
    var acc30_0 = vec4(0.0);
    var acc31_0 = vec4(0.0);
    // Clamped rows and columns keep every load in range; their results are never stored.
    let ar0 = min(ra, M - 1u); let ar1 = min(ra + 1u, M - 1u); let ar2 = min(ra + 2u, M - 1u); let ar3 = min(ra + 3u, M - 1u); let ar4 = min(ra + 4u, M - 1u); let ar5 = min(ra + 5u, M - 1u); let ar6 = min(ra + 6u, M - 1u); let ar7 = min(ra + 7u, M - 1u);
    let bc0_0 = min(cc0 + 0u, N - 1u);
    let bc0_1 = min(cc0 + 1u, N - 1u);
    let bc0_2 = min(cc0 + 2u, N - 1u);
    let bc0_3 = min(cc0 + 3u, N - 1u);
    for (var kk = 0u; kk < K; kk += 4u) {
        let k0 = kk; let k1 = min(kk + 1u, K - 1u); let k2 = min(kk + 2u, K - 1u); let k3 = min(kk + 3u, K - 1u);
        let o1 = kk + 1u < K; let o2 = kk + 2u < K; let o3 = kk + 3u < K;
        var x0: vec4<f32>; var x1: vec4<f32>; var x2: vec4<f32>; var x3: vec4<f32>; var x4: vec4<f32>; var x5: vec4<f32>; var x6: vec4<f32>; var x7: vec4<f32>;
        if (FORM == 2u) {
            x0 = vec4(ldA(p.a_off + k0 * M + ar0, true), ldA(p.a_off + k1 * M + ar0, o1), ldA(p.a_off + k2 * M + ar0, o2), ldA(p.a_off + k3 * M + ar0, o3));
            x1 = vec4(ldA(p.a_off + k0 * M + ar1, true), ldA(p.a_off + k1 * M + ar1, o1), ldA(p.a_off + k2 * M + ar1, o2), ldA(p.a_off + k3 * M + ar1, o3));
            x2 = vec4(ldA(p.a_off + k0 * M + ar2, true), ldA(p.a_off + k1 * M + ar2, o1), ldA(p.a_off + k2 * M + ar2, o2), ldA(p.a_off + k3 * M + ar2, o3));
            x3 = vec4(ldA(p.a_off + k0 * M + ar3, true), ldA(p.a_off + k1 * M + ar3, o1), ldA(p.a_off + k2 * M + ar3, o2), ldA(p.a_off + k3 * M + ar3, o3));
            x4 = vec4(ldA(p.a_off + k0 * M + ar4, true), ldA(p.a_off + k1 * M + ar4, o1), ldA(p.a_off + k2 * M + ar4, o2), ldA(p.a_off + k3 * M + ar4, o3));
            x5 = vec4(ldA(p.a_off + k0 * M + ar5, true), ldA(p.a_off + k1 * M + ar5, o1), ldA(p.a_off + k2 * M + ar5, o2), ldA(p.a_off + k3 * M + ar5, o3));
            x6 = vec4(ldA(p.a_off + k0 * M + ar6, true), ldA(p.a_off + k1 * M + ar6, o1), ldA(p.a_off + k2 * M + ar6, o2), ldA(p.a_off + k3 * M + ar6, o3));
            x7 = vec4(ldA(p.a_off + k0 * M + ar7, true), ldA(p.a_off + k1 * M + ar7, o1), ldA(p.a_off + k2 * M + ar7, o2), ldA(p.a_off + k3 * M + ar7, o3));
        } else {
            x0 = vec4(ldA(p.a_off + ar0 * K + k0, true), ldA(p.a_off + ar0 * K + k1, o1), ldA(p.a_off + ar0 * K + k2, o2), ldA(p.a_off + ar0 * K + k3, o3));
            x1 = vec4(ldA(p.a_off + ar1 * K + k0, true), ldA(p.a_off + ar1 * K + k1, o1), ldA(p.a_off + ar1 * K + k2, o2), ldA(p.a_off + ar1 * K + k3, o3));
            x2 = vec4(ldA(p.a_off + ar2 * K + k0, true), ldA(p.a_off + ar2 * K + k1, o1), ldA(p.a_off + ar2 * K + k2, o2), ldA(p.a_off + ar2 * K + k3, o3));
            x3 = vec4(ldA(p.a_off + ar3 * K + k0, true), ldA(p.a_off + ar3 * K + k1, o1), ldA(p.a_off + ar3 * K + k2, o2), ldA(p.a_off + ar3 * K + k3, o3));
            x4 = vec4(ldA(p.a_off + ar4 * K + k0, true), ldA(p.a_off + ar4 * K + k1, o1), ldA(p.a_off + ar4 * K + k2, o2), ldA(p.a_off + ar4 * K + k3, o3));
            x5 = vec4(ldA(p.a_off + ar5 * K + k0, true), ldA(p.a_off + ar5 * K + k1, o1), ldA(p.a_off + ar5 * K + k2, o2), ldA(p.a_off + ar5 * K + k3, o3));
            x6 = vec4(ldA(p.a_off + ar6 * K + k0, true), ldA(p.a_off + ar6 * K + k1, o1), ldA(p.a_off + ar6 * K + k2, o2), ldA(p.a_off + ar6 * K + k3, o3));
            x7 = vec4(ldA(p.a_off + ar7 * K + k0, true), ldA(p.a_off + ar7 * K + k1, o1), ldA(p.a_off + ar7 * K + k2, o2), ldA(p.a_off + ar7 * K + k3, o3));
        }
        var b0_0: vec4<f32>; var b0_1: vec4<f32>; var b0_2: vec4<f32>; var b0_3: vec4<f32>;
        if (FORM == 1u) {
            b0_0 = vec4(ldB(p.b_off + bc0_0 * K + k0, true), ldB(p.b_off + bc0_1 * K + k0, true), ldB(p.b_off + bc0_2 * K + k0, true), ldB(p.b_off + bc0_3 * K + k0, true));
            b0_1 = vec4(ldB(p.b_off + bc0_0 * K + k1, o1), ldB(p.b_off + bc0_1 * K + k1, o1), ldB(p.b_off + bc0_2 * K + k1, o1), ldB(p.b_off + bc0_3 * K + k1, o1));
            b0_2 = vec4(ldB(p.b_off + bc0_0 * K + k2, o2), ldB(p.b_off + bc0_1 * K + k2, o2), ldB(p.b_off + bc0_2 * K + k2, o2), ldB(p.b_off + bc0_3 * K + k2, o2));
            b0_3 = vec4(ldB(p.b_off + bc0_0 * K + k3, o3), ldB(p.b_off + bc0_1 * K + k3, o3), ldB(p.b_off + bc0_2 * K + k3, o3), ldB(p.b_off + bc0_3 * K + k3, o3));
        } else {
            b0_0 = vec4(ldB(p.b_off + k0 * N + bc0_0, true), ldB(p.b_off + k0 * N + bc0_1, true), ldB(p.b_off + k0 * N + bc0_2, true), ldB(p.b_off + k0 * N + bc0_3, true));
            b0_1 = vec4(ldB(p.b_off + k1 * N + bc0_0, o1), ldB(p.b_off + k1 * N + bc0_1, o1), ldB(p.b_off + k1 * N + bc0_2, o1), ldB(p.b_off + k1 * N + bc0_3, o1));
            b0_2 = vec4(ldB(p.b_off + k2 * N + bc0_0, o2), ldB(p.b_off + k2 * N + bc0_1, o2), ldB(p.b_off + k2 * N + bc0_2, o2), ldB(p.b_off + k2 * N + bc0_3, o2));
            b0_3 = vec4(ldB(p.b_off + k3 * N + bc0_0, o3), ldB(p.b_off + k3 * N + bc0_1, o3), ldB(p.b_off + k3 * N + bc0_2, o3), ldB(p.b_off + k3 * N + bc0_3, o3));
        }
        let y0 = subgroupBroadcast(x0, 0u);
        acc0_0 = mac(acc0_0, y0, b0_0, b0_1, b0_2, b0_3);
        let y1 = subgroupBroadcast(x1, 0u);
        acc1_0 = mac(acc1_0, y1, b0_0, b0_1, b0_2, b0_3);
        let y2 = subgroupBroadcast(x2, 0u);
        acc2_0 = mac(acc2_0, y2, b0_0, b0_1, b0_2, b0_3);
        let y3 = subgroupBroadcast(x3, 0u);
        acc3_0 = mac(acc3_0, y3, b0_0, b0_1, b0_2, b0_3);
        let y4 = subgroupBroadcast(x4, 0u);
        acc4_0 = mac(acc4_0, y4, b0_0, b0_1, b0_2, b0_3);
        let y5 = subgroupBroadcast(x5, 0u);
        acc5_0 = mac(acc5_0, y5, b0_0, b0_1, b0_2, b0_3);
        let y6 = subgroupBroadcast(x6, 0u);
        acc6_0 = mac(acc6_0, y6, b0_0, b0_1, b0_2, b0_3);
        let y7 = subgroupBroadcast(x7, 0u);
        acc7_0 = mac(acc7_0, y7, b0_0, b0_1, b0_2, b0_3);
        let y8 = subgroupBroadcast(x0, 1u);
        acc8_0 = mac(acc8_0, y8, b0_0, b0_1, b0_2, b0_3);
        let y9 = subgroupBroadcast(x1, 1u);
        acc9_0 = mac(acc9_0, y9, b0_0, b0_1, b0_2, b0_3);
        let y10 = subgroupBroadcast(x2, 1u);
        acc10_0 = mac(acc10_0, y10, b0_0, b0_1, b0_2, b0_3);
        let y11 = subgroupBroadcast(x3, 1u);
        acc11_0 = mac(acc11_0, y11, b0_0, b0_1, b0_2, b0_3);
        let y12 = subgroupBroadcast(x4, 1u);
        acc12_0 = mac(acc12_0, y12, b0_0, b0_1, b0_2, b0_3);
        let y13 = subgroupBroadcast(x5, 1u);
        acc13_0 = mac(acc13_0, y13, b0_0, b0_1, b0_2, b0_3);
        let y14 = subgroupBroadcast(x6, 1u);
        acc14_0 = mac(acc14_0, y14, b0_0, b0_1, b0_2, b0_3);
        let y15 = subgroupBroadcast(x7, 1u);
        acc15_0 = mac(acc15_0, y15, b0_0, b0_1, b0_2, b0_3);
        let y16 = subgroupBroadcast(x0, 2u);
        acc16_0 = mac(acc16_0, y16, b0_0, b0_1, b0_2, b0_3);
        let y17 = subgroupBroadcast(x1, 2u);
        acc17_0 = mac(acc17_0, y17, b0_0, b0_1, b0_2, b0_3);
        let y18 = subgroupBroadcast(x2, 2u);
        acc18_0 = mac(acc18_0, y18, b0_0, b0_1, b0_2, b0_3);
        let y19 = subgroupBroadcast(x3, 2u);
        acc19_0 = mac(acc19_0, y19, b0_0, b0_1, b0_2, b0_3);
        let y20 = subgroupBroadcast(x4, 2u);
        acc20_0 = mac(acc20_0, y20, b0_0, b0_1, b0_2, b0_3);
        let y21 = subgroupBroadcast(x5, 2u);
        acc21_0 = mac(acc21_0, y21, b0_0, b0_1, b0_2, b0_3);
        let y22 = subgroupBroadcast(x6, 2u);
        acc22_0 = mac(acc22_0, y22, b0_0, b0_1, b0_2, b0_3);
        let y23 = subgroupBroadcast(x7, 2u);
        acc23_0 = mac(acc23_0, y23, b0_0, b0_1, b0_2, b0_3);
        let y24 = subgroupBroadcast(x0, 3u);
        acc24_0 = mac(acc24_0, y24, b0_0, b0_1, b0_2, b0_3);
        let y25 = subgroupBroadcast(x1, 3u);
        acc25_0 = mac(acc25_0, y25, b0_0, b0_1, b0_2, b0_3);
        let y26 = subgroupBroadcast(x2, 3u);
        acc26_0 = mac(acc26_0, y26, b0_0, b0_1, b0_2, b0_3);
        let y27 = subgroupBroadcast(x3, 3u);
        acc27_0 = mac(acc27_0, y27, b0_0, b0_1, b0_2, b0_3);
        let y28 = subgroupBroadcast(x4, 3u);
        acc28_0 = mac(acc28_0, y28, b0_0, b0_1, b0_2, b0_3);
        let y29 = subgroupBroadcast(x5, 3u);
        acc29_0 = mac(acc29_0, y29, b0_0, b0_1, b0_2, b0_3);
        let y30 = subgroupBroadcast(x6, 3u);
        acc30_0 = mac(acc30_0, y30, b0_0, b0_1, b0_2, b0_3);
        let y31 = subgroupBroadcast(x7, 3u);
        acc31_0 = mac(acc31_0, y31, b0_0, b0_1, b0_2, b0_3);
    }
    var bias0 = vec4(0.0);
    if (p.has_bias != 0u) { bias0 = vec4(bias[p.bias_off + bc0_0], bias[p.bias_off + bc0_1], bias[p.bias_off + bc0_2], bias[p.bias_off + bc0_3]); }
    store(r0 + 0u, cc0, act(acc0_0 + bias0));
    store(r0 + 1u, cc0, act(acc1_0 + bias0));
    store(r0 + 2u, cc0, act(acc2_0 + bias0));
    store(r0 + 3u, cc0, act(acc3_0 + bias0));
    store(r0 + 4u, cc0, act(acc4_0 + bias0));
    store(r0 + 5u, cc0, act(acc5_0 + bias0));
    store(r0 + 6u, cc0, act(acc6_0 + bias0));
    store(r0 + 7u, cc0, act(acc7_0 + bias0));
    store(r0 + 8u, cc0, act(acc8_0 + bias0));
    store(r0 + 9u, cc0, act(acc9_0 + bias0));
    store(r0 + 10u, cc0, act(acc10_0 + bias0));
    store(r0 + 11u, cc0, act(acc11_0 + bias0));
    store(r0 + 12u, cc0, act(acc12_0 + bias0));
    store(r0 + 13u, cc0, act(acc13_0 + bias0));
    store(r0 + 14u, cc0, act(acc14_0 + bias0));
    store(r0 + 15u, cc0, act(acc15_0 + bias0));
    store(r0 + 16u, cc0, act(acc16_0 + bias0));
    store(r0 + 17u, cc0, act(acc17_0 + bias0));
    store(r0 + 18u, cc0, act(acc18_0 + bias0));
    store(r0 + 19u, cc0, act(acc19_0 + bias0));
    store(r0 + 20u, cc0, act(acc20_0 + bias0));
    store(r0 + 21u, cc0, act(acc21_0 + bias0));
    store(r0 + 22u, cc0, act(acc22_0 + bias0));
    store(r0 + 23u, cc0, act(acc23_0 + bias0));
    store(r0 + 24u, cc0, act(acc24_0 + bias0));
    store(r0 + 25u, cc0, act(acc25_0 + bias0));
    store(r0 + 26u, cc0, act(acc26_0 + bias0));
    store(r0 + 27u, cc0, act(acc27_0 + bias0));
    store(r0 + 28u, cc0, act(acc28_0 + bias0));
    store(r0 + 29u, cc0, act(acc29_0 + bias0));
    store(r0 + 30u, cc0, act(acc30_0 + bias0));
    store(r0 + 31u, cc0, act(acc31_0 + bias0));
}

fn store(row: u32, col: u32, v: vec4<f32>) {
    if (row >= p.m) { return; }
    let i = p.c_off + row * p.n + col;
    if (col < p.n) { c[i] = v.x; }
    if (col + 1u < p.n) { c[i + 1u] = v.y; }
    if (col + 2u < p.n) { c[i + 2u] = v.z; }
    if (col + 3u < p.n) { c[i + 3u] = v.w; }
}
