//! Signed checkpoints of the log's audit chain and the recordings' index, kept outside the
//! database: a small append-only file beside it (`matthan.checkpoints`, one JSON line each),
//! and the chain head in every evidence manifest. Whoever holds an earlier checkpoint can
//! tell that the newest audit rows were deleted, or that the chain was recomputed after an
//! edit (the triggers dropped first), or that recorded segments vanished from the index
//! without retention's record of them.
//!
//! A checkpoint signs (Ed25519, the workstation's key) the newest audit row (id and hash)
//! and a digest of the segments indexed since the previous checkpoint (ids, files, SHA-256),
//! counting segments retention retired (`segment_retired`) so the digest still checks after
//! their files are gone. Each checkpoint is also entered in the audit chain
//! (`audit_checkpoint`), so cutting the file short is seen against the log, and the next
//! checkpoint covers that row.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::{KeyTrust, TrustStore};
use crate::{RecError, Result};

/// The checkpoint file beside a log: `matthan.db` → `matthan.checkpoints`.
pub fn path_for(db: &Path) -> PathBuf {
    db.with_extension("checkpoints")
}

/// One signed checkpoint (one line of the file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// 1, 2, … in the order written.
    pub seq: u64,
    /// The newest audit row when it was made, and its row hash.
    pub audit_id: i64,
    pub audit_row_sha256: String,
    /// Segments with ids in (`segments_from`, `segments_to`] of the recordings' index, and
    /// the SHA-256 of their lines (see [`segment_digest`]); all 0 / "" without an index.
    pub segments_from: i64,
    pub segments_to: i64,
    pub segments_sha256: String,
    pub at_ms: i64,
    /// ISO 8601 with the offset, for a person reading the file.
    pub at: String,
    /// The signing workstation's public key (hex) and the signature (hex) over
    /// [`Checkpoint::signed_text`].
    pub public_key: String,
    pub signature: String,
}

impl Checkpoint {
    /// What is signed: every field but the signature, one per line.
    pub fn signed_text(&self) -> String {
        format!(
            "matthan-checkpoint-v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
            self.seq,
            self.audit_id,
            self.audit_row_sha256,
            self.segments_from,
            self.segments_to,
            self.segments_sha256,
            self.at_ms,
            self.public_key
        )
    }

    fn verify_signature(&self) -> std::result::Result<[u8; 32], String> {
        let key: [u8; 32] = hex::decode(&self.public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("the public key is not 64 hex digits")?;
        let sig: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("the signature is not 128 hex digits")?;
        VerifyingKey::from_bytes(&key)
            .map_err(|_| "the public key is not a valid Ed25519 key".to_string())?
            .verify(self.signed_text().as_bytes(), &Signature::from_bytes(&sig))
            .map_err(|_| "the signature does not match (the line was edited)".to_string())?;
        Ok(key)
    }
}

/// SHA-256 over the index's segments with ids in (`from`, `to`], live or retired, one line
/// each: `id|camera|start_ms|end_ms|frames|bytes|file|sha256`.
pub fn segment_digest(index: &Connection, from: i64, to: i64) -> rusqlite::Result<(String, i64)> {
    let mut s = index.prepare(
        "SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256 FROM segment WHERE id > ?1 AND id <= ?2
         UNION ALL
         SELECT id, camera_id, start_ms, end_ms, frames, bytes, file, sha256 FROM segment_retired
            WHERE id > ?1 AND id <= ?2 AND id NOT IN (SELECT id FROM segment)
         ORDER BY id",
    )?;
    let mut rows = s.query(params![from, to])?;
    let mut h = Sha256::new();
    let mut n = 0i64;
    while let Some(r) = rows.next()? {
        let line = format!(
            "{}|{}|{}|{}|{}|{}|{}|{}\n",
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, String>(7)?
        );
        h.update(line.as_bytes());
        n += 1;
    }
    Ok((hex::encode(h.finalize()), n))
}

/// A read-only connection to the log, for [`sign_and_append`] off the store thread.
pub fn open_log(path: &Path) -> Result<Connection> {
    open_read_only(path).map_err(|e| RecError::Invalid(format!("{}: {e}", path.display())))
}

fn open_index(path: &Path) -> Result<Connection> {
    open_read_only(path).map_err(index_err(path))
}

fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(c)
}

/// What became of an audit row someone kept a record of (a checkpoint, an archive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowNow {
    /// Still there with the same hash.
    Same,
    /// There with another hash: the chain up to it was rewritten.
    Differs,
    /// Gone: the newest rows were deleted.
    Gone,
}

