//! MP4 through FFmpeg's libavformat: writing segments from received packets, cutting clips
//! from segments, and reading a file's frame count and times. No decoding, no re-encoding.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use ffmpeg_next as ff;
use mt_capture::decode::Codec;
use mt_capture::RecPacket;

use crate::{RecError, Result};

const TB_90K: ff::Rational = ff::Rational(1, 90_000);
/// Decode-order timestamps are made up (RTP carries presentation times only): they run at the
/// frame interval, starting this many frames before the first picture, which covers the
/// B-frame reordering cameras use (≤ 4 frames).
const REORDER_FRAMES: i64 = 4;
/// Packets held at the start of a segment to learn the frame interval.
const LEARN: usize = 8;

fn mp4_err(path: &Path, e: impl std::fmt::Display) -> RecError {
    let m = e.to_string();
    if m.contains("No space left") {
        RecError::DiskFull {
            path: path.display().to_string(),
            message: m,
        }
    } else {
        RecError::Mp4 {
            path: path.display().to_string(),
            message: m,
        }
    }
}

/// The parameter sets (SPS, PPS, VPS) at the front of a keyframe, with their start codes:
/// the extradata libavformat turns into the MP4's avcC/hvcC box.
pub fn parameter_sets(au: &[u8], codec: Codec) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in annexb_nals(au) {
        let Some(&h) = nal.first() else { continue };
        let keep = match codec {
            Codec::H264 => matches!(h & 0x1f, 7 | 8),
            Codec::H265 => matches!((h >> 1) & 0x3f, 32..=34),
        };
        if keep {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
        }
    }
    out
}

fn annexb_nals(b: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= b.len() {
        if b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut e = starts.get(k + 1).map(|&n| n - 3).unwrap_or(b.len());
        while e > s && b[e - 1] == 0 {
            e -= 1;
        }
        out.push(&b[s..e]);
    }
    out
}

/// One segment being written: fragmented MP4 (a fragment per keyframe), so everything up to
/// the last complete fragment is readable even if the process is killed.
pub struct SegmentWriter {
    octx: Option<ff::format::context::Output>,
    pub path: PathBuf,
    codec: Codec,
    tb: ff::Rational,
    pending: VecDeque<RecPacket>,
    first_pts: i64,
    frame_dur: i64,
    last_dts: i64,
    last_pts: i64,
    pub frames: i64,
    pub bytes_in: u64,
    /// Bytes received in each second of the segment: compressed video grows with motion,
    /// so this is the timeline's activity trace (no decoding needed).
    pub activity: Vec<u32>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub session: u64,
}

impl SegmentWriter {
    /// Starts a segment at `first` (a keyframe).
    pub fn create(path: &Path, first: RecPacket) -> Result<Self> {
        mt_capture::decode::init_ffmpeg();
        let mut octx = ff::format::output_as(path, "mp4").map_err(|e| mp4_err(path, e))?;
        {
            let mut st = octx
                .add_stream(None::<ff::Codec>)
                .map_err(|e| mp4_err(path, e))?;
            st.set_time_base(TB_90K);
            let extra = parameter_sets(&first.data, first.codec);
            // SAFETY: codecpar belongs to the stream just created; extradata is allocated
            // with av_mallocz (libavformat frees it) with the padding FFmpeg requires.
            unsafe {
                let par = (*st.as_mut_ptr()).codecpar;
                (*par).codec_type = ff::ffi::AVMediaType::AVMEDIA_TYPE_VIDEO;
                (*par).codec_id = match first.codec {
                    Codec::H264 => ff::ffi::AVCodecID::AV_CODEC_ID_H264,
                    Codec::H265 => ff::ffi::AVCodecID::AV_CODEC_ID_HEVC,
                };
                (*par).width = first.width as i32;
                (*par).height = first.height as i32;
                if !extra.is_empty() {
                    let pad = ff::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
                    let buf = ff::ffi::av_mallocz(extra.len() + pad) as *mut u8;
                    if !buf.is_null() {
                        std::ptr::copy_nonoverlapping(extra.as_ptr(), buf, extra.len());
                        (*par).extradata = buf;
                        (*par).extradata_size = extra.len() as i32;
                    }
                }
            }
        }
        let mut meta = ff::Dictionary::new();
        meta.set("comment", &format!("matthan_start_ms={}", first.wall_ms));
        octx.set_metadata(meta);
        let mut opts = ff::Dictionary::new();
        opts.set("movflags", "frag_keyframe+empty_moov+default_base_moof");
        opts.set("flush_packets", "1");
        octx.write_header_with(opts).map_err(|e| mp4_err(path, e))?;
        let tb = octx.stream(0).map(|s| s.time_base()).unwrap_or(TB_90K);
        let mut w = SegmentWriter {
            octx: Some(octx),
            path: path.to_owned(),
            codec: first.codec,
            tb,
            pending: VecDeque::new(),
            first_pts: first.pts_90k,
            frame_dur: 0,
            last_dts: i64::MIN,
            last_pts: 0,
            frames: 0,
            bytes_in: 0,
            activity: Vec::new(),
            start_ms: first.wall_ms,
            end_ms: first.wall_ms,
            session: first.session,
        };
        w.push(first)?;
        Ok(w)
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Seconds of video since the segment's first frame.
    pub fn elapsed_s(&self) -> f64 {
        (self.last_pts - self.first_pts) as f64 / 90_000.0
    }

    pub fn push(&mut self, p: RecPacket) -> Result<()> {
        self.end_ms = self.end_ms.max(p.wall_ms);
        self.last_pts = self.last_pts.max(p.pts_90k);
        self.pending.push_back(p);
        if self.frame_dur == 0 {
            if self.pending.len() < LEARN {
                return Ok(());
            }
            self.learn_frame_duration();
        }
        while let Some(p) = self.pending.pop_front() {
            self.write_one(p)?;
        }
        Ok(())
    }

    /// The frame interval: the smallest positive gap between presentation times seen.
    fn learn_frame_duration(&mut self) {
        let mut pts: Vec<i64> = self.pending.iter().map(|p| p.pts_90k).collect();
        pts.sort_unstable();
        self.frame_dur = pts
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| *d > 0)
            .min()
            .unwrap_or(6000)
            .clamp(900, 90_000);
    }

