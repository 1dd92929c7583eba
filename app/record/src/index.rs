//! The recording index: one SQLite file beside the segments. A segment is indexed only after
//! its file is complete, fsynced and renamed, so a row always names a whole file.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::{RecError, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS segment (
    id         INTEGER PRIMARY KEY,
    camera_id  TEXT NOT NULL,
    start_ms   INTEGER NOT NULL,   -- wall-clock time of the first frame (Unix ms)
    end_ms     INTEGER NOT NULL,   -- of the last frame
    frames     INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    file       TEXT NOT NULL UNIQUE,  -- relative to the recording directory
    sha256     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS segment_camera_time ON segment (camera_id, start_ms);
-- Segments retention (or a removal by the app) took away: their identity stays, so a signed
-- checkpoint of the index (checkpoint.rs) can still be checked after the file is gone.
CREATE TABLE IF NOT EXISTS segment_retired (
    id          INTEGER PRIMARY KEY,
    camera_id   TEXT NOT NULL,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER NOT NULL,
    frames      INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    file        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    retired_ms  INTEGER NOT NULL
);
-- Footage recorded as received but damaged by lost RTP packets: from the first frame after
-- the loss up to the next keyframe (the pictures are smeared there, not missing).
CREATE TABLE IF NOT EXISTS damage (
    camera_id     TEXT NOT NULL,
    from_ms       INTEGER NOT NULL,
    to_ms         INTEGER NOT NULL,
    packets_lost  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS damage_camera_time ON damage (camera_id, from_ms);
-- Footage an incident needs: never deleted by retention.
CREATE TABLE IF NOT EXISTS lock (
    incident_id INTEGER NOT NULL,
    camera_id   TEXT NOT NULL,
    from_ms     INTEGER NOT NULL,
    to_ms       INTEGER NOT NULL,
    PRIMARY KEY (incident_id, camera_id, from_ms, to_ms)
);
-- The motion index (see motion.rs): one row per segment whose keyframes were sampled,
-- written in the segment's own transaction. No row: the segment is not indexed (footage
-- from before the index, or imported) and a search decodes it. Small rows, scanned by a
-- search; the samples are read only for the segments whose masks touch the region.
CREATE TABLE IF NOT EXISTS motion (
    segment_id INTEGER NOT NULL,
    camera_id  TEXT NOT NULL,
    start_ms   INTEGER NOT NULL,
    end_ms     INTEGER NOT NULL,
    mask       BLOB NOT NULL,     -- 72 bytes: the cells that changed at all in the segment
    failed     INTEGER NOT NULL,  -- keyframes that gave no picture (holes in the index)
    lag_ms     INTEGER NOT NULL,  -- the longest time between two compared keyframes
    trace      BLOB NOT NULL,     -- per second of the segment: share of the picture changed (0–255)
    bitmaps    BLOB NOT NULL,     -- motion::bitmaps: per cell, its strongest change and the seconds it changed
    -- Stored in camera and time order, so a search reads one camera's week in one sweep.
    PRIMARY KEY (camera_id, start_ms, segment_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS motion_segment ON motion (segment_id);
CREATE TABLE IF NOT EXISTS motion_samples (
    segment_id INTEGER PRIMARY KEY,
    samples    BLOB NOT NULL      -- motion::encode
);
";

/// A segment's row of the motion index (samples read separately, only where needed).
#[derive(Clone, Debug)]
pub struct MotionRow {
    pub segment_id: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub mask: Vec<u8>,
    pub failed: i64,
    pub lag_ms: i64,
    /// [`crate::motion::bitmaps`], read with the row (one scan, no query per segment).
    pub bitmaps: Vec<u8>,
}

/// One recorded file. Times are the workstation's timeline (Unix ms): `start_ms` is the
/// first picture's time, `end_ms` the end of the last picture (its time plus its duration).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Segment {
    pub id: i64,
    pub camera_id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub frames: i64,
    pub bytes: i64,
    pub file: String,
    pub sha256: String,
    /// Start of the run (continuous footage with one set of codec parameters) this segment
    /// belongs to; equal to `start_ms` for a run's first segment.
    pub run_start_ms: i64,
    /// Set on a run's last segment: why the run ended ([`GapReason`] key); None while the run
    /// goes on, or when the recorder never got to say (killed: "app not running").
    pub end_reason: Option<String>,
    pub end_detail: String,
    pub codec: String,
    pub width: u32,
    pub height: u32,
}

/// Why footage stops (the reason a run ended). Keys are stable: they are in archives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapReason {
    /// The camera (its main stream) was lost: unreachable, refused, closed, …
    CameraLost,
    /// The camera stopped sending video (watchdog).
    Stalled,
    /// RTP packets were lost: the frames up to the next keyframe were not recorded.
    PacketLoss,
    /// The recorder could not keep up and had to drop frames.
    RecorderOverload,
    /// The disk is full.
    DiskFull,
    /// Any other error writing the recording.
    WriteError,
    /// The workstation was not recording (stopped, or killed before it could say).
    AppNotRunning,
    /// The camera's timestamps jumped: a new run starts (usually no time is missing).
    TimestampJump,
    /// New codec parameters (e.g. a new resolution): a new run starts, no time is missing.
    NewParameters,
    /// The workstation's clock stepped (detail: by how much, e.g. "-30.000 s"): footage
    /// before and after is on two different clocks, so it is two runs; after a step back the
    /// second run's times overlap the first's.
    ClockStep,
    /// Nothing recorded here (before the first recording, or deleted by retention).
    NotRecorded,
    /// The camera was removed in the app, or its settings changed (a new run follows then).
    CameraChanged,
}

