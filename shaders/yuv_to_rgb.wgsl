// YUV 4:2:0 (three single-channel textures) → RGB, drawn as one full-screen triangle into
// the viewport the caller set (the tile's letterboxed picture rectangle).
//
// Keep `Params` in sync with `YuvParams` in app/render/src/lib.rs.
struct Params {
    // Luma: y' = (y - y_offset) * y_scale. Chroma: c' = (c - c_offset) * c_scale.
    y_offset: f32,
    y_scale: f32,
    c_offset: f32,
    c_scale: f32,
    // R = Y + r_v·V;  G = Y + g_u·U + g_v·V;  B = Y + b_u·U
    r_v: f32,
    g_u: f32,
    g_v: f32,
    b_u: f32,
    // 1.0 when the target is an sRGB format and wants linear values written.
    linear_out: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
};

@group(0) @binding(0) var tex_y: texture_2d<f32>;
@group(0) @binding(1) var tex_u: texture_2d<f32>;
@group(0) @binding(2) var tex_v: texture_2d<f32>;
@group(0) @binding(3) var samp: sampler;
@group(0) @binding(4) var<uniform> params: Params;
// The part of the picture this view shows (digital zoom): x, y, width, height in fractions
// of the picture; (0, 0, 1, 1) for all of it.
@group(1) @binding(0) var<uniform> crop: vec4<f32>;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VsOut {
    // Triangle covering the viewport: (-1,-1), (3,-1), (-1,3).
    let x = f32(i32(i & 1u) * 4 - 1);
    let y = f32(i32(i >> 1u) * 4 - 1);
    var out: VsOut;
    out.pos = vec4<f32>(x, y, 0.0, 1.0);
    out.uv = vec2<f32>((x + 1.0) * 0.5, (1.0 - y) * 0.5);
    return out;
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let lo = c / 12.92;
    let hi = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(hi, lo, c <= vec3<f32>(0.04045));
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let uv = crop.xy + in.uv * crop.zw;
    let y = (textureSample(tex_y, samp, uv).r - params.y_offset) * params.y_scale;
    let u = (textureSample(tex_u, samp, uv).r - params.c_offset) * params.c_scale;
    let v = (textureSample(tex_v, samp, uv).r - params.c_offset) * params.c_scale;
    var rgb = clamp(
        vec3<f32>(y + params.r_v * v, y + params.g_u * u + params.g_v * v, y + params.b_u * u),
        vec3<f32>(0.0),
        vec3<f32>(1.0),
    );
    if (params.linear_out > 0.5) {
        rgb = srgb_to_linear(rgb);
    }
    return vec4<f32>(rgb, 1.0);
}
