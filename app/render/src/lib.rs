//! GPU video rendering. A decoded picture's Y, U and V planes are uploaded as three
//! single-channel textures (reused while the size stays the same) and converted to RGB in
//! `shaders/yuv_to_rgb.wgsl`, honouring the stream's matrix (BT.601/BT.709) and range.
//!
//! Pictures reach their textures on the thread "upload" ([`upload`]), never on the UI thread:
//! inside egui, a [`VideoCallback`] (an `egui_wgpu::CallbackTrait`) marks its stream shown in
//! `prepare` and binds the stream's textures in `paint`. [`offscreen`] renders the same way
//! without a window (for `matthan snapshot` and the tests; it flushes the uploads before it
//! draws). This crate knows nothing of the UI, nor of capture: its input is `mt-media`'s
//! [`FrameSlot`].
#![forbid(clippy::print_stdout, clippy::print_stderr)]

pub mod offscreen;
mod picture;
pub mod upload;

use std::collections::HashMap;
use std::sync::Arc;

use mt_media::{ColorMatrix, DecodedFrame, FrameSlot, StreamId, Waker};

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

/// The pipeline and every stream's textures. Lives in egui_wgpu's `callback_resources`.
pub struct VideoRenderer {
    pipeline: wgpu::RenderPipeline,
    /// Every stream's textures, filled by the "upload" thread.
    bank: Arc<upload::Bank>,
    crop_layout: wgpu::BindGroupLayout,
    /// The whole picture, for every view that is not zoomed.
    identity_crop: wgpu::BindGroup,
    /// Zoomed views: their crop uniform and its value.
    crops: HashMap<u64, (wgpu::Buffer, wgpu::BindGroup, [f32; 4])>,
    /// When each zoomed view's crop was last used (a view's `prepare` marks it).
    last_used: HashMap<u64, std::time::Instant>,
    last_sweep: std::time::Instant,
}

impl Drop for VideoRenderer {
    fn drop(&mut self) {
        self.bank.stop();
    }
}

/// Textures of a stream no view has drawn for this long are freed (a playback or a
/// replay that ended, a camera removed or changed, a tile showing another camera).
pub const IDLE_FREE: std::time::Duration = std::time::Duration::from_secs(20);

/// The whole picture (no zoom).
pub const FULL_PICTURE: [f32; 4] = [0.0, 0.0, 1.0, 1.0];

impl VideoRenderer {
    /// The pipeline, and the "upload" thread that fills the streams' textures (`repaint`:
    /// how it asks the UI to draw a new picture).
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        target_format: wgpu::TextureFormat,
        repaint: Option<Waker>,
    ) -> Self {
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
        let gpu = picture::Gpu {
            device: device.clone(),
            queue: queue.clone(),
            layout,
            sampler,
            srgb_target: target_format.is_srgb(),
        };
        VideoRenderer {
            pipeline,
            bank: upload::Bank::start(gpu, repaint, IDLE_FREE),
            crop_layout,
            identity_crop: identity.1,
            crops: HashMap::new(),
            last_used: HashMap::new(),
            last_sweep: std::time::Instant::now(),
        }
    }

    /// How long an unused stream keeps its textures (tests shorten it).
    pub fn set_idle_free(&mut self, d: std::time::Duration) {
        self.bank.set_idle_free(d);
    }

    /// A view shows `source` this frame: the upload thread keeps its textures current.
    pub fn show(&mut self, source: &Arc<FrameSlot>) {
        self.bank.show(source);
    }

    /// Every view of this frame has been prepared.
    pub fn end_frame(&self) {
        self.bank.end_frame();
    }

    /// Uploads now, on this thread, every shown stream's newer picture (offscreen rendering:
    /// one render shows what the streams hold). Returns how many.
    pub fn flush(&self) -> usize {
        self.bank.flush()
    }

    /// Puts `frame` in as picture `key` now, on this thread (offscreen, a single picture).
    pub fn put(&self, key: StreamId, frame: &Arc<DecodedFrame>) -> bool {
        self.bank.put(key, frame)
    }

    /// Pictures uploaded since the renderer was created.
    pub fn uploads(&self) -> u64 {
        self.bank.uploads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Streams that have textures.
    pub fn picture_count(&self) -> usize {
        self.bank.picture_count()
    }

    /// GPU memory of the streams' plane textures, bytes.
    pub fn texture_bytes(&self) -> u64 {
        self.bank.texture_bytes()
    }

    /// Frees the crop uniforms of views not drawn for the idle time (at most once a second,
    /// from `set_crop`). Pictures are the upload thread's to free.
    fn sweep(&mut self) {
        let now = std::time::Instant::now();
        if now.duration_since(self.last_sweep) < std::time::Duration::from_secs(1) {
            return;
        }
        self.last_sweep = now;
        let idle = IDLE_FREE;
        let used = &self.last_used;
        self.crops
            .retain(|k, _| used.get(k).is_some_and(|t| now.duration_since(*t) < idle));
        self.last_used.retain(|_, t| now.duration_since(*t) < idle);
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
        self.last_used.insert(view, std::time::Instant::now());
        self.sweep();
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

    /// Draws picture `key` into the pass's current viewport, the part of it `view` shows
    /// (None: all of it). Returns false if there is no such picture.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, key: StreamId, view: Option<u64>) -> bool {
        let Some(pic) = self.bank.bind_group(key) else {
            return false;
        };
        let crop = view
            .and_then(|v| self.crops.get(&v))
            .map(|c| &c.1)
            .unwrap_or(&self.identity_crop);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &pic, &[]);
        pass.set_bind_group(1, crop, &[]);
        pass.draw(0..3, 0..1);
        true
    }
}

/// Shows stream `source`'s latest picture inside an egui paint callback rectangle. The
/// picture reaches the GPU on the "upload" thread ([`upload`]); `prepare` only marks the
/// stream shown (and writes a zoomed view's crop when it changed), `paint` binds whatever the
/// stream's textures hold.
pub struct VideoCallback {
    pub source: Arc<FrameSlot>,
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
            r.show(&self.source);
            if let Some((view, crop)) = self.crop {
                r.set_crop(device, queue, view, crop);
            }
        }
        Vec::new()
    }

    fn finish_prepare(
        &self,
        _device: &wgpu::Device,
        _queue: &wgpu::Queue,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(r) = resources.get_mut::<VideoRenderer>() {
            r.end_frame();
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
            r.draw(pass, self.source.id(), self.crop.map(|c| c.0));
        }
    }
}

/// Installs the [`VideoRenderer`] into an egui_wgpu render state (once, at start-up).
/// `repaint`: how the upload thread asks for a frame when a new picture is in (None: the
/// caller repaints by itself, as the tests' harness does).
pub fn install(rs: &egui_wgpu::RenderState, repaint: Option<Waker>) {
    let vr = VideoRenderer::new(&rs.device, &rs.queue, rs.target_format, repaint);
    rs.renderer.write().callback_resources.insert(vr);
}
