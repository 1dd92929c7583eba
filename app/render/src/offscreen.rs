//! Rendering without a window: a wgpu device picked without a display (lavapipe on a machine
//! without a GPU), egui drawn into a texture through the same egui_wgpu renderer and the same
//! [`VideoCallback`](crate::VideoCallback)s as the window, then read back to RGBA bytes.

use std::iter;

#[derive(Debug, thiserror::Error)]
pub enum OffscreenError {
    #[error("no GPU adapter (not even a software one such as lavapipe): {0}")]
    NoAdapter(String),
    #[error("GPU readback failed: {0}")]
    Readback(String),
}

/// An offscreen egui_wgpu render state.
pub struct Offscreen {
    pub state: egui_wgpu::RenderState,
}

impl Offscreen {
    pub fn new() -> Result<Self, OffscreenError> {
        let setup = egui_wgpu::WgpuSetup::CreateNew(
            egui_wgpu::WgpuSetupCreateNew::without_display_handle(),
        );
        let instance = pollster::block_on(setup.new_instance());
        let cfg = egui_wgpu::WgpuConfiguration {
            wgpu_setup: setup,
            ..Default::default()
        };
        let state = pollster::block_on(egui_wgpu::RenderState::create(
            &cfg,
            &instance,
            None,
            egui_wgpu::RendererOptions::default(),
        ))
        .map_err(|e| OffscreenError::NoAdapter(e.to_string()))?;
        crate::install(&state, None);
        Ok(Offscreen { state })
    }

    pub fn adapter_name(&self) -> String {
        self.state.adapter.get_info().name
    }

    /// Runs `ui` in `ctx` for one frame of `size` points and returns RGBA8 pixels.
    pub fn render(
        &self,
        ctx: &egui::Context,
        size: [u32; 2],
        mut ui: impl FnMut(&mut egui::Ui),
    ) -> Result<Vec<u8>, OffscreenError> {
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(size[0] as f32, size[1] as f32),
            )),
            ..Default::default()
        };
        let out = ctx.run_ui(input, |root| ui(root));
        let rs = &self.state;
        let mut renderer = rs.renderer.write();
        let mut out = out;
        for (id, deltas) in out.textures_delta.set.drain() {
            for delta in &deltas {
                renderer.update_texture(&rs.device, &rs.queue, id, delta);
            }
        }
        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: size,
            pixels_per_point: 1.0,
        };
        let jobs = ctx.tessellate(out.shapes, 1.0);
        let mut encoder = rs
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("offscreen"),
            });
        let user = renderer.update_buffers(&rs.device, &rs.queue, &mut encoder, &jobs, &screen);
        // The views' `prepare` marked their streams shown; one offscreen render shows what
        // the streams hold now, so their pictures are put in here rather than by the thread.
        if let Some(vr) = renderer.callback_resources.get::<crate::VideoRenderer>() {
            vr.flush();
        }
        let target = target_texture(&rs.device, size, rs.target_format);
        let view = target.create_view(&Default::default());
        {
            let mut pass = clear_pass(&mut encoder, &view, "offscreen egui").forget_lifetime();
            renderer.render(&mut pass, &jobs, &screen);
        }
        rs.queue
            .submit(user.into_iter().chain(iter::once(encoder.finish())));
        for id in out.textures_delta.free.drain() {
            renderer.free_texture(&id);
        }
        drop(renderer);
        let mut px = read_texture(&rs.device, &rs.queue, &target)?;
        if matches!(
            rs.target_format,
            wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
        ) {
            for p in px.chunks_exact_mut(4) {
                p.swap(0, 2);
            }
        }
        Ok(px)
    }
}

impl Offscreen {
    /// One UI frame without rasterising: egui layout, tessellation and the paint callbacks'
    /// `prepare` (marking streams shown; the pictures go to the GPU on the "upload" thread),
    /// submitted to the GPU queue. What the UI thread itself spends per wall frame, apart from
    /// the (software) rasteriser. Used by the benchmark.
    pub fn prepare_frame(
        &self,
        ctx: &egui::Context,
        size: [u32; 2],
        ui: impl FnMut(&mut egui::Ui),
    ) -> FrameTimes {
        self.prepare_frame_with(ctx, size, Vec::new(), ui)
    }