    fn write_one(&mut self, p: RecPacket) -> Result<()> {
        let offset = REORDER_FRAMES * self.frame_dur;
        let mut pts = p.pts_90k - self.first_pts + offset;
        let mut dts = if self.last_dts == i64::MIN {
            0
        } else {
            self.last_dts + self.frame_dur
        };
        // Variable frame rate or a gap: keep dts ≤ pts and increasing.
        if dts > pts {
            dts = (self.last_dts + 1).max(pts.min(dts));
            pts = pts.max(dts);
        }
        self.last_dts = dts;
        let mut pkt = ff::Packet::copy(&p.data);
        pkt.set_pts(Some(pts));
        pkt.set_dts(Some(dts));
        pkt.set_duration(self.frame_dur);
        pkt.set_stream(0);
        if p.keyframe {
            pkt.set_flags(ff::packet::Flags::KEY);
        }
        pkt.rescale_ts(TB_90K, self.tb);
        let octx = self.octx.as_mut().expect("open until finish");
        pkt.write_interleaved(octx)
            .map_err(|e| mp4_err(&self.path, e))?;
        self.frames += 1;
        self.bytes_in += p.data.len() as u64;
        let sec = ((p.wall_ms - self.start_ms).max(0) / 1000) as usize;
        if sec < 24 * 3600 {
            if self.activity.len() <= sec {
                self.activity.resize(sec + 1, 0);
            }
            self.activity[sec] = self.activity[sec].saturating_add(p.data.len() as u32);
        }
        Ok(())
    }

    /// Writes what is buffered and the trailer, and closes the file.
    pub fn finish(mut self) -> Result<Self> {
        if self.frame_dur == 0 {
            self.learn_frame_duration();
        }
        while let Some(p) = self.pending.pop_front() {
            self.write_one(p)?;
        }
        if let Some(mut octx) = self.octx.take() {
            octx.write_trailer().map_err(|e| mp4_err(&self.path, e))?;
        }
        Ok(self)
    }
}

/// What a finished MP4 file holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub frames: i64,
    pub keyframes: i64,
    pub duration_s: f64,
    /// `matthan_start_ms` from the file's comment, when it is one of ours.
    pub start_ms: Option<i64>,
    pub codec: String,
}

/// Reads every packet of `path` (no decoding).
pub fn probe(path: &Path) -> Result<Probe> {
    mt_capture::decode::init_ffmpeg();
    let mut ictx = ff::format::input(path).map_err(|e| mp4_err(path, e))?;
    let start_ms = ictx
        .metadata()
        .get("comment")
        .and_then(|c| c.strip_prefix("matthan_start_ms="))
        .and_then(|v| v.parse().ok());
    let st = ictx
        .streams()
        .best(ff::media::Type::Video)
        .ok_or_else(|| mp4_err(path, "no video stream"))?;
    let idx = st.index();
    let tb = st.time_base();
    let codec = format!("{:?}", st.parameters().id());
    let (mut frames, mut keys) = (0i64, 0i64);
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for (s, pkt) in ictx.packets() {
        if s.index() != idx {
            continue;
        }
        frames += 1;
        if pkt.is_key() {
            keys += 1;
        }
        if let Some(p) = pkt.pts() {
            lo = lo.min(p);
            hi = hi.max(p + pkt.duration().max(0));
        }
    }
    let duration_s = if frames > 0 && hi > lo {
        (hi - lo) as f64 * tb.numerator() as f64 / tb.denominator() as f64
    } else {
        0.0
    };
    Ok(Probe {
        frames,
        keyframes: keys,
        duration_s,
        start_ms,
        codec,
    })
}

