//! The motion index: a coarse grid (32 × 18 cells) of how much each part of the picture
//! changed, sampled at the keyframes of the recorded stream and stored beside each segment.
//!
//! **What "changed" means.** Each cell is described by the 4 × 4 block means of its luma
//! (the picture is averaged down to 128 × 72 blocks, which also averages away compression
//! noise). Before two samples of a cell are compared, the best-fitting plane (mean and a
//! linear gradient) is taken out of both, and what is left — the cell's texture — is compared
//! with SSIM's contrast·structure term, which ignores any gain and offset. So a global
//! brightness ramp (auto exposure, day/night), and the smooth light of a sweeping headlight,
//! change nothing; an object entering the cell changes its texture. Written here by hand:
//! it is forty lines, and the libraries that do motion detection (OpenCV) are far heavier
//! than the product should carry for it.
//!
//! **Why keyframes.** A keyframe decodes on its own (no reference pictures), so the recorder
//! decodes one per second or two — a fixed small cost per camera — without decoding the
//! stream. Searches confirm what the index finds by decoding full frames only around it
//! ([`crate::search`]).

use std::path::Path;

use ffmpeg_next as ff;
use mt_media::Codec;

use crate::{RecError, Result};

pub const GRID_W: usize = 32;
pub const GRID_H: usize = 18;
pub const CELLS: usize = GRID_W * GRID_H;
/// Block means per cell side.
const SUB: usize = 4;
const FW: usize = GRID_W * SUB;
const FH: usize = GRID_H * SUB;
/// Changes below this (0–255 scale) are not stored: compression noise and light.
pub const FLOOR: u8 = 20;
/// Keyframes closer than this to the last sample are not decoded (short GOPs).
pub const MIN_SPACING_MS: i64 = 900;
/// Samples further apart than this are not compared (a gap, a new run).
pub const MAX_SPACING_MS: i64 = 10_000;
/// SSIM's stabiliser, in luma² (σ ≈ 6 levels): flat cells compare as unchanged.
const C: f32 = 36.0;
/// Bytes of a cell bit mask.
pub const MASK_BYTES: usize = CELLS.div_ceil(8);

/// The 128 × 72 block means of one picture's luma.
#[derive(Clone, Debug)]
pub struct Features(pub Vec<f32>);

/// Block means of a luma plane (`bytes` = 1 for 8-bit, 2 for 16-bit little-endian samples
/// of which the top `bits` are used). Every second pixel of every second row is read.
pub fn features(
    data: &[u8],
    stride: usize,
    w: usize,
    h: usize,
    bytes: usize,
    bits: u32,
) -> Features {
    let mut sum = vec![0u32; FW * FH];
    let mut cnt = vec![0u32; FW * FH];
    if w == 0 || h == 0 {
        return Features(vec![0.0; FW * FH]);
    }
    let col: Vec<usize> = (0..w).step_by(2).map(|x| x * FW / w).collect();
    let shift = bits.saturating_sub(8);
    for y in (0..h).step_by(2) {
        let by = y * FH / h;
        let row = &data[y * stride..];
        let base = by * FW;
        for (i, &bx) in col.iter().enumerate() {
            let x = i * 2;
            let v = if bytes == 1 {
                row[x] as u32
            } else {
                (u16::from_le_bytes([row[2 * x], row[2 * x + 1]]) as u32) >> shift
            };
            sum[base + bx] += v;
            cnt[base + bx] += 1;
        }
    }
    Features(
        sum.iter()
            .zip(&cnt)
            .map(|(&s, &c)| if c == 0 { 0.0 } else { s as f32 / c as f32 })
            .collect(),
    )
}

/// The luma features of a decoded picture (8-bit or 10-bit 4:2:0).
pub fn frame_features(f: &ff::frame::Video) -> Features {
    let (bytes, bits) = match f.format() {
        ff::format::Pixel::YUV420P10LE => (2, 10),
        _ => (1, 8),
    };
    features(
        f.data(0),
        f.stride(0),
        f.width() as usize,
        f.height() as usize,
        bytes,
        bits,
    )
}

