//! One stream's picture on the GPU: three R8 plane textures, the stream's YUV→RGB uniform
//! and their bind group, and the one way a decoded picture gets into them.

use mt_media::DecodedFrame;

use crate::YuvParams;

/// What creating and filling pictures needs; cloned into the upload thread (every field is
/// a cheap handle).
#[derive(Clone)]
pub(crate) struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub layout: wgpu::BindGroupLayout,
    pub sampler: wgpu::Sampler,
    pub srgb_target: bool,
}

pub(crate) struct GpuPicture {
    pub width: u32,
    pub height: u32,
    y: wgpu::Texture,
    u: wgpu::Texture,
    v: wgpu::Texture,
    params: wgpu::Buffer,
    pub bind_group: wgpu::BindGroup,
}

impl GpuPicture {
    pub fn new(gpu: &Gpu, w: u32, h: u32) -> GpuPicture {
        let device = &gpu.device;
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
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("yuv params"),
            size: std::mem::size_of::<YuvParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let view = |t: &wgpu::Texture| t.create_view(&wgpu::TextureViewDescriptor::default());
        let (vy, vu, vv) = (view(&y), view(&u), view(&v));
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("yuv planes"),
            layout: &gpu.layout,
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
                    resource: wgpu::BindingResource::Sampler(&gpu.sampler),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: params.as_entire_binding(),
                },
            ],
        });
        GpuPicture {
            width: w,
            height: h,
            y,
            u,
            v,
            params,
            bind_group,
        }
    }

    /// GPU memory of the three planes, bytes.
    pub fn bytes(&self) -> u64 {
        let (cw, ch) = (
            self.width.div_ceil(2) as u64,
            self.height.div_ceil(2) as u64,
        );
        self.width.max(1) as u64 * self.height.max(1) as u64 + 2 * cw.max(1) * ch.max(1)
    }

    /// Puts `frame` (and its colour uniform) into the textures in **one submission of its
    /// own**: the three planes and the uniform are copied from one staging buffer by one
    /// command buffer. A frame the UI submits before it shows the whole old picture, one
    /// submitted after it the whole new one; never Y of one picture with U/V of another
    /// (three `queue.write_texture` calls could be split by the UI's submit, as they only take
    /// effect at the next submission, whoever makes it). Any thread may call this.
    pub fn write(&self, gpu: &Gpu, frame: &DecodedFrame, params: &YuvParams) {
        debug_assert_eq!((frame.width, frame.height), (self.width, self.height));
        let align = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let pad = |w: u32| w.max(1).div_ceil(align) * align;
        let (w, h) = (frame.width, frame.height);
        let (cw, ch) = frame.chroma_size();
        let (ry, rc) = (pad(w), pad(cw));
        let y_len = ry as u64 * h as u64;
        let c_len = rc as u64 * ch as u64;
        let p_off = y_len + 2 * c_len;
        let size = p_off + std::mem::size_of::<YuvParams>() as u64;
        let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("picture staging"),
            size,
            usage: wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: true,
        });
        {
            let mut m = staging
                .slice(..)
                .get_mapped_range_mut()
                .expect("buffer mapped at creation");
            // Row by row: the copy's rows are padded to 256 bytes. The mapping is write-only
            // memory (possibly write-combined): written, never read.
            let mut put = |base: u64, src: &[u8], w: u32, rows: u32, pitch: u32| {
                for r in 0..rows as usize {
                    let at = base as usize + r * pitch as usize;
                    m.slice(at..at + w as usize)
                        .copy_from_slice(&src[r * w as usize..(r + 1) * w as usize]);
                }
            };
            put(0, &frame.y, w, h, ry);
            put(y_len, &frame.u, cw, ch, rc);
            put(y_len + c_len, &frame.v, cw, ch, rc);
            m.slice(p_off as usize..)
                .copy_from_slice(bytemuck::bytes_of(params));
        }
        staging.unmap();
        let mut enc = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("picture upload"),
            });
        let copy = |enc: &mut wgpu::CommandEncoder, tex: &wgpu::Texture, off, pitch, w, h| {
            enc.copy_buffer_to_texture(
                wgpu::TexelCopyBufferInfo {
                    buffer: &staging,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: off,
                        bytes_per_row: Some(pitch),
                        rows_per_image: Some(h),
                    },
                },
                wgpu::TexelCopyTextureInfo {
                    texture: tex,
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::Extent3d {
                    width: w,
                    height: h,
                    depth_or_array_layers: 1,
                },
            );
        };
        copy(&mut enc, &self.y, 0, ry, w, h);
        copy(&mut enc, &self.u, y_len, rc, cw, ch);
        copy(&mut enc, &self.v, y_len + c_len, rc, cw, ch);
        enc.copy_buffer_to_buffer(
            &staging,
            p_off,
            &self.params,
            0,
            std::mem::size_of::<YuvParams>() as u64,
        );
        gpu.queue.submit(std::iter::once(enc.finish()));
    }
}