    /// [`Offscreen::prepare_frame`] with input `events` (keys, pointer) in the frame, as an
    /// officer's would arrive.
    pub fn prepare_frame_with(
        &self,
        ctx: &egui::Context,
        size: [u32; 2],
        events: Vec<egui::Event>,
        mut ui: impl FnMut(&mut egui::Ui),
    ) -> FrameTimes {
        let t0 = std::time::Instant::now();
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(size[0] as f32, size[1] as f32),
            )),
            events,
            ..Default::default()
        };
        let mut out = ctx.run_ui(input, |root| ui(root));
        let t_ui = std::time::Instant::now();
        let rs = &self.state;
        let mut renderer = rs.renderer.write();
        for (id, deltas) in out.textures_delta.set.drain() {
            for delta in &deltas {
                renderer.update_texture(&rs.device, &rs.queue, id, delta);
            }
        }
        for id in out.textures_delta.free.drain() {
            renderer.free_texture(&id);
        }
        let t_tex = std::time::Instant::now();
        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: size,
            pixels_per_point: 1.0,
        };
        let jobs = ctx.tessellate(std::mem::take(&mut out.shapes), 1.0);
        let t_tess = std::time::Instant::now();
        let mut encoder = rs
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("prepare only"),
            });
        let user = renderer.update_buffers(&rs.device, &rs.queue, &mut encoder, &jobs, &screen);
        let t_buf = std::time::Instant::now();
        rs.queue
            .submit(user.into_iter().chain(iter::once(encoder.finish())));
        let t_submit = std::time::Instant::now();
        let _ = rs.device.poll(wgpu::PollType::Poll);
        let t_poll = std::time::Instant::now();
        FrameTimes {
            parts: [
                ("ui", t_ui - t0),
                ("egui textures", t_tex - t_ui),
                ("tessellate", t_tess - t_tex),
                ("buffers and prepare", t_buf - t_tess),
                ("submit", t_submit - t_buf),
                ("poll", t_poll - t_submit),
            ],
        }
    }
}

/// Wall time of each part of a [`Offscreen::prepare_frame`] (for the benchmark).
#[derive(Clone, Copy, Debug)]
pub struct FrameTimes {
    pub parts: [(&'static str, std::time::Duration); 6],
}

/// Copies a 4-byte-per-pixel texture back to the CPU (rows unpadded).
pub fn read_texture(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    tex: &wgpu::Texture,
) -> Result<Vec<u8>, OffscreenError> {
    let (w, h) = (tex.width(), tex.height());
    let row = (w * 4) as usize;
    let padded = row.div_ceil(256) * 256;
    let buf = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: (padded * h as usize) as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = device.create_command_encoder(&Default::default());
    enc.copy_texture_to_buffer(
        tex.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &buf,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded as u32),
                rows_per_image: None,
            },
        },
        wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
    );
    queue.submit(iter::once(enc.finish()));
    let (tx, rx) = std::sync::mpsc::channel();
    buf.slice(..).map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| OffscreenError::Readback(e.to_string()))?;
    rx.recv()
        .map_err(|e| OffscreenError::Readback(e.to_string()))?
        .map_err(|e| OffscreenError::Readback(e.to_string()))?;
    let data = buf
        .slice(..)
        .get_mapped_range()
        .map_err(|e| OffscreenError::Readback(e.to_string()))?;
    let mut out = Vec::with_capacity(row * h as usize);
    for r in data.chunks_exact(padded) {
        out.extend_from_slice(&r[..row]);
    }
    Ok(out)
}

/// Renders one decoded frame, stretched to `w × h`, with the YUV pipeline alone (no egui) into
/// an Rgba8Unorm texture and returns its pixels. Used by the colour-accuracy tests.
pub fn render_frame(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    frame: &mt_media::DecodedFrame,
    w: u32,
    h: u32,
) -> Result<Vec<u8>, OffscreenError> {
    let format = wgpu::TextureFormat::Rgba8Unorm;
    let vr = crate::VideoRenderer::new(device, queue, format, None);
    vr.put(1, &std::sync::Arc::new(frame.clone()));
    let target = target_texture(device, [w, h], format);
    let view = target.create_view(&Default::default());
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let mut pass = clear_pass(&mut enc, &view, "frame");
        vr.draw(&mut pass, 1, None);
    }
    queue.submit(iter::once(enc.finish()));
    read_texture(device, queue, &target)
}

/// A texture to render into and read back.
fn target_texture(
    device: &wgpu::Device,
    size: [u32; 2],
    format: wgpu::TextureFormat,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some("offscreen target"),
        size: wgpu::Extent3d {
            width: size[0],
            height: size[1],
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    })
}

/// A render pass that clears `view` to black first.
fn clear_pass<'e>(
    encoder: &'e mut wgpu::CommandEncoder,
    view: &wgpu::TextureView,
    label: &str,
) -> wgpu::RenderPass<'e> {
    encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
        label: Some(label),
        color_attachments: &[Some(wgpu::RenderPassColorAttachment {
            view,
            resolve_target: None,
            ops: wgpu::Operations {
                load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                store: wgpu::StoreOp::Store,
            },
            depth_slice: None,
        })],
        ..Default::default()
    })
}