/// Plane-free texture of one cell: its 16 block means minus their best-fit plane.
fn texture(f: &Features, cx: usize, cy: usize) -> [f32; 16] {
    const P: [f32; 4] = [-1.5, -0.5, 0.5, 1.5];
    let mut v = [0f32; 16];
    for j in 0..SUB {
        for i in 0..SUB {
            v[j * SUB + i] = f.0[(cy * SUB + j) * FW + cx * SUB + i];
        }
    }
    let mean = v.iter().sum::<f32>() / 16.0;
    // Σ P² over the 4×4 grid along one axis: 4 × (2.25 + 0.25 + 0.25 + 2.25) = 20.
    let (mut gx, mut gy) = (0f32, 0f32);
    for j in 0..SUB {
        for i in 0..SUB {
            gx += v[j * SUB + i] * P[i];
            gy += v[j * SUB + i] * P[j];
        }
    }
    gx /= 20.0;
    gy /= 20.0;
    for j in 0..SUB {
        for i in 0..SUB {
            v[j * SUB + i] -= mean + gx * P[i] + gy * P[j];
        }
    }
    v
}

/// Change of every cell from `a` to `b`, 0 (same texture) to 255 (unrelated), row-major.
pub fn compare(a: &Features, b: &Features) -> Vec<u8> {
    let mut out = vec![0u8; CELLS];
    for cy in 0..GRID_H {
        for cx in 0..GRID_W {
            let ta = texture(a, cx, cy);
            let tb = texture(b, cx, cy);
            let (mut aa, mut bb, mut ab) = (0f32, 0f32, 0f32);
            for k in 0..16 {
                aa += ta[k] * ta[k];
                bb += tb[k] * tb[k];
                ab += ta[k] * tb[k];
            }
            let (aa, bb, ab) = (aa / 16.0, bb / 16.0, ab / 16.0);
            let cs = (2.0 * ab + C) / (aa + bb + C);
            out[cy * GRID_W + cx] = ((1.0 - cs).clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    out
}

/// One sample of the index: how the picture at `t_ms` differs from the one `lag_ms` before.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub t_ms: i64,
    pub lag_ms: u16,
    /// (cell, change) for the cells that changed at least [`FLOOR`].
    pub cells: Vec<(u16, u8)>,
}

impl Sample {
    pub fn from_change(t_ms: i64, lag_ms: i64, change: &[u8]) -> Self {
        Sample {
            t_ms,
            lag_ms: lag_ms.clamp(0, u16::MAX as i64) as u16,
            cells: change
                .iter()
                .enumerate()
                .filter(|(_, &v)| v >= FLOOR)
                .map(|(i, &v)| (i as u16, v))
                .collect(),
        }
    }

    /// Share of the picture that changed (cells at or above `threshold`), 0–1.
    pub fn share(&self, threshold: u8) -> f32 {
        self.cells.iter().filter(|c| c.1 >= threshold).count() as f32 / CELLS as f32
    }
}

/// A segment's samples as stored: per sample the time from the segment's start (i32 ms),
/// the lag (u16 ms), the number of cells (u16), then cell (u16) and change (u8) each; little
/// endian. A quiet sample is 8 bytes.
pub fn encode(start_ms: i64, samples: &[Sample]) -> (Vec<u8>, [u8; MASK_BYTES]) {
    let mut b = Vec::with_capacity(samples.len() * 8);
    let mut mask = [0u8; MASK_BYTES];
    for s in samples {
        b.extend_from_slice(&((s.t_ms - start_ms) as i32).to_le_bytes());
        b.extend_from_slice(&s.lag_ms.to_le_bytes());
        b.extend_from_slice(&(s.cells.len() as u16).to_le_bytes());
        for &(c, v) in &s.cells {
            b.extend_from_slice(&c.to_le_bytes());
            b.push(v);
            mask[c as usize / 8] |= 1 << (c % 8);
        }
    }
    (b, mask)
}

/// The lowest change kept in the bitmaps: that of sensitivity 1.
pub const BITMAP_FLOOR: u8 = 38;

/// Per cell that changed at least [`BITMAP_FLOOR`]: its strongest change in the segment and
/// the seconds (from `start_ms`, in windows of 64 s) in which it changed at least the floor.
/// Encoded as (cell u16, max u8, window u8, bits u64) little endian. A search reads these,
/// not the samples: a cell whose strongest change is below the threshold is skipped, the
/// others give the seconds to confirm (a superset at thresholds above the floor), with a mask
/// lookup and an OR per cell.
pub fn bitmaps(start_ms: i64, samples: &[Sample]) -> Vec<u8> {
    let mut map: std::collections::BTreeMap<(u16, u8), (u8, u64)> = Default::default();
    for s in samples {
        let sec = ((s.t_ms - start_ms).max(0) / 1000).min(255 * 64) as u64;
        let (w, bit) = ((sec / 64) as u8, sec % 64);
        for &(c, v) in &s.cells {
            if v >= BITMAP_FLOOR {
                let e = map.entry((c, w)).or_default();
                e.0 = e.0.max(v);
                e.1 |= 1 << bit;
            }
        }
    }
    let mut out = Vec::with_capacity(map.len() * 12);
    for ((c, w), (max, bits)) in map {
        out.extend_from_slice(&c.to_le_bytes());
        out.push(max);
        out.push(w);
        out.extend_from_slice(&bits.to_le_bytes());
    }
    out
}

/// Seconds (from the segment's start) in which a cell of the region whose strongest change
/// reached `threshold` changed at all (≥ [`BITMAP_FLOOR`]), read straight from the bytes
/// [`bitmaps`] wrote. Only for thresholds at or above the floor.
pub fn region_seconds(bitmaps: &[u8], region_mask: &[u8; MASK_BYTES], threshold: u8) -> Vec<u32> {
    let mut windows: Vec<u64> = Vec::new();
    for e in bitmaps.chunks_exact(12) {
        let c = u16::from_le_bytes([e[0], e[1]]) as usize;
        if e[2] < threshold || c >= CELLS || region_mask[c / 8] & (1 << (c % 8)) == 0 {
            continue;
        }
        let w = e[3] as usize;
        if windows.len() <= w {
            windows.resize(w + 1, 0);
        }
        windows[w] |= u64::from_le_bytes([e[4], e[5], e[6], e[7], e[8], e[9], e[10], e[11]]);
    }
    let mut out = Vec::new();
    for (w, bits) in windows.iter().enumerate() {
        let mut b = *bits;
        while b != 0 {
            let k = b.trailing_zeros();
            out.push(w as u32 * 64 + k);
            b &= b - 1;
        }
    }
    out
}

/// Per second from `start_ms` to `end_ms`: the largest share of the picture (0–255) that
/// changed at the default sensitivity in the samples of that second.
pub fn trace(start_ms: i64, end_ms: i64, samples: &[Sample]) -> Vec<u8> {
    let n = ((end_ms - start_ms).max(0) / 1000 + 1) as usize;
    let mut out = vec![0u8; n.min(24 * 3600)];
    let thr = threshold(0.5);
    for s in samples {
        let k = ((s.t_ms - start_ms) / 1000) as usize;
        if let Some(v) = out.get_mut(k) {
            *v = (*v).max((s.share(thr) * 255.0).round() as u8);
        }
    }
    out
}

/// Reads what [`encode`] wrote; None if the bytes are not a valid encoding.
pub fn decode(start_ms: i64, b: &[u8]) -> Option<Vec<Sample>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let h = b.get(i..i + 8)?;
        let t = i32::from_le_bytes([h[0], h[1], h[2], h[3]]) as i64 + start_ms;
        let lag = u16::from_le_bytes([h[4], h[5]]);
        let n = u16::from_le_bytes([h[6], h[7]]) as usize;
        i += 8;
        let body = b.get(i..i + 3 * n)?;
        let mut cells = Vec::with_capacity(n);
        for c in body.chunks_exact(3) {
            let cell = u16::from_le_bytes([c[0], c[1]]);
            if cell as usize >= CELLS {
                return None;
            }
            cells.push((cell, c[2]));
        }
        i += 3 * n;
        out.push(Sample {
            t_ms: t,
            lag_ms: lag,
            cells,
        });
    }
    Some(out)
}

