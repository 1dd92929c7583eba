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
-- Footage an incident needs: never deleted by retention.
CREATE TABLE IF NOT EXISTS lock (
    incident_id INTEGER NOT NULL,
    camera_id   TEXT NOT NULL,
    from_ms     INTEGER NOT NULL,
    to_ms       INTEGER NOT NULL,
    PRIMARY KEY (incident_id, camera_id, from_ms, to_ms)
);
";

#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub id: i64,
    pub camera_id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub frames: i64,
    pub bytes: i64,
    pub file: String,
    pub sha256: String,
}

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
                "INSERT INTO segment (camera_id, start_ms, end_ms, frames, bytes, file, sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    s.camera_id,
                    s.start_ms,
                    s.end_ms,
                    s.frames,
                    s.bytes,
                    s.file,
                    s.sha256
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    fn query(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<Segment>> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(p, |r| {
                Ok(Segment {
                    id: r.get(0)?,
                    camera_id: r.get(1)?,
                    start_ms: r.get(2)?,
                    end_ms: r.get(3)?,
                    frames: r.get(4)?,
                    bytes: r.get(5)?,
                    file: r.get(6)?,
                    sha256: r.get(7)?,
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
            "SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256 FROM segment
             WHERE camera_id = ?1 AND end_ms >= ?2 AND start_ms <= ?3 ORDER BY start_ms",
            params![camera, from_ms, to_ms],
        )
    }

    pub fn all(&self) -> Result<Vec<Segment>> {
        self.query(
            "SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256 FROM segment ORDER BY start_ms",
            [],
        )
    }

    pub fn by_file(&self, file: &str) -> Result<Option<Segment>> {
        Ok(self
            .query(
                "SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256 FROM segment WHERE file = ?1",
                params![file],
            )?
            .into_iter()
            .next())
    }

    pub fn delete(&self, id: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM segment WHERE id = ?1", params![id])
            .map_err(|e| self.err(e))?;
        Ok(())
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
            "SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256 FROM segment s
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
}
