//! The local log: one SQLite file (WAL, foreign keys on) holding operators, bookmarks,
//! incidents with append-only notes, and an append-only audit chain (SHA-256 links).
//!
//! Latency contract: [`Db`] is synchronous and owned by one thread ([`thread::StoreThread`]);
//! the UI sends it jobs over a bounded channel and never holds a `Connection`.
#![forbid(clippy::print_stdout, clippy::print_stderr)]

pub mod audit;
pub mod cameras;
pub mod officers;
pub mod sites;
pub mod survey;
pub mod thread;

pub use officers::{pin_problem, By, Operator, Right, Role, Setting, Settings, ROLES};
pub use sites::IncidentPlace;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

/// The current schema (documentation and the way a new database is made).
pub const SCHEMA_SQL: &str = include_str!("../schema.sql");
/// Numbered migrations; index + 1 is the schema version each brings the database to.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_search.sql"),
    include_str!("../migrations/0003_search_prefix.sql"),
    include_str!("../migrations/0004_camera_sites.sql"),
    include_str!("../migrations/0005_bookmark_source.sql"),
    include_str!("../migrations/0006_officers.sql"),
    include_str!("../migrations/0007_camera_change.sql"),
];
/// Migrations that rebuild a table others refer to: run with foreign keys off (SQLite's
/// documented procedure), checked with `PRAGMA foreign_key_check` before commit.
const REBUILDS: &[i64] = &[6];
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: the database was made by a newer Mắt Thần (schema version {found}, this version knows up to {known}); refusing to open it")]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("{path}: not a Mắt Thần database or damaged: {detail}")]
    Corrupt { path: String, detail: String },
    #[error("{path}: the database is read-only (check the file's permissions): {detail}")]
    ReadOnly { path: String, detail: String },
    #[error(
        "{path}: the disk is full; nothing was lost, the change is kept until it can be written"
    )]
    DiskFull { path: String },
    #[error("{path}: another program holds the log locked (a backup, a copy being made?); nothing was lost, the change is kept and written as soon as the lock is let go")]
    Busy { path: String },
    #[error("{path}: migration to schema version {version} failed: {detail}")]
    Migration {
        path: String,
        version: i64,
        detail: String,
    },
    #[error("wrong operator ID or PIN")]
    BadCredentials,
    #[error("too many wrong PINs: this ID is locked for {seconds} s")]
    Locked { seconds: i64 },
    #[error("this officer is disabled; ask a supervisor")]
    Disabled,
    #[error("{operator} may not use {action}: {why}")]
    Forbidden {
        operator: String,
        action: &'static str,
        why: String,
    },
    #[error("{0}")]
    Invalid(String),
    /// The camera file could not be changed (changed by hand since, would not load, …).
    #[error("{0}")]
    CameraFile(#[from] mt_core::camedit::EditError),
    #[error("{path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewBookmark {
    pub camera_id: String,
    pub frame_time_ms: i64,
    pub pre_ms: i64,
    pub post_ms: i64,
    pub note: String,
    pub snapshot_png: Option<Vec<u8>>,
    /// What the time and still are of: "live", "playback" (recorded picture on the wall) or
    /// "replay" (an evidence archive's picture).
    pub source: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Bookmark {
    pub id: i64,
    pub camera_id: String,
    pub operator_id: String,
    pub frame_time_ms: i64,
    pub pre_ms: i64,
    pub post_ms: i64,
    pub note: String,
    pub created_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    New,
    InProgress,
    Transferred,
    Closed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::InProgress => "in_progress",
            Status::Transferred => "transferred",
            Status::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Status::New,
            Status::InProgress,
            Status::Transferred,
            Status::Closed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewIncident {
    pub title: String,
    pub type_code: String,
    pub occurred_ms: i64,
    pub ward: String,
    pub lat_deg: Option<f64>,
    pub lon_deg: Option<f64>,
    pub camera_ids: Vec<String>,
    pub bookmark_ids: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    pub id: i64,
    pub title: String,
    pub type_code: String,
    pub status: Status,
    pub occurred_ms: i64,
    pub ward: String,
    pub created_by: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IncidentType {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub id: i64,
    pub author_id: String,
    pub created_ms: i64,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IncidentDetail {
    pub incident: Incident,
    pub lat_deg: Option<f64>,
    pub lon_deg: Option<f64>,
    pub cameras: Vec<String>,
    pub bookmark_ids: Vec<i64>,
    pub notes: Vec<Note>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub total: i64,
    pub by_type: Vec<(String, i64)>,
    pub by_ward: Vec<(String, i64)>,
    pub by_month: Vec<(String, i64)>,
}

/// Incidents per page of search results (`Query::limit` 0 means one page).
pub const PAGE: usize = 200;

/// A search: words (diacritics optional) and filters; `None`/empty means "any".
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub text: String,
    pub type_code: Option<String>,
    pub status: Option<Status>,
    pub ward: Option<String>,
    pub camera_id: Option<String>,
    pub operator_id: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: usize,
}

/// The database, owned by one thread.
pub struct Db {
    conn: Connection,
    path: PathBuf,
    writes_since_checkpoint: u32,
}

impl Db {
    /// Opens (creating if needed) the log at `path`: checks it is a SQLite database of ours,
    /// refuses a newer schema, applies pending migrations each in its own transaction.
    pub fn open(path: &Path) -> Result<Self> {
        let p = path.display().to_string();
        let exists = path.exists()
            && std::fs::metadata(path)
                .map(|m| m.len() > 0)
                .unwrap_or(false);
        if exists {
            // SQLite's own message for a read-only file in WAL mode is "unable to open
            // database file"; say what it really is.
            if let Err(e) = std::fs::OpenOptions::new().write(true).open(path) {
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
                ) {
                    return Err(StoreError::ReadOnly {
                        path: p,
                        detail: e.to_string(),
                    });
                }
            }
        }
        let conn = Connection::open(path).map_err(|e| classify(&p, e))?;
        let mut db = Db {
            conn,
            path: path.to_owned(),
            writes_since_checkpoint: 0,
        };
        db.pragmas()?;
        let version: i64 = db
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| classify(&p, e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: p,
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        if exists {
            let check: String = db
                .conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(|e| classify(&p, e))?;
            if check != "ok" {
                return Err(StoreError::Corrupt {
                    path: p,
                    detail: format!("integrity check: {check}"),
                });
            }
        }
        if version == 0 && !db.has_tables()? {
            db.create_fresh()?;
        } else {
            db.migrate_from(version)?;
        }
        Ok(db)
    }

    /// Opens a database and brings it only up to `version` (for the migration test).
    pub fn open_at_version(path: &Path, version: i64) -> Result<Self> {
        let p = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| classify(&p, e))?;
        let mut db = Db {
            conn,
            path: path.to_owned(),
            writes_since_checkpoint: 0,
        };
        db.pragmas()?;
        for v in 1..=version {
            db.apply_migration(v)?;
        }
        Ok(db)
    }

    fn pragmas(&self) -> Result<()> {
        // WAL + synchronous=FULL: a commit that returned is on disk, even after power loss.
        self.conn
            .execute_batch(
                // WAL + synchronous=FULL: a commit that returned is on disk, even after power
                // loss. Automatic checkpoints are off: copying the WAL back inside an officer's
                // commit made the slowest bookmarks 30× slower; the store thread checkpoints
                // when idle instead (and `note_write` inline if the WAL grows anyway).
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                 PRAGMA busy_timeout = 2000; PRAGMA wal_autocheckpoint = 0;",
            )
            .map_err(|e| self.err(e))
    }

    fn has_tables(&self) -> Result<bool> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    fn create_fresh(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| classify(&self.path.display().to_string(), e))?;
        tx.execute_batch(SCHEMA_SQL)
            .map_err(|e| classify(&self.path.display().to_string(), e))?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| classify(&self.path.display().to_string(), e))?;
        tx.commit()
            .map_err(|e| classify(&self.path.display().to_string(), e))
    }

    fn migrate_from(&mut self, version: i64) -> Result<()> {
        for v in version + 1..=SCHEMA_VERSION {
            self.apply_migration(v)?;
            tracing::info!("{}: migrated to schema version {v}", self.path.display());
        }
        Ok(())
    }

    fn apply_migration(&mut self, v: i64) -> Result<()> {
        let p = self.path.display().to_string();
        let merr = |e: rusqlite::Error| StoreError::Migration {
            path: p.clone(),
            version: v,
            detail: e.to_string(),
        };
        let rebuild = REBUILDS.contains(&v);
        if rebuild {
            self.conn
                .execute_batch("PRAGMA foreign_keys = OFF")
                .map_err(merr)?;
        }
        let res = self.apply_migration_tx(v);
        if rebuild {
            self.conn
                .execute_batch("PRAGMA foreign_keys = ON")
                .map_err(merr)?;
        }
        res
    }

    fn apply_migration_tx(&mut self, v: i64) -> Result<()> {
        let p = self.path.display().to_string();
        let merr = |e: rusqlite::Error| StoreError::Migration {
            path: p.clone(),
            version: v,
            detail: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(merr)?;
        tx.execute_batch(MIGRATIONS[(v - 1) as usize])
            .map_err(merr)?;
        if REBUILDS.contains(&v) {
            let broken: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .optional()
                .map_err(merr)?;
            if let Some(table) = broken {
                return Err(StoreError::Migration {
                    path: p.clone(),
                    version: v,
                    detail: format!("a row of {table} refers to a missing record"),
                });
            }
        }
        if v == 2 || v == 3 {
            // Index what migration 1 databases already hold.
            reindex_all(&tx).map_err(merr)?;
        }
        tx.pragma_update(None, "user_version", v).map_err(merr)?;
        tx.commit().map_err(merr)
    }

    /// Copies the WAL back into the database (passive: never waits for readers). The store
    /// thread calls it when idle.
    pub fn checkpoint(&mut self) -> Result<()> {
        self.writes_since_checkpoint = 0;
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(|e| self.err(e))
    }

    /// Whether writes happened since the last checkpoint.
    pub fn needs_checkpoint(&self) -> bool {
        self.writes_since_checkpoint > 0
    }

    /// Counts a write; after many without an idle moment, checkpoints inline so the WAL
    /// stays bounded.
    fn note_write(&mut self) {
        self.writes_since_checkpoint += 1;
        if self.writes_since_checkpoint >= 2000 {
            if let Err(e) = self.checkpoint() {
                tracing::warn!("checkpoint: {e}");
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        classify(&self.path.display().to_string(), e)
    }

    /// `PRAGMA integrity_check`: "ok" or the problems found.
    pub fn integrity_check(&self) -> Result<String> {
        let rows: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.err(e))?;
        Ok(rows.join("; "))
    }

    /// A consistent copy of the live database (`VACUUM INTO`), safe while others write.
    pub fn backup(&self, dest: &Path) -> Result<()> {
        if dest.exists() {
            return Err(StoreError::Invalid(format!(
                "{}: already exists; choose a new file name",
                dest.display()
            )));
        }
        self.conn
            .execute("VACUUM INTO ?1", params![dest.to_string_lossy()])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Appends an audit row for an action without a record of its own and no right to check:
    /// the session's own rows (sign-out, screen lock/unlock) and the workstation's (checkpoints,
    /// shell tools). What an officer does goes through [`Db::audit_as`], which checks the right.
    pub fn audit(&mut self, operator: &str, action: &str, subject: &str) -> Result<()> {
        let p = self.path.display().to_string();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        audit::append(&tx, now_ms(), operator, action, subject, "").map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))
    }

    /// The newest row of the audit chain: (id, row SHA-256), or None for an empty log. An
    /// evidence archive carries it, so a later rewrite of the log's history is detectable
    /// against every archive exported before.
    pub fn audit_head(&self) -> Result<Option<(i64, String)>> {
        self.conn
            .query_row(
                "SELECT id, row_sha256 FROM audit_log ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records that `operator` exported an evidence archive: which incident (if any), the
    /// archive's file name and its SHA-256 (in the row's subject, so the chain covers them).
    pub fn audit_evidence_export(
        &mut self,
        operator: &str,
        incident: Option<i64>,
        archive_name: &str,
        archive_sha256: &str,
    ) -> Result<()> {
        self.require(operator, Right::Export)?;
        let inc = incident
            .map(|i| i.to_string())
            .unwrap_or_else(|| "-".into());
        self.audit(
            operator,
            "export_evidence",
            &format!("incident={inc};sha256={archive_sha256};file={archive_name}"),
        )
    }

    // ---- bookmarks -------------------------------------------------------------------

    /// Inserts a bookmark durably (the commit is on disk when this returns).
    pub fn add_bookmark(&mut self, operator: &str, b: &NewBookmark) -> Result<i64> {
        self.require(operator, Right::Bookmark)?;
        let p = self.path.display().to_string();
        let now = now_ms();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        tx.execute(
            "INSERT INTO bookmark (camera_id, operator_id, frame_time_ms, pre_ms, post_ms, note, snapshot_png, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![b.camera_id, operator, b.frame_time_ms, b.pre_ms, b.post_ms, b.note, b.snapshot_png, now],
        )
        .map_err(|e| classify(&p, e))?;
        let id = tx.last_insert_rowid();
        if b.source != "live" && !b.source.is_empty() {
            tx.execute(
                "INSERT INTO bookmark_source (bookmark_id, source) VALUES (?1, ?2)",
                params![id, b.source],
            )
            .map_err(|e| classify(&p, e))?;
        }
        index(&tx, "bookmark", id, None, b.frame_time_ms, &b.note).map_err(|e| classify(&p, e))?;
        let subject = format!("bookmark:{id}");
        let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
        audit::append(&tx, now, operator, "bookmark_create", &subject, &content)
            .map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))?;
        self.note_write();
        Ok(id)
    }

    pub fn bookmarks(&self, limit: usize) -> Result<Vec<Bookmark>> {
        let mut s = self
            .conn
            .prepare("SELECT id, camera_id, operator_id, frame_time_ms, pre_ms, post_ms, note, created_ms FROM bookmark ORDER BY id DESC LIMIT ?1")
            .map_err(|e| self.err(e))?;
        let rows = s
            .query_map(params![limit as i64], |r| {
                Ok(Bookmark {
                    id: r.get(0)?,
                    camera_id: r.get(1)?,
                    operator_id: r.get(2)?,
                    frame_time_ms: r.get(3)?,
                    pre_ms: r.get(4)?,
                    post_ms: r.get(5)?,
                    note: r.get(6)?,
                    created_ms: r.get(7)?,
                })
            })
            .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// The PNG still saved with a bookmark, if any.
    pub fn bookmark_snapshot(&self, id: i64) -> Result<Option<Vec<u8>>> {
        self.conn
            .query_row(
                "SELECT snapshot_png FROM bookmark WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }

    pub fn bookmark_exists(&self, id: i64) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT count(*) FROM bookmark WHERE id = ?1",
                params![id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    // ---- incidents -------------------------------------------------------------------

    pub fn add_incident(&mut self, operator: &str, i: &NewIncident) -> Result<i64> {
        self.require(operator, Right::Incident)?;
        let p = self.path.display().to_string();
        let now = now_ms();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        tx.execute(
            "INSERT INTO incident (title, type_code, status, occurred_ms, ward, lat_deg, lon_deg, created_by, created_ms, updated_ms)
             VALUES (?1, ?2, 'new', ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![i.title, i.type_code, i.occurred_ms, i.ward, i.lat_deg, i.lon_deg, operator, now],
        )
        .map_err(|e| classify(&p, e))?;
        let id = tx.last_insert_rowid();
        for c in &i.camera_ids {
            tx.execute(
                "INSERT OR IGNORE INTO incident_camera (incident_id, camera_id) VALUES (?1, ?2)",
                params![id, c],
            )
            .map_err(|e| classify(&p, e))?;
        }
        for b in &i.bookmark_ids {
            tx.execute("INSERT OR IGNORE INTO incident_bookmark (incident_id, bookmark_id) VALUES (?1, ?2)", params![id, b]).map_err(|e| classify(&p, e))?;
        }
        index(&tx, "incident", id, Some(id), i.occurred_ms, &i.title)
            .map_err(|e| classify(&p, e))?;
        let subject = format!("incident:{id}");
        let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
        audit::append(&tx, now, operator, "incident_create", &subject, &content)
            .map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))?;
        self.note_write();
        Ok(id)
    }

    pub fn set_status(&mut self, operator: &str, incident: i64, status: Status) -> Result<()> {
        self.require(operator, Right::Incident)?;
        let p = self.path.display().to_string();
        let now = now_ms();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        let n = tx
            .execute(
                "UPDATE incident SET status = ?1, updated_ms = ?2 WHERE id = ?3",
                params![status.as_str(), now, incident],
            )
            .map_err(|e| classify(&p, e))?;
        if n == 0 {
            return Err(StoreError::Invalid(format!("no incident {incident}")));
        }
        let subject = format!("incident:{incident}");
        let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
        audit::append(
            &tx,
            now,
            operator,
            &format!("incident_status:{}", status.as_str()),
            &subject,
            &content,
        )
        .map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))
    }

    /// Changes an incident's title, type, ward and time (audited as `incident_edit`).
    pub fn update_incident(
        &mut self,
        operator: &str,
        id: i64,
        title: &str,
        type_code: &str,
        ward: &str,
        occurred_ms: i64,
    ) -> Result<()> {
        self.require(operator, Right::Incident)?;
        if title.trim().is_empty() {
            return Err(StoreError::Invalid("an incident needs a title".into()));
        }
        let p = self.path.display().to_string();
        let now = now_ms();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        let n = tx
            .execute(
                "UPDATE incident SET title = ?1, type_code = ?2, ward = ?3, occurred_ms = ?4, updated_ms = ?5 WHERE id = ?6",
                params![title, type_code, ward, occurred_ms, now, id],
            )
            .map_err(|e| classify(&p, e))?;
        if n == 0 {
            return Err(StoreError::Invalid(format!("no incident {id}")));
        }
        // Re-index the title under the (possibly new) time.
        tx.execute(
            "DELETE FROM search_fts WHERE kind = 'incident' AND ref_id = ?1",
            params![id],
        )
        .map_err(|e| classify(&p, e))?;
        index(&tx, "incident", id, Some(id), occurred_ms, title).map_err(|e| classify(&p, e))?;
        let subject = format!("incident:{id}");
        let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
        audit::append(&tx, now, operator, "incident_edit", &subject, &content)
            .map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))?;
        self.note_write();
        Ok(())
    }

    /// Appends a note to an incident's notes log.
    pub fn add_note(&mut self, operator: &str, incident: i64, body: &str) -> Result<i64> {
        self.require(operator, Right::Incident)?;
        let p = self.path.display().to_string();
        let now = now_ms();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        tx.execute("INSERT INTO incident_note (incident_id, author_id, created_ms, body) VALUES (?1, ?2, ?3, ?4)", params![incident, operator, now, body])
            .map_err(|e| classify(&p, e))?;
        let id = tx.last_insert_rowid();
        let occurred: i64 = tx
            .query_row(
                "SELECT occurred_ms FROM incident WHERE id = ?1",
                params![incident],
                |r| r.get(0),
            )
            .map_err(|e| classify(&p, e))?;
        index(&tx, "note", id, Some(incident), occurred, body).map_err(|e| classify(&p, e))?;
        let subject = format!("note:{id}");
        let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
        audit::append(&tx, now, operator, "note_append", &subject, &content)
            .map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))?;
        self.note_write();
        Ok(id)
    }

    /// Incidents matching the query, newest first. Text matches titles, notes and the notes of
    /// linked bookmarks, without diacritics; every word must match (prefixes allowed).
    ///
    /// With text, matches are read from the FTS index newest first (its rowids are keyed by
    /// time, see [`fts_rowid`]) and the reading stops once `limit` incidents have passed the
    /// filters, so a common word over millions of rows costs no more than a rare one.
    pub fn search(&self, q: &Query) -> Result<Vec<Incident>> {
        const COLS: &str = "SELECT i.id, i.title, i.type_code, i.status, i.occurred_ms, i.ward, i.created_by FROM incident i";
        let limit = if q.limit == 0 {
            PAGE
        } else {
            q.limit.min(i64::MAX as usize)
        };
        // Whole words, except the last, which may still be being typed: a prefix. (Prefix
        // queries on every word cost several times more over millions of rows.)
        let folded = mt_core::fold(&q.text);
        let parts: Vec<&str> = folded
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let words: Vec<String> = parts
            .iter()
            .enumerate()
            .map(|(k, w)| {
                if k + 1 == parts.len() {
                    format!("\"{w}\"*")
                } else {
                    format!("\"{w}\"")
                }
            })
            .collect();
        let row = |r: &rusqlite::Row| -> rusqlite::Result<Incident> {
            let status: String = r.get(3)?;
            Ok(Incident {
                id: r.get(0)?,
                title: r.get(1)?,
                type_code: r.get(2)?,
                status: Status::parse(&status).unwrap_or(Status::New),
                occurred_ms: r.get(4)?,
                ward: r.get(5)?,
                created_by: r.get(6)?,
            })
        };
        if words.is_empty() {
            let (filters, args) = filter_sql(q, 1);
            let sql =
                format!("{COLS} WHERE 1 = 1{filters} ORDER BY i.occurred_ms DESC LIMIT {limit}");
            let mut s = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
            let rows = s
                .query_map(rusqlite::params_from_iter(args), row)
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| self.err(e))?;
            return Ok(rows);
        }
        let (filters, fargs) = filter_sql(q, 2);
        let mut check = self
            .conn
            .prepare(&format!("{COLS} WHERE i.id = ?1{filters}"))
            .map_err(|e| self.err(e))?;
        let mut linked = self
            .conn
            .prepare_cached("SELECT incident_id FROM incident_bookmark WHERE bookmark_id = ?1")
            .map_err(|e| self.err(e))?;
        let mut fts = self
            .conn
            .prepare_cached("SELECT kind, ref_id, incident_id FROM search_fts WHERE search_fts MATCH ?1 ORDER BY rowid DESC")
            .map_err(|e| self.err(e))?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        // First the last word as a whole word (fast even for words in hundreds of thousands
        // of rows); only if that does not fill the page, as a prefix (a half-typed word).
        let whole = words
            .iter()
            .map(|w| w.trim_end_matches('*').to_owned())
            .collect::<Vec<_>>()
            .join(" ");
        for expr in [whole, words.join(" ")] {
            if out.len() >= limit {
                break;
            }
            let mut hits = fts.query(params![expr]).map_err(|e| self.err(e))?;
            'rows: while let Some(h) = hits.next().map_err(|e| self.err(e))? {
                let (kind, ref_id, inc): (String, i64, Option<i64>) = (
                    h.get(0).map_err(|e| self.err(e))?,
                    h.get(1).map_err(|e| self.err(e))?,
                    h.get(2).map_err(|e| self.err(e))?,
                );
                let ids: Vec<i64> = if kind == "bookmark" {
                    linked
                        .query_map(params![ref_id], |r| r.get(0))
                        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                        .map_err(|e| self.err(e))?
                } else {
                    inc.into_iter().collect()
                };
                for id in ids {
                    if !seen.insert(id) {
                        continue;
                    }
                    let mut args: Vec<rusqlite::types::Value> = vec![id.into()];
                    args.extend(fargs.iter().cloned());
                    if let Some(i) = check
                        .query_row(rusqlite::params_from_iter(args), row)
                        .optional()
                        .map_err(|e| self.err(e))?
                    {
                        out.push(i);
                        if out.len() >= limit {
                            break 'rows;
                        }
                    }
                }
            }
        }
        // Bookmark hits are keyed by the bookmark's time, not the incident's: put in order.
        out.sort_by(|a, b| b.occurred_ms.cmp(&a.occurred_ms).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// The incident-type catalogue (active and retired).
    pub fn incident_types(&self) -> Result<Vec<IncidentType>> {
        let mut s = self
            .conn
            .prepare("SELECT code, name_vi, name_en, active FROM incident_type ORDER BY rowid")
            .map_err(|e| self.err(e))?;
        let rows = s
            .query_map([], |r| {
                Ok(IncidentType {
                    code: r.get(0)?,
                    name_vi: r.get(1)?,
                    name_en: r.get(2)?,
                    active: r.get::<_, i64>(3)? != 0,
                })
            })
            .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Adds or changes a catalogue entry (supervisors only), audited.
    pub fn set_incident_type(&mut self, by: &Operator, t: &IncidentType) -> Result<()> {
        self.require(&by.id, Right::Catalogue)?;
        let p = self.path.display().to_string();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        tx.execute(
            "INSERT INTO incident_type (code, name_vi, name_en, active) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (code) DO UPDATE SET name_vi = ?2, name_en = ?3, active = ?4",
            params![t.code, t.name_vi, t.name_en, t.active as i64],
        )
        .map_err(|e| classify(&p, e))?;
        audit::append(
            &tx,
            now_ms(),
            &by.id,
            &format!("catalogue_change:{}", t.code),
            "",
            "",
        )
        .map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))
    }

    pub fn incident_detail(&self, id: i64) -> Result<IncidentDetail> {
        let (incident, lat_deg, lon_deg) = self
            .conn
            .query_row(
                "SELECT id, title, type_code, status, occurred_ms, ward, created_by, lat_deg, lon_deg FROM incident WHERE id = ?1",
                params![id],
                |r| {
                    let status: String = r.get(3)?;
                    Ok((
                        Incident {
                            id: r.get(0)?,
                            title: r.get(1)?,
                            type_code: r.get(2)?,
                            status: Status::parse(&status).unwrap_or(Status::New),
                            occurred_ms: r.get(4)?,
                            ward: r.get(5)?,
                            created_by: r.get(6)?,
                        },
                        r.get(7)?,
                        r.get(8)?,
                    ))
                },
            )
            .map_err(|e| self.err(e))?;
        let strings = |sql: &str| -> Result<Vec<String>> {
            let mut s = self.conn.prepare(sql).map_err(|e| self.err(e))?;
            let v = s
                .query_map(params![id], |r| r.get::<_, String>(0))
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| self.err(e))?;
            Ok(v)
        };
        let cameras = strings(
            "SELECT camera_id FROM incident_camera WHERE incident_id = ?1 ORDER BY camera_id",
        )?;
        let bookmark_ids = strings("SELECT CAST(bookmark_id AS TEXT) FROM incident_bookmark WHERE incident_id = ?1 ORDER BY bookmark_id")?
            .into_iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        let mut s = self.conn.prepare("SELECT id, author_id, created_ms, body FROM incident_note WHERE incident_id = ?1 ORDER BY id").map_err(|e| self.err(e))?;
        let notes = s
            .query_map(params![id], |r| {
                Ok(Note {
                    id: r.get(0)?,
                    author_id: r.get(1)?,
                    created_ms: r.get(2)?,
                    body: r.get(3)?,
                })
            })
            .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok(IncidentDetail {
            incident,
            lat_deg,
            lon_deg,
            cameras,
            bookmark_ids,
            notes,
        })
    }

    /// Incident counts by type, by ward and by month (local time) for incidents matching `q`.
    /// Every incident matching `q`, without the UI's row limit.
    fn all_matching(&self, q: &Query) -> Result<Vec<Incident>> {
        self.search(&Query {
            limit: usize::MAX / 2,
            ..q.clone()
        })
    }

    pub fn stats(&self, q: &Query) -> Result<Stats> {
        let list = self.all_matching(q)?;
        let mut st = Stats::default();
        let mut by_type = std::collections::BTreeMap::new();
        let mut by_ward = std::collections::BTreeMap::new();
        let mut by_month = std::collections::BTreeMap::new();
        for i in &list {
            *by_type.entry(i.type_code.clone()).or_insert(0i64) += 1;
            *by_ward.entry(i.ward.clone()).or_insert(0i64) += 1;
            let month = mt_core::time::format(i.occurred_ms, "%Y-%m");
            *by_month.entry(month).or_insert(0i64) += 1;
        }
        st.by_type = by_type.into_iter().collect();
        st.by_ward = by_ward.into_iter().collect();
        st.by_month = by_month.into_iter().collect();
        st.total = list.len() as i64;
        Ok(st)
    }

    /// Writes the incidents matching `q` to `dest` as CSV (UTF-8 with BOM, so spreadsheet
    /// programs keep the Vietnamese text), atomically, and audits the export.
    pub fn export_csv(&mut self, by: &str, q: &Query, dest: &Path) -> Result<usize> {
        self.require(by, Right::Export)?;
        let list = self.all_matching(q)?;
        let types: std::collections::HashMap<String, String> = self
            .incident_types()?
            .into_iter()
            .map(|t| (t.code, t.name_vi))
            .collect();
        // Hand-written: seven columns of plain text need only quoting, not a CSV crate.
        let field = |s: &str| format!("\"{}\"", csv_safe(s).replace('"', "\"\""));
        let mut out = String::from("\u{feff}");
        out += "id,tiêu đề,loại,trạng thái,thời gian xảy ra,phường,người tạo\r\n";
        for i in &list {
            let when = mt_core::time::iso(i.occurred_ms);
            out += &format!(
                "{},{},{},{},{},{},{}\r\n",
                i.id,
                field(&i.title),
                field(
                    types
                        .get(&i.type_code)
                        .map(String::as_str)
                        .unwrap_or(&i.type_code)
                ),
                i.status.as_str(),
                when,
                field(&i.ward),
                field(&i.created_by)
            );
        }
        let tmp = dest.with_extension("csv.partial");
        let io = |e: std::io::Error| StoreError::Invalid(format!("{}: {e}", dest.display()));
        std::fs::write(&tmp, out).map_err(io)?;
        std::fs::rename(&tmp, dest).map_err(io)?;
        self.audit(
            by,
            &format!(
                "export_csv:{}",
                dest.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
            "",
        )?;
        Ok(list.len())
    }

    /// Verifies the audit chain and every audited record; see [`audit::verify`].
    pub fn verify_audit(&self) -> Result<audit::Report> {
        audit::verify(&self.conn).map_err(|e| self.err(e))
    }
}