/// A picture region as grid cells, each with the share of it the region covers.
#[derive(Clone, Debug, PartialEq)]
pub struct Region {
    /// Cells covered at least a quarter (the ones that count), with their coverage.
    pub cells: Vec<(u16, f32)>,
    pub mask: [u8; MASK_BYTES],
    /// The polygon, in fractions of the picture (a rectangle has four corners).
    pub outline: Vec<[f32; 2]>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RegionError {
    #[error("the region {0} lies outside the picture (coordinates are fractions of the picture, 0 to 1)")]
    Outside(String),
    #[error("the region {0} is too small: it must cover at least a quarter of one of the {GRID_W}×{GRID_H} cells")]
    TooSmall(String),
    #[error("the region needs at least three corners")]
    Corners,
    #[error("cannot read region {0:?}: write X,Y,W,H as fractions of the picture (e.g. 0.5,0.2,0.3,0.4)")]
    Syntax(String),
}

impl Region {
    /// X,Y,W,H in fractions of the picture (0–1), as typed: "0.5,0.2,0.3,0.4".
    pub fn parse_rect(s: &str) -> std::result::Result<Region, RegionError> {
        let v: Vec<f32> = s
            .split(',')
            .map(|p| p.trim().parse::<f32>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| RegionError::Syntax(s.to_owned()))?;
        let [x, y, w, h] = v[..] else {
            return Err(RegionError::Syntax(s.to_owned()));
        };
        Region::rect(x, y, w, h)
    }

