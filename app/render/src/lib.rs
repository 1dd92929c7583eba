//! GPU video rendering. A decoded picture's Y, U and V planes are uploaded as three
//! single-channel textures (reused while the size stays the same) and converted to RGB in
//! `shaders/yuv_to_rgb.wgsl`, honouring the stream's matrix (BT.601/BT.709) and range.
//!
//! Inside egui, drawing goes through [`VideoCallback`] (an `egui_wgpu::CallbackTrait`):
//! uploads in `prepare`, one draw in `paint`. [`offscreen`] renders the same way without a
//! window (for `matthan snapshot` and the tests). This crate knows nothing of the UI.
#![forbid(clippy::print_stdout, clippy::print_stderr)]

pub mod offscreen;

use std::collections::HashMap;
use std::sync::Arc;

use mt_capture::{ColorMatrix, DecodedFrame, StreamShared};

/// The shader source, validated by the naga test.
pub const YUV_SHADER: &str = include_str!("../../../shaders/yuv_to_rgb.wgsl");

/// Keep in sync with `Params` in shaders/yuv_to_rgb.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct YuvParams {
    pub y_offset: f32,
    pub y_scale: f32,
    pub c_offset: f32,
    pub c_scale: f32,
    pub r_v: f32,
    pub g_u: f32,
    pub g_v: f32,
    pub b_u: f32,
    pub linear_out: f32,
    pub _pad: [f32; 3],
}
const _: () = assert!(std::mem::size_of::<YuvParams>() == 48);

impl YuvParams {
    pub fn new(matrix: ColorMatrix, full_range: bool, srgb_target: bool) -> Self {
        // Kr/Kb of each matrix give the standard conversion coefficients.
        let (kr, kb) = match matrix {
            ColorMatrix::Bt601 => (0.299f32, 0.114f32),
            ColorMatrix::Bt709 => (0.2126, 0.0722),
        };
        let kg = 1.0 - kr - kb;
        let r_v = 2.0 * (1.0 - kr);
        let b_u = 2.0 * (1.0 - kb);
        let g_u = -b_u * kb / kg;
        let g_v = -r_v * kr / kg;
        let (y_offset, y_scale, c_scale) = if full_range {
            (0.0, 1.0, 1.0)
        } else {
            (16.0 / 255.0, 255.0 / 219.0, 255.0 / 224.0)
        };
        YuvParams {
            y_offset,
            y_scale,
            c_offset: 128.0 / 255.0,
            c_scale,
            r_v,
            g_u,
            g_v,
            b_u,
            linear_out: if srgb_target { 1.0 } else { 0.0 },
            _pad: [0.0; 3],
        }
    }
}

/// GPU resources for one stream's picture.
struct GpuPicture {
    width: u32,
    height: u32,
    y: wgpu::Texture,
    u: wgpu::Texture,
    v: wgpu::Texture,
    params: wgpu::Buffer,
    params_value: YuvParams,
    bind_group: wgpu::BindGroup,
    /// `DecodedFrame::seq` of what the textures hold.
    seq: u64,
}

/// The pipeline and every stream's textures. Lives in egui_wgpu's `callback_resources`.
pub struct VideoRenderer {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    srgb_target: bool,
    pictures: HashMap<usize, GpuPicture>,
    /// Uploads done since creation (for the benchmark).
    pub uploads: u64,
    crop_layout: wgpu::BindGroupLayout,
    /// The whole picture, for every view that is not zoomed.
    identity_crop: wgpu::BindGroup,
    /// Zoomed views: their crop uniform and its value.
    crops: HashMap<u64, (wgpu::Buffer, wgpu::BindGroup, [f32; 4])>,
    /// When each picture and crop was last drawn (a view's `prepare` marks it).
    last_used: HashMap<u64, std::time::Instant>,
    /// Textures of a stream no view has drawn for this long are freed.
    idle_free: std::time::Duration,
    last_sweep: std::time::Instant,
}

/// Textures of a stream no view has drawn for this long are freed (a playback or a
/// replay that ended, a camera removed or changed, a tile showing another camera).
pub const IDLE_FREE: std::time::Duration = std::time::Duration::from_secs(20);

/// Tells a picture's key from a view's in `last_used` (views' keys keep it clear).
const PICTURE_BIT: u64 = 1 << 63;

/// The whole picture (no zoom).
pub const FULL_PICTURE: [f32; 4] = [0.0, 0.0, 1.0, 1.0];

