// Swaps the channel axes of convolution weights for the backward-input pass:
// wt[tap, co, ci] = w[w_off + (tap * cin + ci) * cout + co], so that
// dx = im2col'(dy)·wt reads wt as a row-major (taps*cout, cin) matrix, the
// forward's contiguous B layout, instead of 4 strided loads and a transpose.
//   w: (taps, cin, cout) from w_off in the parameter buffer; wt: (taps, cout, cin).
// Dispatch: one invocation per element of wt, workgroup 64, grid
// ceil(len / 64) split over x and y. wt is overwritten.

struct Params {
    len: u32,
    cin: u32,
    cout: u32,
    w_off: u32,
}

@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> wt: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let i = id.x + id.y * nw.x * 64u;
    if (i >= p.len) { return; }
    let ci = i % p.cin;
    let co = (i / p.cin) % p.cout;
    let tap = i / (p.cin * p.cout);
    wt[i] = w[p.w_off + (tap * p.cin + ci) * p.cout + co];
}
