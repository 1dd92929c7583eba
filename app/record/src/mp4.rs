//! MP4 through FFmpeg's libavformat: writing segments from received packets, cutting clips
//! from segments, and reading a file's frame count and times. No decoding, no re-encoding.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use ffmpeg_next as ff;
use mt_media::Codec;
use mt_media::RecPacket;

use crate::{RecError, Result};

const TB_90K: ff::Rational = ff::Rational(1, 90_000);
/// Packets held before the first is written: decode times are derived from the presentation
/// times of the packets around each one (see [`SegmentWriter`]), and cameras reorder at most
/// a few frames (B-frames, B-pyramids).
const LOOKAHEAD: usize = 8;

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
///
/// RTSP carries presentation times only. Decode times are derived from them, VFR-safe: the
/// i-th packet in decode order gets the i-th smallest presentation time, shifted back by the
/// reorder delay D learnt from the first packets (`dts_i = sorted_pts_i − D`, so
/// `dts_i ≤ pts_i` and decode times rise). Nothing is made up from an assumed frame rate.
pub struct SegmentWriter {
    octx: Option<ff::format::context::Output>,
    pub path: PathBuf,
    codec: Codec,
    tb: ff::Rational,
    /// Packets not written yet, in decode order.
    pending: VecDeque<RecPacket>,
    /// Presentation times of every packet pushed whose sorted slot is not used yet.
    sorted: std::collections::BinaryHeap<std::cmp::Reverse<i64>>,
    /// The smallest presentation time of the segment (its first picture).
    first_pts: i64,
    /// Reorder delay, 90 kHz (None until learnt).
    reorder: Option<i64>,
    last_dts: i64,
    last_dur: i64,
    /// The largest presentation time written, and its duration.
    max_pts: i64,
    max_pts_dur: i64,
    /// Smallest `wall_us − (pts − first_pts)` seen: the timeline time of `first_pts`.
    start_us: i64,
    pub frames: i64,
    pub bytes_in: u64,
    /// Bytes received in each second of the segment: compressed video grows with motion,
    /// so this is the timeline's activity trace (no decoding needed).
    pub activity: Vec<u32>,
    /// Timeline time of the first picture (Unix ms).
    pub start_ms: i64,
    /// End of the last picture: its time plus its duration (Unix ms).
    pub end_ms: i64,
    pub session: u64,
    pub width: u32,
    pub height: u32,
    /// Start of the run this segment belongs to (Unix ms).
    pub run_start_ms: i64,
    /// Presentation times had to be nudged (a camera whose reordering grew mid-segment).
    pub nudged: u64,
}

impl SegmentWriter {
    /// Starts a segment at `first` (a keyframe). `run_start_ms`: the run it continues, or
    /// None to start a run here.
    pub fn create(path: &Path, first: RecPacket, run_start_ms: Option<i64>) -> Result<Self> {
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
        let start_ms = first.wall_us.div_euclid(1000);
        let run_start_ms = run_start_ms.unwrap_or(start_ms);
        let mut meta = ff::Dictionary::new();
        // The first packet's time (exact once the segment is finished and indexed; a file
        // recovered after a kill starts from this).
        meta.set(
            "comment",
            &format!("matthan_start_ms={start_ms} run_start_ms={run_start_ms}"),
        );
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
            sorted: Default::default(),
            first_pts: first.pts_90k,
            reorder: None,
            last_dts: i64::MIN,
            last_dur: 3_600,
            max_pts: i64::MIN,
            max_pts_dur: 3_600,
            start_us: i64::MAX,
            frames: 0,
            bytes_in: 0,
            activity: Vec::new(),
            start_ms,
            end_ms: start_ms,
            session: first.session,
            width: first.width,
            height: first.height,
            run_start_ms,
            nudged: 0,
        };
        w.push(first)?;
        Ok(w)
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Seconds of video since the segment's first picture.
    pub fn elapsed_s(&self) -> f64 {
        let last = self
            .pending
            .iter()
            .map(|p| p.pts_90k)
            .max()
            .unwrap_or(self.first_pts)
            .max(self.max_pts);
        (last - self.first_pts) as f64 / 90_000.0
    }

    pub fn push(&mut self, p: RecPacket) -> Result<()> {
        self.first_pts = self.first_pts.min(p.pts_90k);
        self.sorted.push(std::cmp::Reverse(p.pts_90k));
        self.pending.push_back(p);
        if self.pending.len() <= LOOKAHEAD {
            return Ok(());
        }
        if self.reorder.is_none() {
            self.learn_reorder();
        }
        while self.pending.len() > LOOKAHEAD {
            self.write_one()?;
        }
        Ok(())
    }