impl VideoRenderer {
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("yuv_to_rgb.wgsl"),
            source: wgpu::ShaderSource::Wgsl(YUV_SHADER.into()),
        });
        let tex_entry = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: true },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("yuv planes"),
            entries: &[
                tex_entry(0),
                tex_entry(1),
                tex_entry(2),
                wgpu::BindGroupLayoutEntry {
                    binding: 3,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 4,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: wgpu::BufferSize::new(
                            std::mem::size_of::<YuvParams>() as u64
                        ),
                    },
                    count: None,
                },
            ],
        });
        // Group 1: the part of the picture a view shows (digital zoom), one small uniform
        // per zoomed view, so one stream's textures serve a zoomed and an unzoomed tile.
        let crop_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("view crop"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: wgpu::BufferSize::new(16),
                },
                count: None,
            }],
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("yuv"),
            bind_group_layouts: &[Some(&layout), Some(&crop_layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("yuv_to_rgb"),
            layout: Some(&pl),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                buffers: &[],
                compilation_options: Default::default(),
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                targets: &[Some(wgpu::ColorTargetState {
                    format: target_format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
                compilation_options: Default::default(),
            }),
            multiview_mask: None,
            cache: None,
        });
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("yuv"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        let identity = Self::crop_group(device, &crop_layout, FULL_PICTURE);
        VideoRenderer {
            pipeline,
            layout,
            sampler,
            srgb_target: target_format.is_srgb(),
            pictures: HashMap::new(),
            uploads: 0,
            crop_layout,
            identity_crop: identity.1,
            crops: HashMap::new(),
            last_used: HashMap::new(),
            idle_free: IDLE_FREE,
            last_sweep: std::time::Instant::now(),
        }
    }

    /// How long an unused stream keeps its textures (tests shorten it).
    pub fn set_idle_free(&mut self, d: std::time::Duration) {
        self.idle_free = d;
    }

    /// Frees the textures of pictures, and the crop uniforms of views, not drawn for
    /// `idle_free`. Runs at most once a second, from a view's `prepare`.
    fn sweep(&mut self) {
        let now = std::time::Instant::now();
        if now.duration_since(self.last_sweep) < std::time::Duration::from_secs(1) {
            return;
        }
        self.last_sweep = now;
        let idle = self.idle_free;
        let used = &self.last_used;
        let fresh = |k: u64| used.get(&k).is_some_and(|t| now.duration_since(*t) < idle);
        self.pictures.retain(|k, _| fresh(*k as u64 | PICTURE_BIT));
        self.crops.retain(|k, _| fresh(*k & !PICTURE_BIT));
        self.last_used.retain(|_, t| now.duration_since(*t) < idle);
    }

    fn mark_used(&mut self, key: u64) {
        self.last_used.insert(key, std::time::Instant::now());
    }

    fn crop_group(
        device: &wgpu::Device,
        layout: &wgpu::BindGroupLayout,
        crop: [f32; 4],
    ) -> (wgpu::Buffer, wgpu::BindGroup) {
        use wgpu::util::DeviceExt;
        let buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("view crop"),
            contents: bytemuck::cast_slice(&crop),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        let bg = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("view crop"),
            layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: buf.as_entire_binding(),
            }],
        });
        (buf, bg)
    }

    /// Sets the part of the picture view `view` shows: `[x, y, w, h]` in fractions of the
    /// picture (`FULL_PICTURE` for all of it). Written only when it changed.
    pub fn set_crop(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        view: u64,
        crop: [f32; 4],
    ) {
        self.mark_used(view & !PICTURE_BIT);
        match self.crops.get_mut(&view) {
            Some((buf, _, old)) => {
                if *old != crop {
                    queue.write_buffer(buf, 0, bytemuck::cast_slice(&crop));
                    *old = crop;
                }
            }
            None => {
                let (buf, bg) = Self::crop_group(device, &self.crop_layout, crop);
                self.crops.insert(view, (buf, bg, crop));
            }
        }
    }

    /// Uploads `frame` as the picture `key` (a stream), unless it is already there.
    /// Textures are created only when the key is new or the picture size changes.
    pub fn upload(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        key: usize,
        frame: &DecodedFrame,
    ) -> bool {
        self.mark_used(key as u64 | PICTURE_BIT);
        self.sweep();
        let params = YuvParams::new(frame.matrix, frame.full_range, self.srgb_target);
        let needs_new = self
            .pictures
            .get(&key)
            .is_none_or(|p| p.width != frame.width || p.height != frame.height);
        if needs_new {
            let pic = self.create_picture(device, frame.width, frame.height, params);
            self.pictures.insert(key, pic);
        }
        let pic = self.pictures.get_mut(&key).expect("inserted above");
        if !needs_new && pic.seq == frame.seq {
            return false;
        }
        if pic.params_value != params {
            queue.write_buffer(&pic.params, 0, bytemuck::bytes_of(&params));
            pic.params_value = params;
        }
        let (cw, ch) = frame.chroma_size();
        write_plane(queue, &pic.y, &frame.y, frame.width, frame.height);
        write_plane(queue, &pic.u, &frame.u, cw, ch);
        write_plane(queue, &pic.v, &frame.v, cw, ch);
        pic.seq = frame.seq;
        self.uploads += 1;
        true
    }

    fn create_picture(
        &self,
        device: &wgpu::Device,
        w: u32,
        h: u32,
        params: YuvParams,
    ) -> GpuPicture {
        let plane = |label, w: u32, h: u32| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: wgpu::Extent3d {
                    width: w.max(1),
                    height: h.max(1),
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::R8Unorm,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        };
        let y = plane("plane y", w, h);
        let u = plane("plane u", w.div_ceil(2), h.div_ceil(2));
        let v = plane("plane v", w.div_ceil(2), h.div_ceil(2));
        let params_buf = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("yuv params"),
            size: std::mem::size_of::<YuvParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: true,
        });
        params_buf
            .slice(..)
            .get_mapped_range_mut()
            .expect("buffer mapped at creation")
            .copy_from_slice(bytemuck::bytes_of(&params));
        params_buf.unmap();
        let view = |t: &wgpu::Texture| t.create_view(&wgpu::TextureViewDescriptor::default());
        let (vy, vu, vv) = (view(&y), view(&u), view(&v));
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("yuv planes"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&vy),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&vu),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::TextureView(&vv),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: wgpu::BindingResource::Sampler(&self.sampler),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: params_buf.as_entire_binding(),
                },
            ],
        });
        GpuPicture {
            width: w,
            height: h,
            y,
            u,
            v,
            params: params_buf,
            params_value: params,
            bind_group,
            seq: u64::MAX,
        }
    }

    /// Draws picture `key` into the pass's current viewport, the part of it `view` shows
    /// (None: all of it). Returns false if there is no such picture.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, key: usize, view: Option<u64>) -> bool {
        let Some(pic) = self.pictures.get(&key) else {
            return false;
        };
        let crop = view
            .and_then(|v| self.crops.get(&v))
            .map(|c| &c.1)
            .unwrap_or(&self.identity_crop);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &pic.bind_group, &[]);
        pass.set_bind_group(1, crop, &[]);
        pass.draw(0..3, 0..1);
        true
    }

    /// Drops the textures of pictures not in `keep`.
    pub fn retain(&mut self, keep: impl Fn(usize) -> bool) {
        self.pictures.retain(|k, _| keep(*k));
    }

    pub fn picture_count(&self) -> usize {
        self.pictures.len()
    }
}

