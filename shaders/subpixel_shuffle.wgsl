// Moves one sub-pixel phase between an NHWC image and its own dense tensor:
// the pixels (s·qy + r, s·qx + c) of full (batch, oh, ow, ch) are phase
// (batch, gh, gw, ch), qy < gh, qx < gw.
//   DIR 0 (interleave, after the phase convolutions): full ← phase.
//   DIR 1 (split, before the backward passes): phase ← full.
//   ch is a multiple of 4 (vec4s); neither buffer has an offset.
// Dispatch: one invocation per vec4 of the phase tensor, workgroup 64, grid
// ceil(batch * gh * gw * ch / 4 / 64) possibly split over x and y. The
// destination's elements in this phase are overwritten, no others.

struct Params {
    batch: u32, gh: u32, gw: u32, cv: u32,
    oh: u32, ow: u32, s: u32, r: u32,
    c: u32, _p0: u32, _p1: u32, _p2: u32,
}

override DIR: u32 = 0u;

@group(0) @binding(0) var<storage, read_write> full: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> phase: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let t = id.x + id.y * nw.x * 64u;
    let pix = t / p.cv;
    if (pix >= p.batch * p.gh * p.gw) { return; }
    let cq = t % p.cv;
    let qx = pix % p.gw;
    let qy = (pix / p.gw) % p.gh;
    let b = pix / (p.gw * p.gh);
    let f = ((b * p.oh + p.s * qy + p.r) * p.ow + p.s * qx + p.c) * p.cv + cq;
    if (DIR == 0u) {
        full[f] = phase[t];
    } else {
        phase[t] = full[f];
    }
}