/// Cuts [from_ms, to_ms] of a camera out of its segments into one MP4 at `out` (remux: the
/// packets are copied). Starts at the last keyframe at or before `from_ms`, so the clip's
/// first frame decodes. Returns the number of frames written and the wall-clock time (Unix
/// ms) of the first one.
pub fn cut_clip(
    segments: &[(PathBuf, i64)],
    from_ms: i64,
    to_ms: i64,
    out: &Path,
    cancel: &dyn Fn() -> bool,
) -> Result<(i64, i64)> {
    mt_capture::decode::init_ffmpeg();
    let mut first_wall: Option<i64> = None;
    let mut octx: Option<ff::format::context::Output> = None;
    let mut out_tb = TB_90K;
    let mut frames = 0i64;
    // Output timestamps continue across segments: each segment's are shifted by where the
    // previous one ended (in output time base).
    let mut next_base: i64 = 0;
    let mut started = false;
    let mut done = false;
    for (seg, seg_start_ms) in segments {
        if done {
            break;
        }
        if cancel() {
            return Err(RecError::Cancelled);
        }
        let mut ictx = ff::format::input(seg).map_err(|e| mp4_err(seg, e))?;
        let Some(ist) = ictx.streams().best(ff::media::Type::Video) else {
            continue;
        };
        let idx = ist.index();
        let in_tb = ist.time_base();
        if octx.is_none() {
            let mut o = ff::format::output_as(out, "mp4").map_err(|e| mp4_err(out, e))?;
            {
                let mut ost = o
                    .add_stream(None::<ff::Codec>)
                    .map_err(|e| mp4_err(out, e))?;
                ost.set_parameters(ist.parameters());
                // SAFETY: the stream's codecpar; a tag from another container must be cleared.
                unsafe {
                    (*(*ost.as_mut_ptr()).codecpar).codec_tag = 0;
                }
                ost.set_time_base(in_tb);
            }
            let mut opts = ff::Dictionary::new();
            opts.set("movflags", "+faststart");
            o.write_header_with(opts).map_err(|e| mp4_err(out, e))?;
            out_tb = o.stream(0).map(|s| s.time_base()).unwrap_or(in_tb);
            octx = Some(o);
        }
        let o = octx.as_mut().expect("opened above");
        // Wall time of a packet: the segment's start plus its presentation time past the
        // segment's first presentation time.
        let mut first_pts: Option<i64> = None;
        let mut seg_base: Option<i64> = None;
        let mut seg_end = next_base;
        let packets: Vec<ff::Packet> = ictx
            .packets()
            .filter(|(s, _)| s.index() == idx)
            .map(|(_, p)| p)
            .collect();
        let min_pts = packets.iter().filter_map(|p| p.pts()).min().unwrap_or(0);
        let to_ms_in = |pts: i64| -> i64 {
            let d = pts - min_pts;
            seg_start_ms + d * 1000 * in_tb.numerator() as i64 / in_tb.denominator() as i64
        };
        // The last keyframe at or before from_ms (if this segment holds from_ms).
        let start_key = packets
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_key() && p.pts().is_some_and(|t| to_ms_in(t) <= from_ms))
            .map(|(i, _)| i)
            .next_back();
        for (i, mut pkt) in packets.into_iter().enumerate() {
            let Some(pts) = pkt.pts() else { continue };
            let wall = to_ms_in(pts);
            if !started {
                let begin = match start_key {
                    Some(k) => i >= k,
                    None => pkt.is_key() && wall >= from_ms,
                };
                if !begin {
                    continue;
                }
                started = true;
            }
            if wall > to_ms {
                // Later frames of the GOP may still be presented earlier (B-frames): only
                // stop at the next keyframe past the end.
                if pkt.is_key() {
                    done = true;
                    break;
                }
                continue;
            }
            first_pts.get_or_insert(pts);
            first_wall.get_or_insert(wall);
            let dts = pkt.dts().unwrap_or(pts);
            let base = *seg_base.get_or_insert(dts);
            pkt.set_pts(Some(pts - base));
            pkt.set_dts(Some(dts - base));
            pkt.set_stream(0);
            pkt.set_position(-1);
            pkt.rescale_ts(in_tb, out_tb);
            let shift = next_base;
            pkt.set_pts(pkt.pts().map(|p| p + shift));
            pkt.set_dts(pkt.dts().map(|d| d + shift));
            seg_end = seg_end.max(pkt.dts().unwrap_or(0) + pkt.duration().max(1));
            pkt.write_interleaved(o).map_err(|e| mp4_err(out, e))?;
            frames += 1;
        }
        next_base = seg_end;
    }
    match octx {
        Some(mut o) => {
            o.write_trailer().map_err(|e| mp4_err(out, e))?;
            Ok((frames, first_wall.unwrap_or(from_ms)))
        }
        None => Err(RecError::Invalid(format!(
            "no recording between {from_ms} and {to_ms}"
        ))),
    }
}