/// A CSV cell a spreadsheet will not run as a formula: one starting with = + - @ (or a tab
/// or carriage return, which some programs skip before looking) gets a leading apostrophe,
/// as OWASP's CSV-injection advice says.
pub fn csv_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some(
            '=' | '+' | '-' | '@' | '\t' | '\r' | '\u{2212}' | '\u{ff1d}' | '\u{ff0b}' | '\u{ff0d}'
            | '\u{ff20}',
        ) => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// The FTS rowid of an entry: its time in the high bits, so `ORDER BY rowid DESC` in the
/// index is "newest first"; kind and id in the low bits keep it unique.
pub fn fts_rowid(sort_ms: i64, kind: &str, id: i64) -> i64 {
    let k = match kind {
        "incident" => 0,
        "note" => 1,
        _ => 2,
    };
    sort_ms.clamp(0, 1 << 42) * (1 << 20) + ((id & 0x3ffff) << 2) + k
}

/// Adds a text to the search index, folded (no case, no diacritics). `sort_ms` is the time
/// the entry sorts by: the incident's occurrence for incidents and notes, the frame time for
/// bookmarks.
fn index(
    tx: &rusqlite::Transaction,
    kind: &str,
    id: i64,
    incident: Option<i64>,
    sort_ms: i64,
    text: &str,
) -> rusqlite::Result<()> {
    let body = mt_core::fold(text);
    let mut rowid = fts_rowid(sort_ms, kind, id);
    loop {
        match tx.execute(
            "INSERT INTO search_fts (rowid, kind, ref_id, incident_id, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![rowid, kind, id, incident, body],
        ) {
            Ok(_) => return Ok(()),
            // Same millisecond and same low bits: take the next free key.
            Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::ConstraintViolation => rowid += 4,
            Err(e) => return Err(e),
        }
    }
}