fn write_plane(queue: &wgpu::Queue, tex: &wgpu::Texture, data: &[u8], w: u32, h: u32) {
    queue.write_texture(
        wgpu::TexelCopyTextureInfo {
            texture: tex,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        data,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(w),
            rows_per_image: Some(h),
        },
        wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
    );
}

/// The key under which a stream's picture is kept: one texture set per stream, shared by
/// every view (wall tile, map, second screen) that shows it. The stream's own id, never
/// reused (an address could be, by a later stream, and pick up another's textures).
pub fn stream_key(s: &Arc<StreamShared>) -> usize {
    s.id as usize
}

/// Draws a stream's latest picture inside an egui paint callback rectangle.
pub struct VideoCallback {
    pub stream: Arc<StreamShared>,
    pub frame: Arc<DecodedFrame>,
    /// A zoomed view: its key (stable per tile) and the part of the picture it shows
    /// (`[x, y, w, h]` in fractions of the picture). None: the whole picture.
    pub crop: Option<(u64, [f32; 4])>,
}

impl egui_wgpu::CallbackTrait for VideoCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(r) = resources.get_mut::<VideoRenderer>() {
            if r.upload(device, queue, stream_key(&self.stream), &self.frame) {
                self.stream.record_upload(&self.frame);
            }
            if let Some((view, crop)) = self.crop {
                r.set_crop(device, queue, view, crop);
            }
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(r) = resources.get::<VideoRenderer>() {
            r.draw(pass, stream_key(&self.stream), self.crop.map(|c| c.0));
        }
    }
}

/// Installs the [`VideoRenderer`] into an egui_wgpu render state (once, at start-up).
pub fn install(rs: &egui_wgpu::RenderState) {
    let vr = VideoRenderer::new(&rs.device, rs.target_format);
    rs.renderer.write().callback_resources.insert(vr);
}