    pub fn rect(x: f32, y: f32, w: f32, h: f32) -> std::result::Result<Region, RegionError> {
        let name = format!("{x},{y},{w},{h}");
        let ok = |v: f32| v.is_finite() && (-1e-4..=1.0 + 1e-4).contains(&v);
        if !(ok(x) && ok(y) && ok(x + w) && ok(y + h)) || w <= 0.0 || h <= 0.0 {
            return Err(RegionError::Outside(name));
        }
        Region::polygon_named(&[[x, y], [x + w, y], [x + w, y + h], [x, y + h]], name)
    }

    pub fn polygon(pts: &[[f32; 2]]) -> std::result::Result<Region, RegionError> {
        let name = pts
            .iter()
            .map(|p| format!("({:.3},{:.3})", p[0], p[1]))
            .collect::<Vec<_>>()
            .join(" ");
        Region::polygon_named(pts, name)
    }

    fn polygon_named(pts: &[[f32; 2]], name: String) -> std::result::Result<Region, RegionError> {
        if pts.len() < 3 {
            return Err(RegionError::Corners);
        }
        if pts
            .iter()
            .any(|p| !(-1e-4..=1.0 + 1e-4).contains(&p[0]) || !(-1e-4..=1.0 + 1e-4).contains(&p[1]))
        {
            return Err(RegionError::Outside(name));
        }
        // Coverage of each cell by 8 × 8 point samples (exact enough for a quarter test).
        let mut cells = Vec::new();
        let mut mask = [0u8; MASK_BYTES];
        for cy in 0..GRID_H {
            for cx in 0..GRID_W {
                let mut inside = 0;
                for j in 0..8 {
                    for i in 0..8 {
                        let x = (cx as f32 + (i as f32 + 0.5) / 8.0) / GRID_W as f32;
                        let y = (cy as f32 + (j as f32 + 0.5) / 8.0) / GRID_H as f32;
                        if point_in_polygon(pts, x, y) {
                            inside += 1;
                        }
                    }
                }
                let cover = inside as f32 / 64.0;
                if cover >= 0.25 {
                    let c = (cy * GRID_W + cx) as u16;
                    cells.push((c, cover));
                    mask[c as usize / 8] |= 1 << (c % 8);
                }
            }
        }
        if cells.is_empty() {
            return Err(RegionError::TooSmall(name));
        }
        Ok(Region {
            cells,
            mask,
            outline: pts.to_vec(),
        })
    }

    /// Whether any of the region's cells is set in `mask`.
    pub fn touches(&self, mask: &[u8]) -> bool {
        self.mask.iter().zip(mask).any(|(a, b)| a & b != 0)
    }

    /// The strongest change inside the region (0–255) of a sample.
    pub fn score(&self, s: &Sample) -> u8 {
        s.cells
            .iter()
            .filter(|(c, _)| self.mask[*c as usize / 8] & (1 << (c % 8)) != 0)
            .map(|c| c.1)
            .max()
            .unwrap_or(0)
    }

    /// The mean left–right position (0–1 of the picture) of the region's cells that changed
    /// at least `threshold`, weighted by change.
    pub fn centroid_x(&self, change: &[u8], threshold: u8) -> Option<f32> {
        let (mut sum, mut w) = (0f32, 0f32);
        for (c, _) in &self.cells {
            let v = change[*c as usize];
            if v >= threshold {
                let x = (*c as usize % GRID_W) as f32 + 0.5;
                sum += x * v as f32;
                w += v as f32;
            }
        }
        (w > 0.0).then(|| sum / w / GRID_W as f32)
    }

