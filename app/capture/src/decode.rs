//! One decoder thread per stream: libavcodec (through `ffmpeg-next`), single-threaded per
//! stream (dozens of streams already keep both cores busy; frame threading would add a frame
//! of latency per thread).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Once};
use std::time::Instant;

use ff::format::Pixel;
use ffmpeg_next as ff;

use crate::frame::{ColorMatrix, DecodedFrame};
use crate::shared::StreamShared;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    H264,
    H265,
}

impl Codec {
    pub fn from_encoding_name(name: &str) -> Option<Codec> {
        match name.to_ascii_lowercase().as_str() {
            "h264" => Some(Codec::H264),
            "h265" | "hevc" => Some(Codec::H265),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Codec::H264 => "H.264",
            Codec::H265 => "H.265",
        }
    }
    fn ff_id(self) -> ff::codec::Id {
        match self {
            Codec::H264 => ff::codec::Id::H264,
            Codec::H265 => ff::codec::Id::HEVC,
        }
    }
}

/// An access unit in Annex B form (SPS/PPS before every keyframe), as retina's
/// `FrameFormat::SIMPLE` gives it.
pub struct EncodedFrame {
    pub data: Vec<u8>,
    pub codec: Codec,
    pub arrival: Instant,
    /// First frame of a new RTSP session: start a fresh decoder.
    pub fresh: bool,
}

/// Frames queued between receive and decode. Small on purpose: a decoder more than this far
/// behind makes the receiver skip to the next keyframe rather than add latency.
pub const DECODE_QUEUE: usize = 8;

pub fn init_ffmpeg() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Err(e) = ff::init() {
            tracing::error!("FFmpeg init failed: {e}");
        }
        ff::util::log::set_level(ff::util::log::Level::Fatal);
    });
}

pub fn spawn_decoder(shared: Arc<StreamShared>) -> std::io::Result<SyncSender<EncodedFrame>> {
    init_ffmpeg();
    let (tx, rx) = sync_channel(DECODE_QUEUE);
    std::thread::Builder::new()
        .name(format!("decode {}", shared.label))
        .spawn(move || decoder_thread(shared, rx))?;
    Ok(tx)
}

/// A libavcodec decoder for one stream plus a small pool of output frames that are reused
/// once the renderer has let go of them (no per-frame allocation in steady state).
pub struct Decoder {
    codec: Codec,
    dec: ff::decoder::Video,
    out: ff::frame::Video,
    pool: Vec<Arc<DecodedFrame>>,
    seq: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("no {0:?} decoder in this FFmpeg build")]
    NoDecoder(Codec),
    #[error("FFmpeg: {0}")]
    Ffmpeg(#[from] ff::Error),
    #[error("pixel format {0:?} is not supported (only 4:2:0 8-bit)")]
    PixelFormat(Pixel),
}

impl Decoder {
    pub fn new(codec: Codec) -> Result<Self, DecodeError> {
        init_ffmpeg();
        let c = ff::decoder::find(codec.ff_id()).ok_or(DecodeError::NoDecoder(codec))?;
        Self::open(codec, ff::codec::Context::new_with_codec(c))
    }