/// Compares audit row `id` of the log with the hash recorded for it.
pub fn audit_row_now(log: &Connection, id: i64, row_sha256: &str) -> Result<RowNow> {
    let now: Option<String> = log
        .query_row(
            "SELECT row_sha256 FROM audit_log WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| RecError::Invalid(format!("reading the audit log: {e}")))?;
    Ok(match now {
        None => RowNow::Gone,
        Some(h) if h != row_sha256 => RowNow::Differs,
        Some(_) => RowNow::Same,
    })
}

fn index_err(path: &Path) -> impl Fn(rusqlite::Error) -> RecError + '_ {
    move |e| RecError::Index {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// What a checkpoint file holds, and what was wrong with its lines.
#[derive(Debug, Default)]
pub struct FileContents {
    pub checkpoints: Vec<Checkpoint>,
    pub problems: Vec<String>,
}

/// Reads a checkpoint file; a damaged line is a problem, not an error.
pub fn read(path: &Path) -> Result<FileContents> {
    match std::fs::File::open(path) {
        Ok(f) => parse(f, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileContents::default()),
        Err(e) => Err(RecError::io(path, e)),
    }
}

fn parse(f: impl std::io::Read, path: &Path) -> Result<FileContents> {
    let mut out = FileContents::default();
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| RecError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Checkpoint>(&line) {
            Ok(c) => out.checkpoints.push(c),
            Err(e) => out.problems.push(format!(
                "{} line {}: not a checkpoint ({e}); the file was cut or edited",
                path.display(),
                n + 1
            )),
        }
    }
    Ok(out)
}

/// The checkpoints the log itself recorded (`audit_checkpoint` rows): (audit row id, seq).
fn recorded(log: &Connection) -> Result<Vec<(i64, u64)>> {
    let mut s = log
        .prepare("SELECT id, subject FROM audit_log WHERE action = 'audit_checkpoint' ORDER BY id")
        .map_err(|e| RecError::Invalid(format!("reading the audit log: {e}")))?;
    let rows: Vec<(i64, String)> = s
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|it| it.collect())
        .map_err(|e| RecError::Invalid(format!("reading the audit log: {e}")))?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, subj)| {
            let seq = subj.strip_prefix("seq=")?.split(';').next()?.parse().ok()?;
            Some((id, seq))
        })
        .collect())
}

impl Checkpoint {
    /// The subject of the `audit_checkpoint` row that enters this checkpoint in the chain.
    pub fn audit_subject(&self) -> String {
        format!(
            "seq={};row={};segments={}",
            self.seq, self.audit_id, self.segments_to
        )
    }
}

/// A checkpoint of the log's audit chain, on any connection to the log (the workstation runs it on a
/// thread of its own with a read-only one, so the store thread is not held up): reads the
/// chain's head, digests the new segments, signs, appends the line and fsyncs. The caller
/// enters the checkpoint in the chain ([`Checkpoint::audit_subject`]).
pub fn sign_and_append(
    log: &Connection,
    index: Option<&Path>,
    key: &SigningKey,
    file: &Path,
) -> Result<Option<Checkpoint>> {
    // The file is opened and locked first (flock: other threads and processes — the 15-minute
    // timer, an export, `matthan audit checkpoint` — wait here), so two checkpoints never
    // read the same last line and write the same number.
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o644);
    let mut f = opts.open(file).map_err(|e| RecError::io(file, e))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this function owns; released when `f` is closed.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(RecError::io(file, std::io::Error::last_os_error()));
        }
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut bytes).map_err(|e| RecError::io(file, e))?;
    let last = parse(bytes.as_slice(), file)?.checkpoints.pop();
    let head: Option<(i64, String)> = log
        .query_row(
            "SELECT id, row_sha256 FROM audit_log ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|e| RecError::Invalid(format!("reading the audit log: {e}")))?;
    let Some((audit_id, audit_row_sha256)) = head else {
        return Ok(None);
    };
    let segments_from = last.as_ref().map_or(0, |c| c.segments_to);
    let (segments_to, segments_sha256) = if let Some(ix) = index.filter(|p| p.exists()) {
        let c = open_index(ix)?;
        let max: i64 = c
            .query_row(
                "SELECT ifnull(max(m), 0) FROM (SELECT max(id) AS m FROM segment UNION ALL SELECT max(id) FROM segment_retired)",
                [],
                |r| r.get(0),
            )
            .map_err(index_err(ix))?;
        let to = max.max(segments_from);
        (
            to,
            segment_digest(&c, segments_from, to)
                .map_err(index_err(ix))?
                .0,
        )
    } else {
        (segments_from, String::new())
    };
    let recorded = recorded(log)?;
    if let Some(l) = &last {
        // The previous checkpoint's own audit row is the only change: nothing new to sign.
        let only_checkpoint_row =
            l.audit_id + 1 == audit_id && recorded.last().is_some_and(|r| r.0 == audit_id);
        if (l.audit_id == audit_id || only_checkpoint_row) && l.segments_to == segments_to {
            return Ok(None);
        }
    }
    // Numbered after both the file's last whole line and the log's last record of one (a
    // checkpoint whose line is in the file but whose audit row is not yet, or the other way
    // round after a crash, keeps its number).
    let seq = last
        .as_ref()
        .map_or(0, |c| c.seq)
        .max(recorded.iter().map(|r| r.1).max().unwrap_or(0))
        + 1;
    let at_ms = mt_core::time::now_ms();
    let mut c = Checkpoint {
        seq,
        audit_id,
        audit_row_sha256,
        segments_from,
        segments_to,
        segments_sha256,
        at_ms,
        at: mt_core::time::iso(at_ms),
        public_key: hex::encode(key.verifying_key().to_bytes()),
        signature: String::new(),
    };
    c.signature = hex::encode(key.sign(c.signed_text().as_bytes()).to_bytes());
    let mut line = serde_json::to_string(&c).map_err(|e| RecError::Invalid(e.to_string()))? + "\n";
    // A torn last line (a crash mid-append) stays a damaged line of its own; the new one
    // starts on a line of its own.
    if bytes.last().is_some_and(|&x| x != b'\n') {
        line.insert(0, '\n');
    }
    f.write_all(line.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| RecError::io(file, e))?;
    Ok(Some(c))
}