impl GapReason {
    pub const ALL: [GapReason; 12] = [
        GapReason::CameraLost,
        GapReason::Stalled,
        GapReason::PacketLoss,
        GapReason::RecorderOverload,
        GapReason::DiskFull,
        GapReason::WriteError,
        GapReason::AppNotRunning,
        GapReason::TimestampJump,
        GapReason::NewParameters,
        GapReason::ClockStep,
        GapReason::NotRecorded,
        GapReason::CameraChanged,
    ];
    pub fn key(self) -> &'static str {
        match self {
            GapReason::CameraLost => "camera-lost",
            GapReason::Stalled => "stalled",
            GapReason::PacketLoss => "packet-loss",
            GapReason::RecorderOverload => "recorder-overload",
            GapReason::DiskFull => "disk-full",
            GapReason::WriteError => "write-error",
            GapReason::AppNotRunning => "app-not-running",
            GapReason::TimestampJump => "timestamp-jump",
            GapReason::NewParameters => "new-parameters",
            GapReason::ClockStep => "clock-step",
            GapReason::NotRecorded => "not-recorded",
            GapReason::CameraChanged => "camera-changed",
        }
    }
    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.key() == key)
    }
}

/// Continuous footage of one camera: consecutive segments of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub camera_id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub segments: Vec<Segment>,
    /// Why it ended (None: it goes on, or the recorder was killed).
    pub end_reason: Option<String>,
}

/// Time without footage, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Gap {
    pub camera_id: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub reason: GapReason,
    pub detail: String,
}

/// Footage that is there but damaged: RTP packets were lost before `from_ms`; the pictures
/// up to the next keyframe (`to_ms`) refer to what is missing.
#[derive(Clone, Debug, PartialEq)]
pub struct Damage {
    pub camera_id: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub packets_lost: i64,
}

/// Runs, gaps and damaged stretches of a camera over a period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    pub runs: Vec<Run>,
    pub gaps: Vec<Gap>,
    pub damaged: Vec<Damage>,
}

/// The reason for the gap before a camera's first run in a period: why the footage before
/// the period ended (`before`, the last segment ending before it), unless that segment
/// belongs to the same run (`run_start_ms`: a hole in a run) or there is none.
fn before_reason(before: &Option<Segment>, run_start_ms: i64) -> (GapReason, String) {
    match before {
        Some(s) if s.run_start_ms != run_start_ms => (
            s.end_reason
                .as_deref()
                .and_then(GapReason::parse)
                .unwrap_or(GapReason::AppNotRunning),
            s.end_detail.clone(),
        ),
        _ => (GapReason::NotRecorded, String::new()),
    }
}

/// Two runs closer than this are continuous (a new run for new parameters or a timestamp
/// jump starts one frame after the last; clock corrections move starts by milliseconds).
pub const CONTIGUOUS_MS: i64 = 250;

pub struct Index {
    conn: Connection,
    path: PathBuf,
}