    /// Opens `ctx` single-threaded (see the module comment) with an empty frame pool.
    fn open(codec: Codec, mut ctx: ff::codec::Context) -> Result<Self, DecodeError> {
        ctx.set_threading(ff::threading::Config {
            kind: ff::threading::Type::None,
            count: 1,
            ..Default::default()
        });
        let dec = ctx.decoder().video()?;
        Ok(Decoder {
            codec,
            dec,
            out: ff::frame::Video::empty(),
            pool: Vec::new(),
            seq: 0,
        })
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// A decoder for a stream read from a file (MP4): the container's parameters carry the
    /// avcC/hvcC extradata its length-prefixed packets need.
    pub fn from_parameters(
        codec: Codec,
        params: ff::codec::Parameters,
    ) -> Result<Self, DecodeError> {
        init_ffmpeg();
        let mut ctx = ff::codec::Context::from_parameters(params)?;
        // Tell the decoder up front that pictures may be reordered (B-frames): otherwise a
        // fresh or flushed H.264 decoder puts pictures out before it has learnt the reorder
        // depth and then drops the ones that arrive "late" — after every seek.
        // SAFETY: a plain field of the codec context, set before the decoder is opened.
        unsafe {
            let c = ctx.as_mut_ptr();
            (*c).has_b_frames = (*c).has_b_frames.max(4);
        }
        Self::open(codec, ctx)
    }

    /// Decodes a demuxed packet (with its timestamps); `emit` gets each picture with its
    /// presentation time in the packet's time base.
    pub fn decode_packet(
        &mut self,
        pkt: &ff::Packet,
        mut emit: impl FnMut(Option<i64>, Arc<DecodedFrame>),
    ) -> Result<(), DecodeError> {
        self.dec.send_packet(pkt)?;
        self.drain(&mut emit)
    }

    /// Signals the end of the input and emits the pictures still inside the decoder.
    pub fn finish(
        &mut self,
        mut emit: impl FnMut(Option<i64>, Arc<DecodedFrame>),
    ) -> Result<(), DecodeError> {
        self.dec.send_eof()?;
        self.drain(&mut emit)
    }

    fn drain(
        &mut self,
        emit: &mut impl FnMut(Option<i64>, Arc<DecodedFrame>),
    ) -> Result<(), DecodeError> {
        while self.dec.receive_frame(&mut self.out).is_ok() {
            let pts = self.out.pts().or(self.out.timestamp());
            let f = self.convert(Instant::now())?;
            emit(pts, f);
        }
        Ok(())
    }

    /// Forgets buffered pictures (after a seek).
    pub fn flush(&mut self) {
        self.dec.flush();
    }

    /// Decodes one access unit; calls `emit` for every picture that comes out.
    pub fn decode(
        &mut self,
        data: &[u8],
        arrival: Instant,
        mut emit: impl FnMut(Arc<DecodedFrame>),
    ) -> Result<(), DecodeError> {
        let pkt = ff::Packet::copy(data);
        self.dec.send_packet(&pkt)?;
        while self.dec.receive_frame(&mut self.out).is_ok() {
            let f = self.convert(arrival)?;
            emit(f);
        }
        Ok(())
    }

    fn convert(&mut self, arrival: Instant) -> Result<Arc<DecodedFrame>, DecodeError> {
        let src = &self.out;
        let fmt = src.format();
        let full_range = match fmt {
            Pixel::YUVJ420P => true,
            Pixel::YUV420P => src.color_range() == ff::color::Range::JPEG,
            other => return Err(DecodeError::PixelFormat(other)),
        };
        let matrix = match src.color_space() {
            ff::color::Space::BT709 => ColorMatrix::Bt709,
            _ => ColorMatrix::Bt601,
        };
        let (w, h) = (src.width(), src.height());
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        self.seq += 1;
        // Reuse a pool frame the renderer no longer holds; allocate only when all are busy.
        let idx = match self.pool.iter().position(|f| Arc::strong_count(f) == 1) {
            Some(i) => i,
            None => {
                self.pool.push(Arc::new(DecodedFrame::solid(0, 0, 0, 0, 0)));
                self.pool.len() - 1
            }
        };
        let dst = Arc::get_mut(&mut self.pool[idx]).expect("pool frame held only by the pool");
        copy_plane(
            &mut dst.y,
            src.data(0),
            src.stride(0),
            w as usize,
            h as usize,
        );
        copy_plane(
            &mut dst.u,
            src.data(1),
            src.stride(1),
            cw as usize,
            ch as usize,
        );
        copy_plane(
            &mut dst.v,
            src.data(2),
            src.stride(2),
            cw as usize,
            ch as usize,
        );
        dst.width = w;
        dst.height = h;
        dst.matrix = matrix;
        dst.full_range = full_range;
        dst.arrival = arrival;
        dst.seq = self.seq;
        dst.codec = self.codec.label();
        let frame = self.pool[idx].clone();
        if self.pool.len() > 6 {
            // The renderer is holding more than usual; do not let the pool grow without bound.
            self.pool.swap_remove(idx);
        }
        Ok(frame)
    }
}

fn copy_plane(dst: &mut Vec<u8>, src: &[u8], stride: usize, w: usize, h: usize) {
    dst.resize(w * h, 0);
    for row in 0..h {
        dst[row * w..(row + 1) * w].copy_from_slice(&src[row * stride..row * stride + w]);
    }
}

fn decoder_thread(shared: Arc<StreamShared>, rx: Receiver<EncodedFrame>) {
    let mut dec: Option<Decoder> = None;
    let mut errors_in_row = 0u32;
    while let Ok(msg) = rx.recv() {
        if msg.fresh || dec.as_ref().is_none_or(|d| d.codec() != msg.codec) {
            dec = match Decoder::new(msg.codec) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::warn!(stream = %shared.label, "cannot create decoder: {e}");
                    None
                }
            };
        }
        let Some(d) = dec.as_mut() else { continue };
        let r = d.decode(&msg.data, msg.arrival, |f| {
            shared.with_stats(|s| {
                s.frames_decoded += 1;
                s.width = f.width;
                s.height = f.height;
            });
            shared.publish(f);
        });
        match r {
            Ok(()) => errors_in_row = 0,
            Err(e) => {
                errors_in_row += 1;
                if errors_in_row == 1 || errors_in_row % 100 == 0 {
                    tracing::debug!(stream = %shared.label, "decode error ({errors_in_row} in a row): {e}");
                }
            }
        }
    }
}