    /// D = the largest `sorted_pts_i − pts_i` over the packets held.
    fn learn_reorder(&mut self) {
        let mut sorted: Vec<i64> = self.sorted.iter().map(|r| r.0).collect();
        sorted.sort_unstable();
        let d = self
            .pending
            .iter()
            .zip(&sorted)
            .map(|(p, s)| s - p.pts_90k)
            .max()
            .unwrap_or(0)
            .max(0);
        self.reorder = Some(d);
    }

    fn write_one(&mut self) -> Result<()> {
        let Some(p) = self.pending.pop_front() else {
            return Ok(());
        };
        let slot = self.sorted.pop().map(|r| r.0).unwrap_or(p.pts_90k);
        let next_slot = self.sorted.peek().map(|r| r.0);
        let d = self.reorder.unwrap_or(0);
        let mut pts = p.pts_90k - self.first_pts + d;
        let mut dts = slot - self.first_pts;
        if dts <= self.last_dts {
            dts = self.last_dts + 1;
        }
        if dts > pts {
            // The camera reorders more than it did when the segment began: keep the file
            // valid (dts ≤ pts) and count it.
            pts = dts;
            self.nudged += 1;
        }
        let dur = match next_slot {
            Some(n) if n > slot => n - slot,
            _ => self.last_dur,
        };
        self.last_dur = dur;
        self.last_dts = dts;
        if p.pts_90k >= self.max_pts {
            self.max_pts = p.pts_90k;
            self.max_pts_dur = dur;
        }
        let off_us = (p.pts_90k - self.first_pts) * 100 / 9;
        self.start_us = self.start_us.min(p.wall_us - off_us);
        let mut pkt = ff::Packet::copy(&p.data);
        pkt.set_pts(Some(pts));
        pkt.set_dts(Some(dts));
        pkt.set_duration(dur);
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
        self.start_ms = self.start_us.div_euclid(1000);
        self.end_ms = (self.start_us
            + (self.max_pts + self.max_pts_dur - self.first_pts) * 100 / 9)
            .div_euclid(1000);
        let sec = ((p.wall_us.div_euclid(1000) - self.start_ms).max(0) / 1000) as usize;
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
        if self.reorder.is_none() {
            self.learn_reorder();
        }
        while !self.pending.is_empty() {
            self.write_one()?;
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
    /// `run_start_ms` from the file's comment (files of this version on).
    pub run_start_ms: Option<i64>,
    pub codec: String,
    pub width: u32,
    pub height: u32,
}

/// Reads every packet of `path` (no decoding).
pub fn probe(path: &Path) -> Result<Probe> {
    mt_capture::decode::init_ffmpeg();
    let mut ictx = ff::format::input(path).map_err(|e| mp4_err(path, e))?;
    let comment = ictx.metadata().get("comment").unwrap_or("").to_owned();
    let field = |k: &str| -> Option<i64> {
        comment
            .split_whitespace()
            .find_map(|f| f.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
    };
    let start_ms = field("matthan_start_ms");
    let run_start_ms = field("run_start_ms");
    let st = ictx
        .streams()
        .best(ff::media::Type::Video)
        .ok_or_else(|| mp4_err(path, "no video stream"))?;
    let idx = st.index();
    let tb = st.time_base();
    let codec = match st.parameters().id() {
        ff::codec::Id::H264 => "H.264".to_owned(),
        ff::codec::Id::HEVC => "H.265".to_owned(),
        other => format!("{other:?}"),
    };
    // SAFETY: two plain fields of the stream's parameters.
    let (width, height) = unsafe {
        let p = st.parameters().as_ptr();
        ((*p).width.max(0) as u32, (*p).height.max(0) as u32)
    };
    let (mut frames, mut keys) = (0i64, 0i64);
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for (s, pkt) in ictx.packets() {
        // A packet cut short (the file ends inside it) is not footage.
        if s.index() != idx || pkt.is_corrupt() {
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
        run_start_ms,
        codec,
        width,
        height,
    })
}

/// What [`cut_clip`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Cut {
    pub frames: i64,
    /// Timeline time of the clip's first picture (presentation order), Unix ms.
    pub start_ms: i64,
    /// End of its last picture (time + duration), Unix ms.
    pub end_ms: i64,
    pub width: u32,
    pub height: u32,
    /// "H.264" / "H.265".
    pub codec: String,
}

/// Cuts [from_ms, to_ms] out of the segments of ONE run of a camera (same codec parameters,
/// continuous footage: `(file, timeline start of its first picture)`, in order) into one MP4
/// at `out` (remux: the packets are copied). Starts at the last keyframe at or before
/// `from_ms`, so the clip's first frame decodes, and ends at the keyframe after `to_ms`.
/// Each segment's pictures are placed at their own timeline time relative to the clip's
/// first picture, so the clock corrections between segments are kept.
pub fn cut_clip(
    segments: &[(PathBuf, i64)],
    from_ms: i64,
    to_ms: i64,
    out: &Path,
    cancel: &dyn Fn() -> bool,
) -> Result<Cut> {
    mt_capture::decode::init_ffmpeg();
    let mut cut = Cut {
        frames: 0,
        start_ms: i64::MAX,
        end_ms: i64::MIN,
        width: 0,
        height: 0,
        codec: String::new(),
    };
    let mut octx: Option<ff::format::context::Output> = None;
    let mut out_tb = TB_90K;
    // Output time 0 = the timeline time `origin_ms` minus the reorder delay of the first
    // packet written (so no decode time is negative).
    let mut origin: Option<(i64, i64)> = None; // (origin_ms, delay in out_tb)
    let mut last_dts = i64::MIN;
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
                    let p = ist.parameters().as_ptr();
                    cut.width = (*p).width.max(0) as u32;
                    cut.height = (*p).height.max(0) as u32;
                }
                cut.codec = match ist.parameters().id() {
                    ff::codec::Id::HEVC => "H.265".into(),
                    _ => "H.264".into(),
                };
                ost.set_time_base(in_tb);
            }
            let mut opts = ff::Dictionary::new();
            opts.set("movflags", "+faststart");
            o.write_header_with(opts).map_err(|e| mp4_err(out, e))?;
            out_tb = o.stream(0).map(|s| s.time_base()).unwrap_or(in_tb);
            octx = Some(o);
        }
        let o = octx.as_mut().expect("opened above");
        let to_out = |v: i64| v.rescale(in_tb, out_tb);
        // Reading the packets of one segment (about a minute) into memory; a clip of hours
        // is written segment by segment.
        let packets: Vec<ff::Packet> = ictx
            .packets()
            .filter(|(s, _)| s.index() == idx)
            .map(|(_, p)| p)
            .collect();
        let min_pts = packets.iter().filter_map(|p| p.pts()).min().unwrap_or(0);
        let ms_of = |pts: i64| -> i64 {
            seg_start_ms
                + (pts - min_pts) * 1000 * in_tb.numerator() as i64 / in_tb.denominator() as i64
        };
        // The last keyframe at or before from_ms (if this segment holds from_ms).
        let start_key = packets
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_key() && p.pts().is_some_and(|t| ms_of(t) <= from_ms))
            .map(|(i, _)| i)
            .next_back();
        for (i, mut pkt) in packets.into_iter().enumerate() {
            let Some(pts) = pkt.pts() else { continue };
            let wall = ms_of(pts);
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
            // Past the end, the rest of the GOP is still written (a B-frame presented
            // before the end is decoded from the P-frame after it): stop at the next keyframe.
            if wall > to_ms && pkt.is_key() {
                done = true;
                break;
            }
            let dts = pkt.dts().unwrap_or(pts);
            let (origin_ms, delay) =
                *origin.get_or_insert_with(|| (wall, to_out(pts - dts).max(0)));
            let seg_off = ((seg_start_ms - origin_ms) * out_tb.denominator() as i64)
                / (1000 * out_tb.numerator() as i64);
            let mut out_pts = seg_off + to_out(pts - min_pts) + delay;
            let mut out_dts = seg_off + to_out(dts - min_pts) + delay;
            if out_dts <= last_dts {
                out_dts = last_dts + 1;
            }
            out_pts = out_pts.max(out_dts);
            last_dts = out_dts;
            let dur = pkt.duration().max(0);
            pkt.set_pts(Some(out_pts));
            pkt.set_dts(Some(out_dts));
            pkt.set_duration(to_out(dur));
            pkt.set_stream(0);
            pkt.set_position(-1);
            pkt.write_interleaved(o).map_err(|e| mp4_err(out, e))?;
            cut.frames += 1;
            cut.start_ms = cut.start_ms.min(wall);
            let dur_ms = dur * 1000 * in_tb.numerator() as i64 / in_tb.denominator() as i64;
            cut.end_ms = cut.end_ms.max(wall + dur_ms);
        }
    }
    match octx {
        Some(mut o) if cut.frames > 0 => {
            o.write_trailer().map_err(|e| mp4_err(out, e))?;
            Ok(cut)
        }
        _ => Err(RecError::Invalid(format!(
            "no recording between {from_ms} and {to_ms}"
        ))),
    }
}

trait Rescale {
    fn rescale(self, from: ff::Rational, to: ff::Rational) -> i64;
}

impl Rescale for i64 {
    fn rescale(self, from: ff::Rational, to: ff::Rational) -> i64 {
        // value × from / to, in i128 so hours at 90 kHz cannot overflow.
        let num = self as i128 * from.numerator() as i128 * to.denominator() as i128;
        let den = from.denominator() as i128 * to.numerator() as i128;
        (num / den.max(1)) as i64
    }
}