impl Index {
    pub fn open(path: &Path) -> Result<Self> {
        let err = |e: rusqlite::Error| RecError::Index {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "wal")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "full")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        // Searches sweep days of the motion index: read it mapped rather than page by page.
        conn.pragma_update(None, "mmap_size", 1i64 << 30)
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        // Added after the first version: bytes per second of each segment (activity).
        let has_activity: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info('segment') WHERE name = 'activity'")
            .and_then(|mut s| s.exists([]))
            .map_err(err)?;
        if !has_activity {
            conn.execute_batch("ALTER TABLE segment ADD COLUMN activity BLOB")
                .map_err(err)?;
        }
        // Added with runs and gaps: which run a segment belongs to, why a run ended, the
        // codec parameters (NULL in older rows: each old segment is a run of its own).
        let has_runs: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info('segment') WHERE name = 'run_start_ms'")
            .and_then(|mut s| s.exists([]))
            .map_err(err)?;
        if !has_runs {
            conn.execute_batch(
                "BEGIN;
                 ALTER TABLE segment ADD COLUMN run_start_ms INTEGER;  -- start of its run (Unix ms)
                 ALTER TABLE segment ADD COLUMN end_reason TEXT;       -- on a run's last segment
                 ALTER TABLE segment ADD COLUMN end_detail TEXT;
                 ALTER TABLE segment ADD COLUMN codec TEXT;
                 ALTER TABLE segment ADD COLUMN width INTEGER;
                 ALTER TABLE segment ADD COLUMN height INTEGER;
                 COMMIT;",
            )
            .map_err(err)?;
        }
        // Every column a timeline reads, in camera and time order: a search over a week reads
        // this index alone, in one sweep, instead of looking up each row (the activity blobs
        // make the rows large and scattered).
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS segment_timeline ON segment (camera_id, start_ms, end_ms, id, frames,
                 bytes, file, sha256, run_start_ms, end_reason, end_detail, codec, width, height)",
        )
        .map_err(err)?;
        Ok(Index {
            conn,
            path: path.to_owned(),
        })
    }

    fn err(&self, e: rusqlite::Error) -> RecError {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            if f.code == rusqlite::ErrorCode::DiskFull {
                return RecError::DiskFull {
                    path: self.path.display().to_string(),
                    message: e.to_string(),
                };
            }
        }
        RecError::Index {
            path: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    pub fn insert(&self, s: &Segment) -> Result<i64> {
        self.conn
            .execute(
                // An id is never reused, not even the newest one's after it was removed: a
                // signed checkpoint names segments by id (checkpoint.rs).
                "INSERT INTO segment (id, camera_id, start_ms, end_ms, frames, bytes, file, sha256,
                                      run_start_ms, end_reason, end_detail, codec, width, height)
                 VALUES ((SELECT ifnull(max(m), 0) + 1 FROM (SELECT max(id) AS m FROM segment
                          UNION ALL SELECT max(id) FROM segment_retired)),
                         ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    s.camera_id,
                    s.start_ms,
                    s.end_ms,
                    s.frames,
                    s.bytes,
                    s.file,
                    s.sha256,
                    s.run_start_ms,
                    s.end_reason,
                    s.end_detail,
                    s.codec,
                    s.width,
                    s.height
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Says why the run whose last segment is `id` ended (for a run ended after its last
    /// segment was indexed: the camera lost while the recorder waited for a keyframe).
    pub fn set_end_reason(&self, id: i64, reason: GapReason, detail: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE segment SET end_reason = ?1, end_detail = ?2 WHERE id = ?3",
                params![reason.key(), detail, id],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn query(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<Segment>> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(p, |r| {
                let start_ms: i64 = r.get(2)?;
                Ok(Segment {
                    id: r.get(0)?,
                    camera_id: r.get(1)?,
                    start_ms,
                    end_ms: r.get(3)?,
                    frames: r.get(4)?,
                    bytes: r.get(5)?,
                    file: r.get(6)?,
                    sha256: r.get(7)?,
                    run_start_ms: r.get::<_, Option<i64>>(8)?.unwrap_or(start_ms),
                    end_reason: r.get(9)?,
                    end_detail: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                    codec: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
                    width: r.get::<_, Option<u32>>(12)?.unwrap_or(0),
                    height: r.get::<_, Option<u32>>(13)?.unwrap_or(0),
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Segments of `camera` overlapping [from, to], oldest first.
    pub fn segments(&self, camera: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Segment>> {
        self.query(
            "SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256, run_start_ms, end_reason, end_detail, codec, width, height FROM segment
             WHERE camera_id = ?1 AND end_ms >= ?2 AND start_ms <= ?3 ORDER BY start_ms",
            params![camera, from_ms, to_ms],
        )
    }

    pub fn all(&self) -> Result<Vec<Segment>> {
        self.query(
            "SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256, run_start_ms, end_reason, end_detail, codec, width, height FROM segment ORDER BY start_ms",
            [],
        )
    }

    pub fn by_file(&self, file: &str) -> Result<Option<Segment>> {
        Ok(self
            .query(
                "SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256, run_start_ms, end_reason, end_detail, codec, width, height FROM segment WHERE file = ?1",
                params![file],
            )?
            .into_iter()
            .next())
    }

    pub fn delete(&self, id: i64) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM motion WHERE segment_id = ?1", params![id])
            .map_err(|e| self.err(e))?;
        tx.execute(
            "DELETE FROM motion_samples WHERE segment_id = ?1",
            params![id],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT OR REPLACE INTO segment_retired (id, camera_id, start_ms, end_ms, frames, bytes, file, sha256, retired_ms)
             SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256, ?2 FROM segment WHERE id = ?1",
            params![id, mt_core::time::now_ms()],
        )
        .map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM segment WHERE id = ?1", params![id])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Indexes a finished segment with its activity and motion samples in one transaction:
    /// the motion index never names a segment the index does not, nor misses one it does.
    pub fn insert_recorded(
        &self,
        s: &Segment,
        activity: &[u32],
        motion: Option<(&[crate::motion::Sample], u64)>,
    ) -> Result<i64> {
        // A savepoint rather than a transaction: it nests in a caller's (a benchmark writing
        // many segments in one), and on its own it is one.
        self.conn
            .execute_batch("SAVEPOINT segment_insert")
            .map_err(|e| self.err(e))?;
        let r = (|| {
            let id = self.insert(s)?;
            self.set_activity(id, activity)?;
            if let Some((samples, failed)) = motion {
                self.set_motion(id, s, samples, failed)?;
            }
            Ok(id)
        })();
        match r {
            Ok(id) => {
                self.conn
                    .execute_batch("RELEASE segment_insert")
                    .map_err(|e| self.err(e))?;
                Ok(id)
            }
            Err(e) => {
                let _ = self
                    .conn
                    .execute_batch("ROLLBACK TO segment_insert; RELEASE segment_insert");
                Err(e)
            }
        }
    }

    /// Stores the motion samples of segment `id` (replacing any).
    pub fn set_motion(
        &self,
        id: i64,
        s: &Segment,
        samples: &[crate::motion::Sample],
        failed: u64,
    ) -> Result<()> {
        let (blob, mask) = crate::motion::encode(s.start_ms, samples);
        let trace = crate::motion::trace(s.start_ms, s.end_ms, samples);
        let bitmaps = crate::motion::bitmaps(s.start_ms, samples);
        let lag = samples.iter().map(|x| x.lag_ms as i64).max().unwrap_or(0);
        self.conn
            .prepare_cached(
                "INSERT INTO motion (segment_id, camera_id, start_ms, end_ms, mask, failed, lag_ms, trace, bitmaps)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut st| {
                st.execute(params![id, s.camera_id, s.start_ms, s.end_ms, &mask[..], failed as i64, lag, trace, bitmaps])
            })
            .map_err(|e| self.err(e))?;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO motion_samples (segment_id, samples) VALUES (?1, ?2)",
            )
            .and_then(|mut st| st.execute(params![id, blob]))
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The motion rows of `camera` overlapping [from, to], in time order.
    pub fn motion_rows(&self, camera: &str, from_ms: i64, to_ms: i64) -> Result<Vec<MotionRow>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT segment_id, start_ms, end_ms, mask, failed, lag_ms, bitmaps FROM motion
                 WHERE camera_id = ?1 AND start_ms >= ?2 - 3600000 AND start_ms <= ?3 AND end_ms >= ?2
                 ORDER BY start_ms",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![camera, from_ms, to_ms], |r| {
                Ok(MotionRow {
                    segment_id: r.get(0)?,
                    start_ms: r.get(1)?,
                    end_ms: r.get(2)?,
                    mask: r.get(3)?,
                    failed: r.get(4)?,
                    lag_ms: r.get(5)?,
                    bitmaps: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// The samples of one segment's motion row.
    pub fn motion_samples(&self, row: &MotionRow) -> Result<Vec<crate::motion::Sample>> {
        let blob: Vec<u8> = self
            .conn
            .prepare_cached("SELECT samples FROM motion_samples WHERE segment_id = ?1")
            .and_then(|mut st| st.query_row(params![row.segment_id], |r| r.get(0)))
            .map_err(|e| self.err(e))?;
        crate::motion::decode(row.start_ms, &blob).ok_or_else(|| RecError::Index {
            path: self.path.display().to_string(),
            message: format!("motion samples of segment {} are corrupt", row.segment_id),
        })
    }

    /// Per second of `camera`'s indexed footage in [from, to]: (time, share of the picture
    /// that changed at the default sensitivity, 0–1) — the timeline's motion trace. Reads
    /// the small per-segment traces, not the samples.
    pub fn motion_trace(&self, camera: &str, from_ms: i64, to_ms: i64) -> Result<Vec<(i64, f32)>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT start_ms, trace FROM motion
                 WHERE camera_id = ?1 AND start_ms >= ?2 - 3600000 AND start_ms <= ?3 AND end_ms >= ?2
                 ORDER BY start_ms",
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        let rows = st
            .query_map(params![camera, from_ms, to_ms], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (start, trace) = row.map_err(|e| self.err(e))?;
            for (k, v) in trace.iter().enumerate() {
                let t = start + k as i64 * 1000;
                if (from_ms..=to_ms).contains(&t) && *v > 0 {
                    out.push((t, *v as f32 / 255.0));
                }
            }
        }
        Ok(out)
    }

    /// The connection, for a caller that batches many writes in one transaction (benchmarks
    /// generating an index).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    pub fn total_bytes(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT ifnull(sum(bytes), 0) FROM segment", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Keeps the footage of `camera` in [from, to] for `incident`.
    pub fn lock(&self, incident: i64, camera: &str, from_ms: i64, to_ms: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO lock (incident_id, camera_id, from_ms, to_ms) VALUES (?1, ?2, ?3, ?4)",
                params![incident, camera, from_ms, to_ms],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn is_locked(&self, s: &Segment) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM lock WHERE camera_id = ?1 AND to_ms >= ?2 AND from_ms <= ?3 LIMIT 1",
                params![s.camera_id, s.start_ms, s.end_ms],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| self.err(e))
    }

    /// The oldest segment retention may delete (not locked), if any.
    pub fn oldest_unlocked(&self) -> Result<Option<Segment>> {
        let rows = self.query(
            "SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256, run_start_ms, end_reason, end_detail, codec, width, height FROM segment s
             WHERE NOT EXISTS (SELECT 1 FROM lock l WHERE l.camera_id = s.camera_id
                               AND l.to_ms >= s.start_ms AND l.from_ms <= s.end_ms)
             ORDER BY start_ms LIMIT 1",
            [],
        )?;
        Ok(rows.into_iter().next())
    }

    /// Stores a segment's bytes per second (see `SegmentWriter::activity`).
    pub fn set_activity(&self, id: i64, per_second: &[u32]) -> Result<()> {
        let blob: Vec<u8> = per_second.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.conn
            .execute(
                "UPDATE segment SET activity = ?1 WHERE id = ?2",
                params![blob, id],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// (segment start, bytes per second) of `camera`'s segments overlapping [from, to].
    pub fn activity(&self, camera: &str, from_ms: i64, to_ms: i64) -> Result<Vec<(i64, Vec<u32>)>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT start_ms, activity FROM segment
                 WHERE camera_id = ?1 AND end_ms >= ?2 AND start_ms <= ?3 AND activity IS NOT NULL
                 ORDER BY start_ms",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![camera, from_ms, to_ms], |r| {
                let b: Vec<u8> = r.get(1)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    b.chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                ))
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Recorded ranges of `camera` in [from, to] (for the timeline).
    pub fn ranges(&self, camera: &str, from_ms: i64, to_ms: i64) -> Result<Vec<(i64, i64)>> {
        Ok(self
            .segments(camera, from_ms, to_ms)?
            .into_iter()
            .map(|s| (s.start_ms, s.end_ms))
            .collect())
    }

    /// Records damaged footage (see [`Damage`]).
    pub fn add_damage(&self, d: &Damage) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO damage (camera_id, from_ms, to_ms, packets_lost) VALUES (?1, ?2, ?3, ?4)",
                params![d.camera_id, d.from_ms, d.to_ms, d.packets_lost],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Damaged stretches of `camera` overlapping [from, to].
    pub fn damage(&self, camera: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Damage>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT camera_id, from_ms, to_ms, packets_lost FROM damage
                 WHERE camera_id = ?1 AND to_ms >= ?2 AND from_ms <= ?3 ORDER BY from_ms",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![camera, from_ms, to_ms], |r| {
                Ok(Damage {
                    camera_id: r.get(0)?,
                    from_ms: r.get(1)?,
                    to_ms: r.get(2)?,
                    packets_lost: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// The segment of `camera` recorded last (by id: after a step back of the clock, the
    /// latest is not the one with the latest times).
    pub fn last_segment(&self, camera: &str) -> Result<Option<Segment>> {
        Ok(self
            .query(
                "SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256, run_start_ms, end_reason, end_detail, codec, width, height FROM segment
                 WHERE camera_id = ?1 ORDER BY id DESC LIMIT 1",
                params![camera],
            )?
            .into_iter()
            .next())
    }

    /// The runs of `camera` overlapping [from, to] and the gaps inside [from, to]: the time
    /// between two runs with the reason the first ended, and before the first run / after the
    /// last one. `open_from_ms`: the camera is being recorded now, into an unfinished segment
    /// (not indexed yet) that starts here; footage goes on from there to now.
    pub fn timeline(
        &self,
        camera: &str,
        from_ms: i64,
        to_ms: i64,
        open_from_ms: Option<i64>,
    ) -> Result<Timeline> {
        let segs = self.segments(camera, from_ms, to_ms)?;
        let mut runs: Vec<Run> = Vec::new();
        for s in segs {
            match runs.last_mut() {
                // The same run, and touching: a hole inside a run (retention deleted a
                // segment of it, a segment that failed to close) splits it.
                Some(r)
                    if r.segments.last().is_some_and(|l| {
                        l.run_start_ms == s.run_start_ms
                            && l.end_reason.is_none()
                            && s.start_ms - l.end_ms <= CONTIGUOUS_MS
                    }) =>
                {
                    r.end_ms = r.end_ms.max(s.end_ms);
                    r.end_reason = s.end_reason.clone();
                    r.segments.push(s);
                }
                _ => runs.push(Run {
                    camera_id: s.camera_id.clone(),
                    start_ms: s.start_ms,
                    end_ms: s.end_ms,
                    end_reason: s.end_reason.clone(),
                    segments: vec![s],
                }),
            }
        }
        let mut gaps = Vec::new();
        let mut push_gap = |a: i64, b: i64, reason: GapReason, detail: String| {
            let (a, b) = (a.max(from_ms), b.min(to_ms));
            if b - a > CONTIGUOUS_MS {
                gaps.push(Gap {
                    camera_id: camera.to_owned(),
                    from_ms: a,
                    to_ms: b,
                    reason,
                    detail,
                });
            }
        };
        // Why there is nothing just before `from_ms`: the reason the run before it ended.
        let before = self
            .query(
                "SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256, run_start_ms, end_reason, end_detail, codec, width, height FROM segment
                 WHERE camera_id = ?1 AND end_ms < ?2 ORDER BY end_ms DESC LIMIT 1",
                params![camera, from_ms],
            )?
            .into_iter()
            .next();
        let reason_of = |r: &Run| -> (GapReason, String) {
            let detail = r
                .segments
                .last()
                .map(|s| s.end_detail.clone())
                .unwrap_or_default();
            match r.end_reason.as_deref().and_then(GapReason::parse) {
                Some(g) => (g, detail),
                None => (GapReason::AppNotRunning, detail),
            }
        };
        match runs.first() {
            Some(first) => {
                let run = first
                    .segments
                    .first()
                    .map_or(first.start_ms, |s| s.run_start_ms);
                let (g, d) = before_reason(&before, run);
                push_gap(from_ms, first.start_ms, g, d)
            }
            None => {
                let (g, d) = before_reason(&before, i64::MIN);
                push_gap(from_ms, open_from_ms.unwrap_or(to_ms), g, d)
            }
        }
        for w in runs.windows(2) {
            let (g, d) = reason_of(&w[0]);
            push_gap(w[0].end_ms, w[1].start_ms, g, d);
        }
        if let Some(last) = runs.last() {
            let until = open_from_ms.unwrap_or(to_ms.min(crate::now_ms()));
            let (g, d) = reason_of(last);
            push_gap(last.end_ms, until, g, d);
        }
        let damaged = self.damage(camera, from_ms, to_ms)?;
        Ok(Timeline {
            runs,
            gaps,
            damaged,
        })
    }
}
