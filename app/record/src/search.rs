//! Region search: when did something change in this part of the picture?
//!
//! 1. **Index** (milliseconds for days): the motion rows of the period whose cell mask
//!    touches the region are read, and each sample whose change inside the region reaches
//!    the sensitivity's threshold makes a candidate window (the sample's lag, ±½ s).
//! 2. **Deep scan** where there is no index (footage from before it, the segment being
//!    written, an imported archive, or when asked): the keyframes of the files are decoded on
//!    worker threads — the same samples the recorder would have made.
//! 3. **Confirmation**: only the candidate windows are decoded frame by frame; a picture every
//!    100 ms is compared with the one a second before, which gives the start and end of the
//!    change to a tenth of a second, its strongest moment and a thumbnail of it.
//!
//! Gaps in the recording inside the period are reported as gaps (with their reason), never
//! as "nothing happened". Searches run on threads of lower priority than recording and the
//! live wall; results stream out through a callback as they are found.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ffmpeg_next as ff;
use parking_lot::Mutex;

use crate::index::{Gap, Index, MotionRow};
use crate::motion::{
    self, compare, frame_features, threshold, Features, KeyDecoder, Region, Sample,
};
use crate::{RecError, Result};

/// Pictures compared during confirmation are this far apart …
const STEP_MS: i64 = 100;
/// … each with the one this long before it.
const LAG_MS: i64 = 1_000;
/// Changes closer than this are one hit.
const JOIN_MS: i64 = 1_500;
/// Of a longer stretch of candidate motion, this much at each end is decoded.
const LONG_EDGE_MS: i64 = 30_000;
/// A piece of deep-scan work (one file, at most this long).
const CHUNK_MS: i64 = 10 * 60_000;

#[derive(Clone, Debug)]
pub struct Query {
    pub camera: String,
    pub region: Region,
    pub from_ms: i64,
    pub to_ms: i64,
    /// 0 (only large changes) – 1 (small ones); 0.5 by default.
    pub sensitivity: f32,
    /// Decode the keyframes even where the motion index has the footage.
    pub deep: bool,
    /// Confirm candidates by decoding (exact start and end, thumbnails). Without, the
    /// candidate windows themselves are the hits (keyframe resolution): what the index alone
    /// can say, in milliseconds.
    pub confirm: bool,
}

/// A small RGB picture of a hit's strongest moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Thumb {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub camera: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// The strongest change, its time and its strength (0–255).
    pub peak_ms: i64,
    pub score: u8,
    pub thumb: Option<Thumb>,
    /// Where the change was inside the region at its start and at its end (left 0 – right 1
    /// of the picture): which way something moved, for "next camera".
    pub path_x: Option<(f32, f32)>,
}

impl Hit {
    /// The edge of the picture the movement went towards (0 left, 1 right), or where it
    /// ended when it did not move sideways.
    pub fn exit_x(&self) -> Option<f32> {
        let (a, b) = self.path_x?;
        Some(if b - a > 0.05 {
            1.0
        } else if a - b > 0.05 {
            0.0
        } else {
            b
        })
    }
}

