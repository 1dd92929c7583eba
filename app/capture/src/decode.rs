//! One decoder thread per stream: libavcodec (through `ffmpeg-next`), single-threaded per
//! stream (dozens of streams already keep both cores busy; frame threading would add a frame
//! of latency per thread).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Once};
use std::time::Instant;

use ff::format::Pixel;
use ffmpeg_next as ff;

use crate::shared::StreamShared;
use mt_media::{ColorMatrix, DecodedFrame};

pub use mt_media::Codec;

fn ff_id(codec: Codec) -> ff::codec::Id {
    match codec {
        Codec::H264 => ff::codec::Id::H264,
        Codec::H265 => ff::codec::Id::HEVC,
    }
}

/// An access unit in Annex B form (SPS/PPS before every keyframe), as retina's
/// `FrameFormat::SIMPLE` gives it.
pub struct EncodedFrame {
    pub data: Vec<u8>,
    pub codec: Codec,
    pub arrival: Instant,
    /// The picture's timeline time (Unix ms): the decoder hands it back with the picture it
    /// puts out, which with B-frames is not the packet just fed.
    pub time_ms: i64,
    /// Start a fresh decoder (first frame of a session, a keyframe after a gap in decoding,
    /// new parameters).
    pub fresh: bool,
    /// Picture size from the stream's parameters (0 if unknown): large pictures get
    /// libavcodec's frame threads.
    pub pixels: u32,
    /// Put out every picture now (a lone keyframe decoded to check a stream no view shows).
    pub drain: bool,
}

/// Pictures of at least this many pixels (1920×1080) are decoded with frame threads: one
/// thread cannot keep up with a 4K stream at 25 fps on this class of machine.
pub const THREADED_PIXELS: u32 = 1920 * 1080;

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
    #[error("pixel format {} is not supported (only 8-bit 4:2:0)", pixel_name(*.0))]
    PixelFormat(Pixel),
}