/// What a check against checkpoints found.
#[derive(Debug, Default)]
pub struct Check {
    pub checkpoints: usize,
    /// The newest checkpoint that checked out, if any.
    pub latest_ok: Option<Checkpoint>,
    pub problems: Vec<String>,
}

/// Checks `db` (and the index at `index`) against `checkpoints`: each must be signed by a
/// trusted key, its audit row must still be in the chain with the same hash, its segments
/// must still hash the same; and the log's own record of checkpoints must not name more
/// than the file holds (a file cut short).
pub fn check(
    db: &Connection,
    index: Option<&Path>,
    checkpoints: &[Checkpoint],
    trust: &TrustStore,
    file_label: &str,
    // The file beside the log must hold every checkpoint the log recorded; an older copy
    // kept elsewhere holds only those up to when it was copied.
    complete: bool,
) -> Result<Check> {
    let mut out = Check {
        checkpoints: checkpoints.len(),
        ..Default::default()
    };
    let ix = match index.filter(|p| p.exists()) {
        Some(p) => Some((open_index(p)?, p)),
        None => None,
    };
    if ix.is_none() && checkpoints.iter().any(|c| c.segments_to > c.segments_from) {
        out.problems.push(format!(
            "{file_label}: the checkpoints cover recorded segments, but there is no recordings index{} to check them against (deleted or moved?)",
            index.map(|p| format!(" at {}", p.display())).unwrap_or_default()
        ));
    }
    let when = |c: &Checkpoint| mt_core::time::show(c.at_ms);
    for c in checkpoints {
        let mut ok = true;
        match c.verify_signature() {
            Err(e) => {
                out.problems.push(format!(
                    "{file_label}: checkpoint {} ({}): {e}",
                    c.seq,
                    when(c)
                ));
                continue;
            }
            Ok(key) => {
                if matches!(trust.lookup(&key), KeyTrust::Unknown) {
                    out.problems.push(format!(
                        "{file_label}: checkpoint {} is signed by a key this workstation does not trust ({})",
                        c.seq,
                        crate::keys::fingerprint(&key)
                    ));
                    continue;
                }
            }
        }
        let problem = match audit_row_now(db, c.audit_id, &c.audit_row_sha256)? {
            RowNow::Same => None,
            RowNow::Gone => Some(format!(
                "audit_log row {} is gone, but checkpoint {} of {} signed it: the newest rows were deleted",
                c.audit_id,
                c.seq,
                when(c)
            )),
            RowNow::Differs => Some(format!(
                "audit_log row {} differs from checkpoint {} of {}: the chain up to it was rewritten",
                c.audit_id,
                c.seq,
                when(c)
            )),
        };
        if let Some(p) = problem {
            ok = false;
            out.problems.push(p);
        }
        if let Some((conn, p)) = &ix {
            if c.segments_to > c.segments_from {
                let (d, n) =
                    segment_digest(conn, c.segments_from, c.segments_to).map_err(index_err(p))?;
                if d != c.segments_sha256 {
                    ok = false;
                    out.problems.push(format!(
                        "recordings index: segments {}..{} differ from checkpoint {} of {} ({n} found): a segment was removed or edited without retention's record",
                        c.segments_from + 1,
                        c.segments_to,
                        c.seq,
                        when(c)
                    ));
                }
            }
        }
        if ok {
            out.latest_ok = Some(c.clone());
        }
    }
    // The log's own record of the checkpoints it made: the file must hold them all.
    let recorded = recorded(db)?;
    let have: std::collections::HashSet<u64> = checkpoints.iter().map(|c| c.seq).collect();
    let missing: Vec<String> = recorded
        .iter()
        .filter(|(_, seq)| !have.contains(seq))
        .map(|(id, seq)| format!("{seq} (audit_log row {id})"))
        .collect();
    if complete && !missing.is_empty() {
        out.problems.push(format!(
            "{file_label}: the log recorded checkpoints the file does not hold: {}; the file was cut short or replaced",
            missing.join(", ")
        ));
    }
    Ok(out)
}