    /// The strongest change inside the region of a full change grid.
    pub fn score_grid(&self, change: &[u8]) -> u8 {
        self.cells
            .iter()
            .map(|(c, _)| change[*c as usize])
            .max()
            .unwrap_or(0)
    }
}

fn point_in_polygon(pts: &[[f32; 2]], x: f32, y: f32) -> bool {
    let mut inside = false;
    let mut j = pts.len() - 1;
    for i in 0..pts.len() {
        let (a, b) = (pts[i], pts[j]);
        if (a[1] > y) != (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0] {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// The change threshold (0–255) for a sensitivity from 0 (only large changes) to 1 (small
/// ones); 0.5 is the default.
pub fn threshold(sensitivity: f32) -> u8 {
    let s = sensitivity.clamp(0.0, 1.0);
    (((0.5 - 0.35 * s) * 255.0).round() as u8).max(FLOOR)
}

/// A libavcodec decoder used one keyframe at a time: each keyframe is decoded on its own and
/// the decoder flushed, so no picture is held back for reordering.
pub struct KeyDecoder {
    dec: ff::decoder::Video,
    out: ff::frame::Video,
}

fn ff_err(what: &str, e: impl std::fmt::Display) -> RecError {
    RecError::Mp4 {
        path: what.to_owned(),
        message: e.to_string(),
    }
}

/// Makes a decoder cheaper where the motion grid does not care: no deblocking.
fn skip_loop_filter(ctx: &mut ff::codec::Context) {
    // SAFETY: a plain field of the codec context, set before the decoder is opened.
    unsafe {
        (*ctx.as_mut_ptr()).skip_loop_filter = ff::ffi::AVDiscard::AVDISCARD_ALL;
    }
}

impl KeyDecoder {
    /// For Annex B access units with their parameter sets in band (what the recorder gets).
    pub fn new(codec: Codec) -> Result<Self> {
        mt_capture::decode::init_ffmpeg();
        let id = match codec {
            Codec::H264 => ff::codec::Id::H264,
            Codec::H265 => ff::codec::Id::HEVC,
        };
        let c = ff::decoder::find(id).ok_or_else(|| ff_err(codec.label(), "no decoder"))?;
        let mut ctx = ff::codec::Context::new_with_codec(c);
        skip_loop_filter(&mut ctx);
        let dec = ctx
            .decoder()
            .video()
            .map_err(|e| ff_err(codec.label(), e))?;
        Ok(KeyDecoder {
            dec,
            out: ff::frame::Video::empty(),
        })
    }

    /// For packets read from a file (the stream's parameters carry avcC/hvcC).
    pub fn from_parameters(params: ff::codec::Parameters, path: &Path) -> Result<Self> {
        let mut ctx = ff::codec::Context::from_parameters(params)
            .map_err(|e| ff_err(&path.display().to_string(), e))?;
        skip_loop_filter(&mut ctx);
        let dec = ctx
            .decoder()
            .video()
            .map_err(|e| ff_err(&path.display().to_string(), e))?;
        Ok(KeyDecoder {
            dec,
            out: ff::frame::Video::empty(),
        })
    }

    /// Decodes one keyframe packet; the features of its picture (None: it gave none).
    pub fn features(&mut self, pkt: &ff::Packet) -> Option<Features> {
        let mut got = None;
        if self.dec.send_packet(pkt).is_ok() {
            let _ = self.dec.send_eof();
            while self.dec.receive_frame(&mut self.out).is_ok() {
                got = Some(frame_features(&self.out));
            }
        }
        self.dec.flush();
        got
    }

    /// The last picture decoded (for a thumbnail).
    pub fn last_frame(&self) -> &ff::frame::Video {
        &self.out
    }
}

/// Builds a camera's motion samples from the keyframes the recorder writes.
pub struct Tracker {
    dec: Option<(Codec, KeyDecoder)>,
    prev: Option<(i64, u64, Features)>,
    last_try_ms: i64,
    /// Samples not yet stored (they go with the segment that holds them).
    pub samples: Vec<Sample>,
    /// Keyframes the decoder gave no picture for (the index has a hole there), since the
    /// last segment was stored, and in all.
    pub failed: u64,
    pub failed_total: u64,
    /// Samples made in all.
    pub sampled: u64,
    /// Time spent decoding and comparing, for the benchmark.
    pub busy: std::time::Duration,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            dec: None,
            prev: None,
            last_try_ms: i64::MIN / 2,
            samples: Vec::new(),
            failed: 0,
            failed_total: 0,
            sampled: 0,
            busy: std::time::Duration::ZERO,
        }
    }
}

impl Tracker {
    /// A keyframe is being recorded (Annex B with parameter sets): sample it, unless the last
    /// sample is less than [`MIN_SPACING_MS`] old.
    pub fn keyframe(&mut self, data: &[u8], codec: Codec, t_ms: i64, session: u64) {
        if t_ms - self.last_try_ms < MIN_SPACING_MS && t_ms >= self.last_try_ms {
            return;
        }
        self.last_try_ms = t_ms;
        let started = std::time::Instant::now();
        if self.dec.as_ref().is_none_or(|(c, _)| *c != codec) {
            self.dec = KeyDecoder::new(codec).ok().map(|d| (codec, d));
        }
        let Some((_, dec)) = self.dec.as_mut() else {
            self.failed += 1;
            self.failed_total += 1;
            return;
        };
        let pkt = ff::Packet::copy(data);
        match dec.features(&pkt) {
            Some(f) => {
                if let Some((pt, ps, pf)) = &self.prev {
                    let lag = t_ms - pt;
                    if *ps == session && lag > 0 && lag <= MAX_SPACING_MS {
                        self.samples
                            .push(Sample::from_change(t_ms, lag, &compare(pf, &f)));
                        self.sampled += 1;
                    }
                }
                self.prev = Some((t_ms, session, f));
            }
            None => {
                self.failed += 1;
                self.failed_total += 1;
            }
        }
        self.busy += started.elapsed();
    }

    /// The footage is interrupted: the next keyframe is not compared with the last one.
    pub fn reset(&mut self) {
        self.prev = None;
    }

    /// Takes the samples up to `end_ms` (those of the segment being closed).
    pub fn take_until(&mut self, end_ms: i64) -> Vec<Sample> {
        let n = self.samples.partition_point(|s| s.t_ms <= end_ms);
        self.samples.drain(..n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textured(w: usize, h: usize, gain: f32, offset: f32) -> Vec<u8> {
        let mut v = vec![0u8; w * h];
        let mut seed = 7u32;
        let blocks: Vec<u8> = (0..(w / 16 + 1) * (h / 16 + 1))
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                60 + (seed >> 24) as u8 / 2
            })
            .collect();
        for y in 0..h {
            for x in 0..w {
                let b = blocks[(y / 16) * (w / 16 + 1) + x / 16] as f32;
                v[y * w + x] = (b * gain + offset).clamp(0.0, 255.0) as u8;
            }
        }
        v
    }

    #[test]
    fn light_changes_are_not_motion_and_an_object_is() {
        let (w, h) = (640, 360);
        let a = features(&textured(w, h, 1.0, 0.0), w, w, h, 1, 8);
        let brighter = features(&textured(w, h, 1.3, 0.0), w, w, h, 1, 8);
        let change = compare(&a, &brighter);
        assert!(
            change.iter().all(|&c| c < FLOOR),
            "{:?}",
            change.iter().max()
        );
        let mut obj = textured(w, h, 1.0, 0.0);
        for y in 100..160 {
            for x in 300..360 {
                obj[y * w + x] = if (x / 8 + y / 8) % 2 == 0 { 20 } else { 230 };
            }
        }
        let b = features(&obj, w, w, h, 1, 8);
        let change = compare(&a, &b);
        let region = Region::rect(0.45, 0.25, 0.15, 0.2).unwrap();
        assert!(region.score_grid(&change) > threshold(0.5));
        let elsewhere = Region::rect(0.0, 0.6, 0.3, 0.4).unwrap();
        assert!(elsewhere.score_grid(&change) < FLOOR);
    }

    #[test]
    fn samples_round_trip_and_bad_regions_are_named() {
        let s = vec![
            Sample {
                t_ms: 1_000,
                lag_ms: 1000,
                cells: vec![(3, 40), (500, 255)],
            },
            Sample {
                t_ms: 2_000,
                lag_ms: 1000,
                cells: vec![],
            },
        ];
        let (b, mask) = encode(500, &s);
        assert_eq!(decode(500, &b).unwrap(), s);
        assert_eq!(mask[0], 1 << 3);
        assert!(decode(500, &b[..b.len() - 1]).is_none());
        assert!(matches!(
            Region::parse_rect("0.8,0.1,0.5,0.2"),
            Err(RegionError::Outside(_))
        ));
        assert!(matches!(
            Region::parse_rect("a,b"),
            Err(RegionError::Syntax(_))
        ));
        assert!(matches!(
            Region::parse_rect("0.1,0.1,0.001,0.001"),
            Err(RegionError::TooSmall(_))
        ));
    }
}