#[derive(Clone, Debug)]
pub enum Event {
    Hit(Hit),
    /// No recording here (with the reason).
    Gap(Gap),
    /// Footage without a motion index, decoded instead.
    Unindexed {
        camera: String,
        from_ms: i64,
        to_ms: i64,
    },
    /// Something the officer must be told; the search goes on with the rest.
    Problem {
        camera: String,
        problem: Problem,
    },
    /// Share of this camera's work done (0–1).
    Progress {
        camera: String,
        done: f32,
    },
    Finished {
        camera: String,
        stats: Stats,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// No footage of the camera at all in the period (the gaps say why).
    NoRecording,
    /// Footage that could not be read or decoded (the file and the reason).
    Footage(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NoRecording => f.write_str("no recording in this period"),
            Problem::Footage(m) => f.write_str(m),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Time to read the index and make the candidates.
    pub index_ms: f64,
    pub pieces: usize,
    pub indexed: usize,
    pub keyframes_decoded: u64,
    pub frames_decoded: u64,
    pub candidates: usize,
    pub candidate_ms: i64,
    pub hits: usize,
    pub total_ms: f64,
}

/// A file of footage on the timeline and its motion row, if indexed.
#[derive(Clone, Debug)]
pub struct Piece {
    pub path: PathBuf,
    pub start_ms: i64,
    pub end_ms: i64,
    pub motion: Option<MotionRow>,
}

/// Where a camera's footage comes from.
pub enum Source<'a> {
    /// The recorder's index and directory (finished segments and the one being written).
    Recording {
        index: &'a Mutex<Index>,
        dir: &'a Path,
    },
    /// Files without an index (an opened evidence archive): deep scan only.
    Files(Vec<Piece>),
}

/// Lowers the calling thread's CPU priority (nice 10) so searching never slows the
/// recorder or the live wall.
pub fn lower_priority() {
    mt_core::priority::lower_this_thread(mt_core::priority::SEARCH);
}

/// Runs one camera's search; events go to `emit` as they are found. Errors that concern
/// only some footage become [`Event::Problem`]; an Err means the search could not run.
pub fn search(
    q: &Query,
    src: &Source,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(Event),
) -> Result<Stats> {
    let t0 = Instant::now();
    let mut stats = Stats::default();
    if q.to_ms <= q.from_ms {
        return Err(RecError::Invalid(format!(
            "the period ends before it starts ({} – {})",
            q.from_ms, q.to_ms
        )));
    }
    let thr = threshold(q.sensitivity);
    let pieces = match src {
        Source::Recording { index, dir } => {
            let open = crate::recorder::open_segment(dir, &q.camera);
            let idx = index.lock();
            let mut tl = idx.timeline(&q.camera, q.from_ms, q.to_ms, open.as_ref().map(|o| o.1))?;
            let gaps = std::mem::take(&mut tl.gaps);
            let mut rows: std::collections::HashMap<i64, MotionRow> = idx
                .motion_rows(&q.camera, q.from_ms, q.to_ms)?
                .into_iter()
                .map(|r| (r.segment_id, r))
                .collect();
            let mut pieces: Vec<Piece> = tl
                .runs
                .into_iter()
                .flat_map(|r| r.segments)
                .map(|s| Piece {
                    path: dir.join(&s.file),
                    start_ms: s.start_ms,
                    end_ms: s.end_ms,
                    motion: rows.remove(&s.id),
                })
                .collect();
            drop(idx);
            // Told after the index is let go (the channel may be full; the recorders must not
            // wait for the UI).
            for g in gaps {
                emit(Event::Gap(g));
            }
            if let Some((path, start)) = open {
                if start <= q.to_ms {
                    pieces.push(Piece {
                        path,
                        start_ms: start,
                        end_ms: crate::now_ms(),
                        motion: None,
                    });
                }
            }
            pieces
        }
        Source::Files(f) => f
            .iter()
            .filter(|p| p.end_ms >= q.from_ms && p.start_ms <= q.to_ms)
            .cloned()
            .collect(),
    };
    stats.pieces = pieces.len();
    if pieces.is_empty() {
        emit(Event::Problem {
            camera: q.camera.clone(),
            problem: Problem::NoRecording,
        });
        stats.total_ms = t0.elapsed().as_secs_f64() * 1e3;
        emit(Event::Finished {
            camera: q.camera.clone(),
            stats: stats.clone(),
        });
        return Ok(stats);
    }

    // 1. The index.
    let mut windows: Vec<(i64, i64)> = Vec::new();
    let mut unindexed: Vec<&Piece> = Vec::new();
    let candidate = |s: &Sample, windows: &mut Vec<(i64, i64)>| {
        // The sample covers [t − lag, t]: it counts if that overlaps the period.
        if s.t_ms >= q.from_ms && s.t_ms - (s.lag_ms as i64) <= q.to_ms && q.region.score(s) >= thr
        {
            // The change happened between the two pictures compared; confirmation sees it
            // until a second after it ends.
            windows.push((s.t_ms - s.lag_ms as i64 - 500, s.t_ms + LAG_MS + 500));
        }
    };
    for p in &pieces {
        match (&p.motion, q.deep, src) {
            // A row with no sample over a segment longer than the keyframe spacing the index
            // compares (keyframes further apart than that): a hole in the index, decoded instead.
            (Some(row), false, Source::Recording { index, .. })
                if row.failed == 0
                    && (row.lag_ms > 0 || p.end_ms - p.start_ms <= motion::MAX_SPACING_MS) =>
            {
                stats.indexed += 1;
                if !q.region.touches(&row.mask) {
                    continue;
                }
                match thr >= motion::BITMAP_FLOOR {
                    // The seconds in which a cell of the region that reached the threshold
                    // changed (a superset; confirmation is exact).
                    true => {
                        let lag = row.lag_ms.max(1_000);
                        for k in motion::region_seconds(&row.bitmaps, &q.region.mask, thr) {
                            let t = row.start_ms + k as i64 * 1000;
                            if t + 1000 >= q.from_ms && t - lag <= q.to_ms {
                                windows.push((t - lag - 500, t + 1000 + LAG_MS + 500));
                            }
                        }
                    }
                    false => {
                        for s in index.lock().motion_samples(row)? {
                            candidate(&s, &mut windows);
                        }
                    }
                }
            }
            _ => unindexed.push(p),
        }
    }
    stats.index_ms = t0.elapsed().as_secs_f64() * 1e3;

    // 2. Deep scan of the rest (keyframes).
    if !unindexed.is_empty() {
        for p in &unindexed {
            emit(Event::Unindexed {
                camera: q.camera.clone(),
                from_ms: p.start_ms.max(q.from_ms),
                to_ms: p.end_ms.min(q.to_ms),
            });
        }
        let jobs: Vec<(&Piece, i64, i64)> = unindexed
            .iter()
            .flat_map(|p| {
                let (a, b) = (p.start_ms.max(q.from_ms - 10_000), p.end_ms.min(q.to_ms));
                let n = ((b - a).max(1) + CHUNK_MS - 1) / CHUNK_MS;
                (0..n).map(move |i| {
                    let ca = a + i * CHUNK_MS;
                    (*p, ca, (ca + CHUNK_MS).min(b))
                })
            })
            .collect();
        let (keys, errors) = scan_keyframes(&jobs, cancel, &mut |done| {
            emit(Event::Progress {
                camera: q.camera.clone(),
                done: 0.5 * done,
            })
        });
        for e in errors {
            emit(Event::Problem {
                camera: q.camera.clone(),
                problem: Problem::Footage(e),
            });
        }
        stats.keyframes_decoded += keys.iter().map(|k| k.len() as u64).sum::<u64>();
        // All keyframes in time order, across chunks and files, each compared with the one
        // before it (as the recorder does, across its segments).
        let mut all: Vec<(i64, Features)> = keys.into_iter().flatten().collect();
        all.sort_by_key(|k| k.0);
        all.dedup_by_key(|k| k.0);
        for w in all.windows(2) {
            let (ta, fa) = (&w[0].0, &w[0].1);
            let (tb, fb) = (&w[1].0, &w[1].1);
            let lag = tb - ta;
            if lag > 0 && lag <= motion::MAX_SPACING_MS {
                candidate(
                    &Sample::from_change(*tb, lag, &compare(fa, fb)),
                    &mut windows,
                );
            }
        }
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(RecError::Cancelled);
    }

    // 3. Confirmation.
    windows.sort();
    let mut merged: Vec<(i64, i64)> = Vec::new();
    for (a, b) in windows {
        let (a, b) = (a.max(q.from_ms), b.min(q.to_ms));
        match merged.last_mut() {
            Some(m) if a <= m.1 + 1_000 => m.1 = m.1.max(b),
            _ if b > a => merged.push((a, b)),
            _ => {}
        }
    }
    stats.candidates = merged.len();
    stats.candidate_ms = merged.iter().map(|w| w.1 - w.0).sum();
    if !q.confirm {
        for (a, b) in merged {
            stats.hits += 1;
            emit(Event::Hit(Hit {
                camera: q.camera.clone(),
                start_ms: a,
                end_ms: b,
                peak_ms: a,
                score: 0,
                thumb: None,
                path_x: None,
            }));
        }
        stats.total_ms = t0.elapsed().as_secs_f64() * 1e3;
        emit(Event::Finished {
            camera: q.camera.clone(),
            stats: stats.clone(),
        });
        return Ok(stats);
    }
    let total: i64 = stats.candidate_ms.max(1);
    let mut done_ms = 0;
    let mut pending: Option<Hit> = None;
    for (a, b) in merged {
        if cancel.load(Ordering::Relaxed) {
            return Err(RecError::Cancelled);
        }
        let mut found = Vec::new();
        // A long stretch of motion (a busy street): only its first and last half minute are
        // decoded, for the exact start and end; the index vouches for the middle. Decoding it
        // all would cost as much as watching it.
        let parts: Vec<(i64, i64)> = if b - a > 2 * LONG_EDGE_MS + 10_000 {
            vec![(a, a + LONG_EDGE_MS), (b - LONG_EDGE_MS, b)]
        } else {
            vec![(a, b)]
        };
        for (k, &(pa, pb)) in parts.iter().enumerate() {
            if k == 1 {
                // The middle, as the index found it.
                found.push(Hit {
                    camera: String::new(),
                    start_ms: parts[0].1 - LAG_MS,
                    end_ms: pa,
                    peak_ms: pa,
                    score: thr,
                    thumb: None,
                    path_x: None,
                });
            }
            let these: Vec<&Piece> = pieces
                .iter()
                .filter(|p| p.end_ms >= pa && p.start_ms <= pb)
                .collect();
            match confirm(&these, &q.region, thr, pa, pb, cancel, &mut stats) {
                Ok(h) => found.extend(h),
                Err(RecError::Cancelled) => return Err(RecError::Cancelled),
                Err(e) => emit(Event::Problem {
                    camera: q.camera.clone(),
                    problem: Problem::Footage(e.to_string()),
                }),
            }
        }
        found.sort_by_key(|h| h.start_ms);
        for mut h in found {
            h.camera = q.camera.clone();
            match pending.as_mut() {
                Some(p) if h.start_ms <= p.end_ms + JOIN_MS => {
                    p.end_ms = p.end_ms.max(h.end_ms);
                    if let (Some(a), Some(b)) = (p.path_x.as_mut(), h.path_x) {
                        a.1 = b.1;
                    } else if p.path_x.is_none() {
                        p.path_x = h.path_x;
                    }
                    if h.score > p.score && h.thumb.is_some() || p.thumb.is_none() {
                        p.score = p.score.max(h.score);
                        p.peak_ms = h.peak_ms;
                        p.thumb = h.thumb.or(p.thumb.take());
                    }
                }
                _ => {
                    if let Some(p) = pending.replace(h) {
                        stats.hits += 1;
                        emit(Event::Hit(p));
                    }
                }
            }
        }
        done_ms += b - a;
        emit(Event::Progress {
            camera: q.camera.clone(),
            done: if unindexed.is_empty() { 0.0 } else { 0.5 }
                + if unindexed.is_empty() { 1.0 } else { 0.5 } * done_ms as f32 / total as f32,
        });
    }
    if let Some(p) = pending {
        stats.hits += 1;
        emit(Event::Hit(p));
    }
    stats.total_ms = t0.elapsed().as_secs_f64() * 1e3;
    emit(Event::Finished {
        camera: q.camera.clone(),
        stats: stats.clone(),
    });
    Ok(stats)
}

/// Opens a file's video stream: (input, stream index, time base, first presentation time).
/// A picture's timeline time is `start_ms + (pts − first) × tb` — as the players place it.
fn open_video(path: &Path) -> Result<(ff::format::context::Input, usize, ff::Rational, i64)> {
    mt_capture::decode::init_ffmpeg();
    let e = |m: String| RecError::Mp4 {
        path: path.display().to_string(),
        message: m,
    };
    let mut ictx = ff::format::input(path).map_err(|x| e(x.to_string()))?;
    let st = ictx
        .streams()
        .best(ff::media::Type::Video)
        .ok_or_else(|| e("no video stream".into()))?;
    let (idx, tb) = (st.index(), st.time_base());
    let first = crate::player::first_pts(&mut ictx, idx);
    let ictx = ff::format::input(path).map_err(|x| e(x.to_string()))?;
    Ok((ictx, idx, tb, first))
}

fn wall(start_ms: i64, first: i64, tb: ff::Rational, pts: i64) -> i64 {
    start_ms + (pts - first) * 1000 * tb.numerator() as i64 / tb.denominator().max(1) as i64
}

/// Decodes the keyframes of each job (file, from, to) on worker threads. Returns per job the
/// (time, features) of its keyframes in time order, and the errors (file named).
pub fn scan_keyframes(
    jobs: &[(&Piece, i64, i64)],
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f32),
) -> (Vec<Vec<(i64, Features)>>, Vec<String>) {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(4)
        .min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Vec<(i64, Features)>>>> = Mutex::new(vec![None; jobs.len()]);
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for w in 0..workers {
            let (next, done, out, errors) = (&next, &done, &out, &errors);
            std::thread::Builder::new()
                .name(format!("deep-scan {w}"))
                .spawn_scoped(s, move || {
                    lower_priority();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= jobs.len() || cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        let (p, a, b) = jobs[i];
                        match keyframes_of(p, a, b, cancel) {
                            Ok(k) => out.lock()[i] = Some(k),
                            Err(e) => errors.lock().push(e.to_string()),
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .expect("spawn a deep-scan thread");
        }
        // Progress from the calling thread while the workers run (they stop after their
        // current job when cancelled).
        loop {
            let d = done.load(Ordering::Relaxed);
            progress(d as f32 / jobs.len().max(1) as f32);
            if d >= jobs.len() || cancel.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    let out = out.into_inner().into_iter().flatten().collect();
    (out, errors.into_inner())
}

/// The keyframes of one file between `from` and `to` (timeline ms), decoded one by one.
fn keyframes_of(
    p: &Piece,
    from: i64,
    to: i64,
    cancel: &AtomicBool,
) -> Result<Vec<(i64, Features)>> {
    let (mut ictx, idx, tb, first) = open_video(&p.path)?;
    let params = ictx
        .stream(idx)
        .map(|s| s.parameters())
        .ok_or_else(|| RecError::Invalid(format!("{}: no video stream", p.path.display())))?;
    let mut dec = KeyDecoder::from_parameters(params, &p.path)?;
    // Far into a long file: let libavformat seek (files with an index); ours are a minute.
    if from - p.start_ms > 120_000 {
        let ts = ((from - p.start_ms - 5_000) as i64) * 1000; // AV_TIME_BASE µs from the start
        let _ = ictx.seek(ts, ..ts);
    }
    let mut out = Vec::new();
    let mut failed = 0u32;
    for (s, pkt) in ictx.packets() {
        if s.index() != idx || !pkt.is_key() {
            continue;
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(RecError::Cancelled);
        }
        let Some(pts) = pkt.pts() else { continue };
        let t = wall(p.start_ms, first, tb, pts);
        if t < from {
            continue;
        }
        // The first keyframe after the end too: a change just before it shows against it.
        let past = t > to;
        match dec.features(&pkt) {
            Some(f) => out.push((t, f)),
            None => failed += 1,
        }
        if past {
            break;
        }
    }
    if out.is_empty() && failed > 0 {
        return Err(RecError::Mp4 {
            path: p.path.display().to_string(),
            message: format!("none of its {failed} keyframes could be decoded"),
        });
    }
    Ok(out)
}

/// What confirmation carries from one file to the next of a window: the pictures compared
/// against, the samples where the region changed, and per stretch of change its strongest
/// moment and thumbnail.
#[derive(Default)]
struct ConfirmState {
    recent: VecDeque<(i64, Features)>,
    active: Vec<(i64, u8, Option<f32>)>,
    /// (last sample's time, strongest score, its time, thumbnail) per stretch.
    peaks: Vec<(i64, u8, i64, Option<Thumb>)>,
    /// Times at which the region changed from the picture just before (100 ms): where a
    /// change ends exactly (an object vanishing), which the one-second comparison only
    /// bounds.
    short: Vec<i64>,
    last_t: i64,
    /// End of the last file read (a later file starting well after it is a new run).
    file_end: Option<i64>,
}

/// Decodes every frame of the pieces in [a − lag, b] — one pass over the files in time order,
/// so a change across a segment boundary is one — and finds where the region changed.
pub fn confirm(
    pieces: &[&Piece],
    region: &Region,
    thr: u8,
    a: i64,
    b: i64,
    cancel: &AtomicBool,
    stats: &mut Stats,
) -> Result<Vec<Hit>> {
    let mut st = ConfirmState {
        last_t: i64::MIN / 2,
        ..Default::default()
    };
    let mut sorted: Vec<&Piece> = pieces.to_vec();
    sorted.sort_by_key(|p| p.start_ms);
    let mut err = None;
    for p in sorted {
        if st.file_end.is_some_and(|e| p.start_ms - e > 2_000) {
            st.recent.clear();
        }
        if let Err(e) = confirm_file(p, &mut st, region, thr, a, b, cancel, stats) {
            if matches!(e, RecError::Cancelled) {
                return Err(e);
            }
            st.recent.clear();
            err = Some(e);
        }
        st.file_end = Some(p.end_ms);
    }
    // Active samples → changes: consecutive ones (closer than JOIN_MS) are one; a change seen
    // against the picture a second before lasts until a second before its last sample.
    let mut hits: Vec<Hit> = Vec::new();
    for (t, s, x) in std::mem::take(&mut st.active) {
        match hits.last_mut() {
            Some(h) if t - (h.end_ms + LAG_MS) <= JOIN_MS => {
                h.end_ms = (t - LAG_MS).max(h.start_ms);
                if s > h.score {
                    h.score = s;
                }
                if let (Some(x), Some(p)) = (x, h.path_x.as_mut()) {
                    p.1 = x;
                }
            }
            _ => hits.push(Hit {
                camera: String::new(),
                start_ms: t,
                end_ms: t,
                peak_ms: t,
                score: s,
                thumb: None,
                path_x: x.map(|x| (x, x)),
            }),
        }
    }
    // The end: the later of "a second before the last one-second change" and the last change
    // from the picture just before, inside the stretch.
    for h in &mut hits {
        if let Some(&t) = st
            .short
            .iter()
            .rev()
            .find(|&&t| t >= h.start_ms && t <= h.end_ms + LAG_MS)
        {
            h.end_ms = h.end_ms.max(t);
        }
    }
    for (_, _, t, thumb) in st.peaks {
        if let Some(h) = hits
            .iter_mut()
            .find(|h| h.start_ms <= t && t <= h.end_ms + LAG_MS)
        {
            if h.thumb.is_none() {
                h.peak_ms = t;
                h.thumb = thumb;
            }
        }
    }
    match (hits.is_empty(), err) {
        (true, Some(e)) => Err(e),
        _ => Ok(hits),
    }
}

#[allow(clippy::too_many_arguments)]
fn confirm_file(
    p: &Piece,
    st: &mut ConfirmState,
    region: &Region,
    thr: u8,
    a: i64,
    b: i64,
    cancel: &AtomicBool,
    stats: &mut Stats,
) -> Result<()> {
    if cancel.load(Ordering::Relaxed) {
        return Err(RecError::Cancelled);
    }
    let (mut ictx, idx, tb, first) = open_video(&p.path)?;
    let params = ictx
        .stream(idx)
        .map(|s| s.parameters())
        .ok_or_else(|| RecError::Invalid(format!("{}: no video stream", p.path.display())))?;
    let ferr = |e: ff::Error| RecError::Mp4 {
        path: p.path.display().to_string(),
        message: e.to_string(),
    };
    // SAFETY: reading two plain fields of the parameters.
    let pixels = unsafe {
        let pp = params.as_ptr();
        ((*pp).width.max(0) as u32).saturating_mul((*pp).height.max(0) as u32)
    };
    let mut ctx = ff::codec::Context::from_parameters(params).map_err(ferr)?;
    // SAFETY: a plain field of the codec context, set before the decoder is opened; it
    // makes the decoder expect reordering, so no picture is dropped after starting mid-file.
    unsafe {
        let c = ctx.as_mut_ptr();
        (*c).has_b_frames = (*c).has_b_frames.max(4);
    }
    if pixels >= 1920 * 1080 {
        ctx.set_threading(ff::threading::Config {
            kind: ff::threading::Type::Frame,
            count: 2,
            ..Default::default()
        });
    }
    let mut dec = ctx.decoder().video().map_err(ferr)?;
    let from = a - LAG_MS - 2 * STEP_MS;
    if from - p.start_ms > 120_000 {
        let ts = (from - p.start_ms - 5_000) * 1000;
        let _ = ictx.seek(ts, ..ts);
    }
    let mut out = ff::frame::Video::empty();
    let mut gop: Vec<ff::Packet> = Vec::new();
    let mut started = false;
    let mut done = false;
    let ConfirmState {
        recent,
        active,
        peaks,
        last_t,
        short,
        ..
    } = st;
    let mut on_frame = |f: &ff::frame::Video, stats: &mut Stats| -> bool {
        stats.frames_decoded += 1;
        let Some(pts) = f.timestamp().or(f.pts()) else {
            return true;
        };
        let t = wall(p.start_ms, first, tb, pts);
        if t > b {
            return false;
        }
        if t < from || t.saturating_sub(*last_t) < STEP_MS - 10 {
            return true;
        }
        *last_t = t;
        let feat = frame_features(f);
        while recent.len() > 2 && recent[1].0 <= t - LAG_MS {
            recent.pop_front();
        }
        if let Some((pt, pf)) = recent.front() {
            if t - pt >= LAG_MS - STEP_MS && t >= a - LAG_MS / 2 {
                let change = compare(pf, &feat);
                let s = region.score_grid(&change);
                if s >= thr {
                    active.push((t, s, region.centroid_x(&change, thr)));
                    // The strongest moment of each stretch of change keeps a thumbnail.
                    match peaks.last_mut() {
                        Some(pk) if t - pk.0 <= JOIN_MS + LAG_MS => {
                            pk.0 = t;
                            if s > pk.1 {
                                *pk = (t, s, t, thumbnail(f));
                            }
                        }
                        _ => peaks.push((t, s, t, thumbnail(f))),
                    }
                }
            }
        }
        if let Some((_, pf)) = recent.back() {
            if t >= a - LAG_MS / 2 && region.score_grid(&compare(pf, &feat)) >= thr {
                short.push(t);
            }
        }
        recent.push_back((t, feat));
        true
    };
    let mut feed =
        |pkt: Option<&ff::Packet>, dec: &mut ff::decoder::Video, stats: &mut Stats| -> bool {
            let ok = match pkt {
                Some(k) => dec.send_packet(k).is_ok(),
                None => dec.send_eof().is_ok(),
            };
            let _ = ok;
            while dec.receive_frame(&mut out).is_ok() {
                if !on_frame(&out, stats) {
                    return false;
                }
            }
            true
        };
    for (s, pkt) in ictx.packets() {
        if s.index() != idx {
            continue;
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(RecError::Cancelled);
        }
        let t = pkt
            .pts()
            .map(|x| wall(p.start_ms, first, tb, x))
            .unwrap_or(i64::MIN);
        if !started {
            if pkt.is_key() {
                gop.clear();
            }
            gop.push(pkt);
            if t >= from {
                started = true;
                for k in std::mem::take(&mut gop) {
                    if !feed(Some(&k), &mut dec, stats) {
                        done = true;
                        break;
                    }
                }
            }
        } else if !feed(Some(&pkt), &mut dec, stats) {
            done = true;
        }
        if done || t > b + 2_000 {
            break;
        }
    }
    if !done {
        if !started {
            for k in std::mem::take(&mut gop) {
                feed(Some(&k), &mut dec, stats);
            }
        }
        feed(None, &mut dec, stats);
    }
    Ok(())
}

/// A 160-pixel-wide RGB thumbnail (BT.601) of an 8-bit 4:2:0 picture.
pub fn thumbnail(f: &ff::frame::Video) -> Option<Thumb> {
    if !matches!(
        f.format(),
        ff::format::Pixel::YUV420P | ff::format::Pixel::YUVJ420P
    ) {
        return None;
    }
    let (w, h) = (f.width() as usize, f.height() as usize);
    if w == 0 || h == 0 {
        return None;
    }
    let tw = 160usize;
    let th = (tw * h / w).max(1);
    let full = f.format() == ff::format::Pixel::YUVJ420P;
    let (y, u, v) = (f.data(0), f.data(1), f.data(2));
    let (sy, su, sv) = (f.stride(0), f.stride(1), f.stride(2));
    let mut rgb = Vec::with_capacity(tw * th * 3);
    for j in 0..th {
        let py = j * h / th;
        for i in 0..tw {
            let px = i * w / tw;
            let yy = y[py * sy + px] as f32;
            let (uu, vv) = (
                u[(py / 2) * su + px / 2] as f32 - 128.0,
                v[(py / 2) * sv + px / 2] as f32 - 128.0,
            );
            let (yy, k) = if full {
                (yy, 1.0)
            } else {
                ((yy - 16.0) * 1.164, 1.138)
            };
            let r = yy + 1.402 * k * vv;
            let g = yy - 0.344 * k * uu - 0.714 * k * vv;
            let bb = yy + 1.772 * k * uu;
            rgb.extend([r, g, bb].map(|c| c.clamp(0.0, 255.0) as u8));
        }
    }
    Some(Thumb {
        width: tw as u32,
        height: th as u32,
        rgb,
    })
}

/// Runs the searches of several cameras on two threads ("search 0", "search 1") of lower
/// priority, each with its own connection to the index (SQLite's WAL lets them read while the
/// recorders write: a long sweep never holds the lock the recorders take). Events go to `tx`
/// as they are found; the threads end when all are done or `cancel` is set. A send waits only
/// on the bounded channel the UI drains, never while the index is held.
pub fn spawn(
    queries: Vec<Query>,
    index: Option<Arc<Mutex<Index>>>,
    dir: Option<PathBuf>,
    files: std::collections::HashMap<String, Vec<Piece>>,
    cancel: Arc<AtomicBool>,
    tx: std::sync::mpsc::SyncSender<Event>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let queue = Arc::new(Mutex::new(std::collections::VecDeque::from(queries)));
    let workers = queue.lock().len().clamp(1, 2);
    let files = Arc::new(files);
    let mut handles = Vec::new();
    for w in 0..workers {
        let (queue, index, dir, files, cancel, tx) = (
            queue.clone(),
            index.clone(),
            dir.clone(),
            files.clone(),
            cancel.clone(),
            tx.clone(),
        );
        handles.push(
            std::thread::Builder::new()
                .name(format!("search {w}"))
                .spawn(move || {
                    lower_priority();
                    let own = dir
                        .as_ref()
                        .and_then(|d| Index::open(&d.join("index.db")).ok())
                        .map(|i| Arc::new(Mutex::new(i)));
                    let index = own.or(index);
                    loop {
                        if cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        let Some(q) = queue.lock().pop_front() else {
                            break;
                        };
                        let mut send = |e| {
                            let _ = tx.send(e);
                        };
                        let r = match (&index, &dir, files.get(&q.camera)) {
                            (_, _, Some(f)) => {
                                search(&q, &Source::Files(f.clone()), &cancel, &mut send)
                            }
                            (Some(i), Some(d), None) => search(
                                &q,
                                &Source::Recording { index: i, dir: d },
                                &cancel,
                                &mut send,
                            ),
                            _ => Err(RecError::Invalid("no footage of this camera".into())),
                        };
                        match r {
                            Err(RecError::Cancelled) => break,
                            Err(e) => {
                                send(Event::Problem {
                                    camera: q.camera.clone(),
                                    problem: Problem::Footage(e.to_string()),
                                });
                                send(Event::Finished {
                                    camera: q.camera.clone(),
                                    stats: Stats::default(),
                                });
                            }
                            Ok(_) => {}
                        }
                    }
                })?,
        );
    }
    // The handle the caller gets ends when the workers have.
    std::thread::Builder::new()
        .name("search".into())
        .spawn(move || {
            for h in handles {
                let _ = h.join();
            }
        })
}
