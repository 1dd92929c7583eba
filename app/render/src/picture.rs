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
}

/// Staging buffers kept for the next batches: the GPU done with one, it is mapped again and
/// put back here. Written by hand (wgpu's `StagingBelt` sub-allocates small writes, and its
/// chunks are not shared across threads) because creating and destroying a buffer per
/// batch takes the device's memory-allocator lock twice a batch, and the UI thread creates
/// egui's own staging buffers under the same lock: `perf` showed UI frames waiting there
/// for the upload thread (on lavapipe, where allocating also zeroes host memory).
#[derive(Default)]
pub(crate) struct StagingPool {
    free: std::sync::Arc<parking_lot::Mutex<Vec<wgpu::Buffer>>>,
}

/// Buffers the pool keeps at most (one per submission in flight, and one more), and their
/// bytes at most (a batch of 64 tiles after a pause is tens of MiB: not kept).
const POOL_KEEP: usize = 4;
const POOL_KEEP_BYTES: u64 = 24 << 20;
/// Sizes are rounded up to this, so batches of about the same size reuse one buffer.
const POOL_STEP: u64 = 1 << 20;

impl StagingPool {
    /// A mapped buffer of at least `size` bytes (at most twice that: a huge buffer is not
    /// kept for small batches).
    fn take(&self, gpu: &Gpu, size: u64) -> wgpu::Buffer {
        let size = size.div_ceil(POOL_STEP) * POOL_STEP;
        {
            let mut free = self.free.lock();
            if let Some(i) = free
                .iter()
                .position(|b| b.size() >= size && b.size() <= 2 * size)
            {
                return free.swap_remove(i);
            }
        }
        gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("picture staging"),
            size,
            // MAP_WRITE: wgpu maps this very buffer (a COPY_SRC-only buffer mapped at
            // creation gets a hidden staging buffer and one more copy of every picture).
            usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: true,
        })
    }

    /// After the submission that reads `buf`: mapped again once the GPU is done with it
    /// (wgpu calls back from a later poll or submit), then kept for the next batch.
    fn give_back(&self, buf: wgpu::Buffer) {
        let free = self.free.clone();
        let b = buf.clone();
        buf.slice(..).map_async(wgpu::MapMode::Write, move |r| {
            if r.is_err() {
                return;
            }
            let mut free = free.lock();
            // The newest kept, the oldest let go: a pool of sizes no batch needs any more
            // does not stay so.
            free.push(b);
            while free.len() > POOL_KEEP
                || free.iter().map(|k| k.size()).sum::<u64>() > POOL_KEEP_BYTES
            {
                free.remove(0);
            }
        });
    }

    /// Buffers waiting to be reused (tests).
    #[allow(dead_code)]
    pub fn kept(&self) -> usize {
        self.free.lock().len()
    }
}

/// Puts each `(picture, frame, colour uniform)` into its textures, all of them in **one
/// submission of their own**: every plane and uniform is copied from one staging buffer by
/// one command buffer. A frame the UI submits before it shows the whole old pictures, one
/// submitted after it the whole new ones; never Y of one picture with U/V of another (three
/// `queue.write_texture` calls could be split by the UI's submit, as they only take effect at
/// the next submission, whoever makes it). One submission per batch, not per picture: at 64
/// tiles × 15 fps a submission per picture costs more than the copies. Any thread may call
/// this; wgpu's error handler panics on a refused batch (the caller catches it).
pub(crate) fn write_pictures(
    gpu: &Gpu,
    pool: &StagingPool,
    items: &[(&GpuPicture, &DecodedFrame, YuvParams)],
) -> wgpu::SubmissionIndex {
    let align = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    let pad = |w: u32| w.max(1).div_ceil(align) * align;
    let up = |n: u64| n.div_ceil(align as u64) * align as u64;
    let params_len = std::mem::size_of::<YuvParams>() as u64;
    // Where each picture's planes and uniform go in the staging buffer (each part starts on
    // a 256-byte boundary; rows are padded to 256 bytes, as buffer→texture copies require).
    struct Layout {
        ry: u32,
        rc: u32,
        y: u64,
        u: u64,
        v: u64,
        p: u64,
    }
    let mut at = 0u64;
    let layouts: Vec<Layout> = items
        .iter()
        .map(|(_, f, _)| {
            let (cw, ch) = f.chroma_size();
            let (ry, rc) = (pad(f.width), pad(cw));
            let y = at;
            let u = up(y + ry as u64 * f.height as u64);
            let v = up(u + rc as u64 * ch as u64);
            let p = up(v + rc as u64 * ch as u64);
            at = up(p + params_len);
            Layout { ry, rc, y, u, v, p }
        })
        .collect();
    let staging = pool.take(gpu, at);
    {
        let mut m = staging
            .slice(..at)
            .get_mapped_range_mut()
            .expect("a pool buffer is mapped");
        // Row by row into the padded rows. The mapping is write-only memory (possibly
        // write-combined): written, never read.
        let put =
            |m: &mut wgpu::BufferViewMut, base: u64, src: &[u8], w: u32, rows: u32, pitch: u32| {
                for r in 0..rows as usize {
                    let o = base as usize + r * pitch as usize;
                    m.slice(o..o + w as usize)
                        .copy_from_slice(&src[r * w as usize..(r + 1) * w as usize]);
                }
            };
        for ((_, f, params), l) in items.iter().zip(&layouts) {
            let (cw, ch) = f.chroma_size();
            put(&mut m, l.y, &f.y, f.width, f.height, l.ry);
            put(&mut m, l.u, &f.u, cw, ch, l.rc);
            put(&mut m, l.v, &f.v, cw, ch, l.rc);
            m.slice(l.p as usize..(l.p + params_len) as usize)
                .copy_from_slice(bytemuck::bytes_of(params));
        }
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
    for ((pic, f, _), l) in items.iter().zip(&layouts) {
        debug_assert_eq!((f.width, f.height), (pic.width, pic.height));
        let (cw, ch) = f.chroma_size();
        copy(&mut enc, &pic.y, l.y, l.ry, f.width, f.height);
        copy(&mut enc, &pic.u, l.u, l.rc, cw, ch);
        copy(&mut enc, &pic.v, l.v, l.rc, cw, ch);
        enc.copy_buffer_to_buffer(&staging, l.p, &pic.params, 0, params_len);
    }
    let index = gpu.queue.submit(std::iter::once(enc.finish()));
    pool.give_back(staging);
    index
}
