//! `matthan search`: the region search from a shell, one JSON line per hit and per gap.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context as _};
use chrono::DateTime;
use mt_record::motion::Region;
use mt_record::search::{self, Event, Query, Source};

use mt_core::time::iso;

/// A time as an officer or a script writes it: RFC 3339 / ISO 8601 with an offset, a local
/// date and time in the workstation's zone (Vietnam) `2026-12-01 18:07[:44]`, Unix milliseconds, `now`, or `now-2h`
/// (`s`, `m`, `h`, `d`).
pub fn parse_time(s: &str, now_ms: i64) -> anyhow::Result<i64> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.timestamp_millis());
    }
    if let Some(ms) = mt_core::time::parse_local(t) {
        return Ok(ms);
    }
    if let Some(rest) = t.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(now_ms);
        }
        if let Some(num) = rest.strip_prefix('-') {
            let unit = num.chars().last().unwrap_or(' ');
            let k: i64 = match unit {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                _ => 0,
            };
            let n = num.strip_suffix(unit).and_then(|n| n.parse::<i64>().ok());
            if let Some(ms) = n.filter(|_| k > 0).and_then(|n| n.checked_mul(k)) {
                return Ok(now_ms - ms);
            }
        }
    }
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    bail!("cannot read the time {s:?}: write 2026-12-01T18:07:00+07:00, 2026-12-01 18:07 (Vietnam time), now-2h or Unix milliseconds")
}

pub struct Args<'a> {
    pub rec_dir: &'a Path,
    pub cameras: Vec<String>,
    pub region: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub deep: bool,
    pub sensitivity: f32,
}

/// Runs the search and prints its results; problems go to stderr, naming the camera.
pub fn run(a: Args) -> anyhow::Result<()> {
    let region = Region::parse_rect(a.region).context("--region")?;
    let now = mt_record::now_ms();
    let from = parse_time(a.from, now).context("--from")?;
    let to = parse_time(a.to, now).context("--to")?;
    if to <= from {
        bail!("--to ({}) is not after --from ({})", iso(to), iso(from));
    }
    if !(0.0..=1.0).contains(&a.sensitivity) {
        bail!(
            "--sensitivity must be between 0 and 1, not {}",
            a.sensitivity
        );
    }
    let db = a.rec_dir.join("index.db");
    if !db.exists() {
        bail!(
            "{}: no recording index here (is --rec-dir the recording directory?)",
            db.display()
        );
    }
    let index = parking_lot::Mutex::new(
        mt_record::Index::open(&db).with_context(|| db.display().to_string())?,
    );
    let cancel = AtomicBool::new(false);
    for camera in a.cameras {
        let q = Query {
            camera: camera.clone(),
            region: region.clone(),
            from_ms: from,
            to_ms: to,
            sensitivity: a.sensitivity,
            deep: a.deep,
            confirm: true,
        };
        let src = Source::Recording {
            index: &index,
            dir: a.rec_dir,
        };
        let r = search::search(&q, &src, &cancel, &mut |e| {
            match e {
            Event::Hit(h) => println!(
                "{}",
                serde_json::json!({
                    "type": "hit",
                    "camera": h.camera,
                    "start": iso(h.start_ms),
                    "end": iso(h.end_ms),
                    "peak": iso(h.peak_ms),
                    "score": (h.score as f64 / 255.0 * 1000.0).round() / 1000.0,
                })
            ),
            Event::Gap(g) => println!(
                "{}",
                serde_json::json!({
                    "type": "gap",
                    "camera": g.camera_id,
                    "start": iso(g.from_ms),
                    "end": iso(g.to_ms),
                    "reason": g.reason.key(),
                    "detail": g.detail,
                })
            ),
            Event::Unindexed { camera, from_ms, to_ms } => eprintln!(
                "{camera}: {} – {} has no motion index; decoding its keyframes",
                iso(from_ms),
                iso(to_ms)
            ),
            Event::Problem { camera, problem } => eprintln!("{camera}: {problem}"),
            Event::Progress { .. } => {}
            Event::Finished { camera, stats } => eprintln!(
                "{camera}: {} hits; index {:.1} ms, {} of {} files indexed, {} keyframes and {} frames decoded, {} candidate windows ({:.1} s), {:.0} ms in all",
                stats.hits,
                stats.index_ms,
                stats.indexed,
                stats.pieces,
                stats.keyframes_decoded,
                stats.frames_decoded,
                stats.candidates,
                stats.candidate_ms as f64 / 1e3,
                stats.total_ms
            ),
        }
        });
        if let Err(e) = r {
            eprintln!("{camera}: {e}");
        }
    }
    Ok(())
}