fn reindex_all(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    let mut rows: Vec<(String, i64, Option<i64>, i64, String)> = Vec::new();
    for (sql, kind) in [
        ("SELECT id, id, occurred_ms, title FROM incident", "incident"),
        ("SELECT n.id, n.incident_id, i.occurred_ms, n.body FROM incident_note n JOIN incident i ON i.id = n.incident_id", "note"),
        ("SELECT id, NULL, frame_time_ms, note FROM bookmark", "bookmark"),
    ] {
        let mut s = tx.prepare(sql)?;
        let it = s.query_map([], |r| Ok((kind.to_owned(), r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        for r in it {
            rows.push(r?);
        }
    }
    for (kind, id, inc, t, text) in rows {
        index(tx, &kind, id, inc, t, &text)?;
    }
    Ok(())
}

/// SQL for the search filters (`AND …`), with parameters numbered from `first`.
fn filter_sql(q: &Query, first: usize) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = String::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut push = |clause: &str, v: rusqlite::types::Value| {
        sql += &clause.replace('?', &format!("?{}", first + args.len()));
        args.push(v);
    };
    if let Some(t) = &q.type_code {
        push(" AND i.type_code = ?", t.clone().into());
    }
    if let Some(s) = q.status {
        push(" AND i.status = ?", s.as_str().to_owned().into());
    }
    if let Some(w) = &q.ward {
        push(" AND i.ward = ?", w.clone().into());
    }
    if let Some(c) = &q.camera_id {
        push(
            " AND i.id IN (SELECT incident_id FROM incident_camera WHERE camera_id = ?)",
            c.clone().into(),
        );
    }
    if let Some(o) = &q.operator_id {
        push(" AND i.created_by = ?", o.clone().into());
    }
    if let Some(f) = q.from_ms {
        push(" AND i.occurred_ms >= ?", f.into());
    }
    if let Some(t) = q.to_ms {
        push(" AND i.occurred_ms < ?", t.into());
    }
    (sql, args)
}

/// Turns SQLite's error codes into what the officer is told.
fn classify(path: &str, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    if let rusqlite::Error::SqliteFailure(f, ref msg) = e {
        let detail = msg.clone().unwrap_or_else(|| f.to_string());
        match f.code {
            C::ReadOnly | C::CannotOpen if detail.contains("readonly") || f.code == C::ReadOnly => {
                return StoreError::ReadOnly {
                    path: path.into(),
                    detail,
                };
            }
            C::DiskFull => return StoreError::DiskFull { path: path.into() },
            C::DatabaseBusy | C::DatabaseLocked => return StoreError::Busy { path: path.into() },
            C::NotADatabase | C::DatabaseCorrupt => {
                return StoreError::Corrupt {
                    path: path.into(),
                    detail,
                }
            }
            _ => {}
        }
    }
    StoreError::Sqlite {
        path: path.into(),
        source: e,
    }
}