/// What an officer can be told about a pixel format ("10-bit 4:2:0" rather than an enum).
pub fn pixel_name(p: Pixel) -> String {
    match p {
        Pixel::YUV420P10LE | Pixel::YUV420P10BE => "10-bit 4:2:0 (yuv420p10)".into(),
        Pixel::YUV422P | Pixel::YUVJ422P => "4:2:2 (yuv422p)".into(),
        Pixel::YUV444P | Pixel::YUVJ444P => "4:4:4 (yuv444p)".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

impl Decoder {
    pub fn new(codec: Codec) -> Result<Self, DecodeError> {
        Self::with_threads(codec, 1)
    }

    /// A decoder with `threads` frame threads (1: single-threaded, see the module comment).
    pub fn with_threads(codec: Codec, threads: usize) -> Result<Self, DecodeError> {
        init_ffmpeg();
        let c = ff::decoder::find(ff_id(codec)).ok_or(DecodeError::NoDecoder(codec))?;
        Self::open(codec, ff::codec::Context::new_with_codec(c), threads)
    }

    /// Opens `ctx` with `threads` frame threads (1: none) and an empty frame pool.
    fn open(
        codec: Codec,
        mut ctx: ff::codec::Context,
        threads: usize,
    ) -> Result<Self, DecodeError> {
        ctx.set_threading(ff::threading::Config {
            kind: if threads > 1 {
                ff::threading::Type::Frame
            } else {
                ff::threading::Type::None
            },
            count: threads.max(1),
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
        // SAFETY: reading two plain fields of the parameters.
        let pixels = unsafe {
            let p = params.as_ptr();
            ((*p).width.max(0) as u32).saturating_mul((*p).height.max(0) as u32)
        };
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
        let threads = if pixels >= THREADED_PIXELS { 2 } else { 1 };
        Self::open(codec, ctx, threads)
    }

    /// Decodes a demuxed packet (with its timestamps). For each picture that comes out,
    /// `time_of` gets the decoder's timestamp for it (in the packet's time base) and returns
    /// the picture's timeline time (Unix ms), and `emit` gets the picture stamped with it.
    pub fn decode_packet(
        &mut self,
        pkt: &ff::Packet,
        time_of: &mut dyn FnMut(Option<i64>) -> i64,
        emit: &mut dyn FnMut(Arc<DecodedFrame>),
    ) -> Result<(), DecodeError> {
        self.dec.send_packet(pkt)?;
        self.drain(time_of, emit)
    }

    /// Signals the end of the input and emits the pictures still inside the decoder.
    pub fn finish(
        &mut self,
        time_of: &mut dyn FnMut(Option<i64>) -> i64,
        emit: &mut dyn FnMut(Arc<DecodedFrame>),
    ) -> Result<(), DecodeError> {
        self.dec.send_eof()?;
        self.drain(time_of, emit)
    }

    fn drain(
        &mut self,
        time_of: &mut dyn FnMut(Option<i64>) -> i64,
        emit: &mut dyn FnMut(Arc<DecodedFrame>),
    ) -> Result<(), DecodeError> {
        while self.dec.receive_frame(&mut self.out).is_ok() {
            let t = time_of(self.out.pts());
            let f = self.convert(Instant::now(), t)?;
            emit(f);
        }
        Ok(())
    }

    /// Puts out the pictures the decoder still holds (end of input), stamped `time_ms` when
    /// it gives no time of its own, then makes it ready for new input.
    pub fn drain_now(
        &mut self,
        time_ms: i64,
        arrival: Instant,
        mut emit: impl FnMut(Arc<DecodedFrame>),
    ) -> Result<(), DecodeError> {
        self.dec.send_eof()?;
        while self.dec.receive_frame(&mut self.out).is_ok() {
            let t = self.out.pts().or(self.out.timestamp()).unwrap_or(time_ms);
            emit(self.convert(arrival, t)?);
        }
        self.dec.flush();
        Ok(())
    }

    /// Forgets buffered pictures (after a seek).
    pub fn flush(&mut self) {
        self.dec.flush();
    }

    /// Decodes one access unit whose picture has timeline time `time_ms`; calls `emit` for
    /// every picture that comes out, stamped with its own time (libavcodec carries the
    /// packet's timestamp to the picture made from it, in presentation order).
    pub fn decode(
        &mut self,
        data: &[u8],
        time_ms: i64,
        arrival: Instant,
        mut emit: impl FnMut(Arc<DecodedFrame>),
    ) -> Result<(), DecodeError> {
        let mut pkt = ff::Packet::copy(data);
        pkt.set_pts(Some(time_ms));
        pkt.set_dts(None);
        self.dec.send_packet(&pkt)?;
        while self.dec.receive_frame(&mut self.out).is_ok() {
            let t = self.out.pts().or(self.out.timestamp()).unwrap_or(time_ms);
            emit(self.convert(arrival, t)?);
        }
        Ok(())
    }

    /// Copies the decoded picture into a pool frame stamped `time_ms`.
    fn convert(
        &mut self,
        arrival: Instant,
        time_ms: i64,
    ) -> Result<Arc<DecodedFrame>, DecodeError> {
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
        dst.time_ms = time_ms;
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

/// Frames in a row that fail to decode, without a picture, before the stream is reported as
/// undecodable (about two seconds of video).
const UNDECODABLE_AFTER: u32 = 30;

fn decoder_thread(shared: Arc<StreamShared>, rx: Receiver<EncodedFrame>) {
    let mut dec: Option<Decoder> = None;
    let mut errors_in_row = 0u32;
    // Frames fed since the last picture came out (libavcodec often accepts broken data
    // without an error and just puts nothing out).
    let mut fed_without_picture = 0u32;
    let mut last_error = String::new();
    while let Ok(msg) = rx.recv() {
        if msg.fresh || dec.as_ref().is_none_or(|d| d.codec() != msg.codec) {
            fed_without_picture = 0;
            let threads = if msg.pixels >= THREADED_PIXELS { 2 } else { 1 };
            dec = match Decoder::with_threads(msg.codec, threads) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::warn!(stream = %shared.label, "cannot create decoder: {e}");
                    shared.set_undecodable(Some((
                        mt_core::UndecodableReason::NoDecoder,
                        e.to_string(),
                    )));
                    None
                }
            };
        }
        let Some(d) = dec.as_mut() else { continue };
        let mut got = false;
        let mut on_picture = |f: Arc<DecodedFrame>| {
            let was = shared.with_stats(|s| {
                s.frames_decoded += 1;
                s.width = f.width;
                s.height = f.height;
                s.last_picture_at.replace(Instant::now())
            });
            if was.is_none_or(|t| t.elapsed() > std::time::Duration::from_secs(3)) {
                tracing::info!(stream = %shared.label, "live: pictures decoded ({}×{} {})", f.width, f.height, f.codec);
            }
            shared.publish(f);
            got = true;
        };
        let mut r = d.decode(&msg.data, msg.time_ms, msg.arrival, &mut on_picture);
        if msg.drain && r.is_ok() {
            r = d.drain_now(msg.time_ms, msg.arrival, &mut on_picture);
        }
        if got {
            shared.set_undecodable(None);
            fed_without_picture = 0;
        } else {
            fed_without_picture += 1;
        }
        match r {
            Ok(()) => {
                errors_in_row = 0;
                if fed_without_picture >= UNDECODABLE_AFTER {
                    let why = if last_error.is_empty() {
                        format!("no picture from the last {fed_without_picture} frames")
                    } else {
                        format!(
                            "no picture from the last {fed_without_picture} frames ({last_error})"
                        )
                    };
                    shared.set_undecodable(Some((mt_core::UndecodableReason::Failing, why)));
                }
            }
            Err(e @ DecodeError::PixelFormat(p)) => {
                // Nothing later in this stream will be different: say so now.
                shared.with_stats(|s| s.decode_errors += 1);
                if !matches!(shared.state(), mt_core::StreamState::Undecodable { .. }) {
                    tracing::warn!(stream = %shared.label, "cannot show this stream: {e}");
                }
                shared.set_undecodable(Some((mt_core::UndecodableReason::Format, pixel_name(p))));
            }
            Err(e) => {
                errors_in_row += 1;
                last_error = e.to_string();
                shared.with_stats(|s| s.decode_errors += 1);
                if errors_in_row == 1 || errors_in_row % 100 == 0 {
                    tracing::debug!(stream = %shared.label, "decode error ({errors_in_row} in a row): {e}");
                }
                if fed_without_picture >= UNDECODABLE_AFTER {
                    shared.set_undecodable(Some((
                        mt_core::UndecodableReason::Failing,
                        format!("{errors_in_row} × {e}"),
                    )));
                }
            }
        }
    }
}
