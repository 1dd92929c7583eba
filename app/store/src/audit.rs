//! The audit chain: every row's `row_sha256` covers its own fields and the previous row's hash,
//! and `content_sha256` covers the audited record as it was written. [`verify`] recomputes
//! both, so editing or deleting an audit row, or any audited record, behind the app's back
//! (plain SQL) is found and named.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

/// How each kind of audited record is read for hashing (columns in a fixed order).
const KINDS: &[(&str, &str, &str)] = &[
    (
        "operator",
        // Unit and flags (migration 6) are folded into name and role only when set, so
        // officers written before keep their hashes.
        "SELECT id,
                name || CASE WHEN unit = '' THEN '' ELSE char(31) || unit END,
                role || CASE WHEN disabled = 1 THEN char(31) || 'disabled' ELSE '' END
                     || CASE WHEN must_change_pin = 1 THEN char(31) || 'must_change_pin' ELSE '' END,
                pin_argon2, created_ms FROM operator WHERE id = ?1",
        "SELECT id FROM operator",
    ),
    (
        "bookmark",
        // The source (migration 5) is folded into the note's hashed text only when there is
        // one, so bookmarks written before it keep their hashes.
        "SELECT id, camera_id, operator_id, frame_time_ms, pre_ms, post_ms,
                note || ifnull((SELECT ' [' || source || ']' FROM bookmark_source WHERE bookmark_id = ?1), ''),
                snapshot_png, created_ms FROM bookmark WHERE id = ?1",
        "SELECT id FROM bookmark",
    ),
    (
        "incident",
        "SELECT id, title, type_code, status, occurred_ms, ward, lat_deg, lon_deg, created_by, created_ms, updated_ms,
                (SELECT group_concat(camera_id, ',') FROM (SELECT camera_id FROM incident_camera WHERE incident_id = ?1 ORDER BY camera_id)),
                (SELECT group_concat(bookmark_id, ',') FROM (SELECT bookmark_id FROM incident_bookmark WHERE incident_id = ?1 ORDER BY bookmark_id))
         FROM incident WHERE id = ?1",
        "SELECT id FROM incident",
    ),
    ("note", "SELECT id, incident_id, author_id, created_ms, body FROM incident_note WHERE id = ?1", "SELECT id FROM incident_note"),
    (
        "camera_change",
        "SELECT id, at_ms, operator_id, camera_id, action, description FROM camera_change WHERE id = ?1",
        "SELECT id FROM camera_change",
    ),
    (
        "camera_site",
        "SELECT id, name, ward, lat_deg, lon_deg, heading_deg, fov_deg, range_m, planned, owner_kind, owner, address, phone, consent, sharing, installed_on, installed_by, updated_ms, updated_by FROM camera_site WHERE id = ?1",
        "SELECT id FROM camera_site",
    ),
    ("setting", "SELECT key, value, updated_ms, updated_by FROM setting WHERE key = ?1", "SELECT key FROM setting"),
];

/// SHA-256 (hex) of the record named by `subject` ("bookmark:12"), or "" if it does not exist.
pub fn content_hash(conn: &Connection, subject: &str) -> rusqlite::Result<String> {
    let Some((kind, key)) = subject.split_once(':') else {
        return Ok(String::new());
    };
    let Some((_, sql, _)) = KINDS.iter().find(|(k, _, _)| *k == kind) else {
        return Ok(String::new());
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let n = stmt.column_count();
    let hash = stmt
        .query_row(params![key], |r| {
            let mut h = Sha256::new();
            for i in 0..n {
                match r.get_ref(i)? {
                    ValueRef::Null => h.update(b"N"),
                    ValueRef::Integer(v) => h.update(format!("I{v}")),
                    ValueRef::Real(v) => h.update(format!("R{v:?}")),
                    ValueRef::Text(t) => {
                        h.update(format!("T{}:", t.len()));
                        h.update(t);
                    }
                    ValueRef::Blob(b) => {
                        h.update(format!("B{}:", b.len()));
                        h.update(b);
                    }
                }
                h.update([0x1f]);
            }
            Ok(hex::encode(h.finalize()))
        })
        .optional()?;
    Ok(hash.unwrap_or_default())
}

fn row_hash(
    id: i64,
    at_ms: i64,
    operator: &str,
    action: &str,
    subject: &str,
    content: &str,
    prev: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        id.to_string().as_str(),
        &at_ms.to_string(),
        operator,
        action,
        subject,
        content,
        prev,
    ] {
        h.update(part.len().to_string());
        h.update(b":");
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// Appends one audit row, linked to the last one. Call inside the transaction of the change.
pub fn append(
    conn: &Connection,
    at_ms: i64,
    operator: &str,
    action: &str,
    subject: &str,
    content: &str,
) -> rusqlite::Result<i64> {
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, row_sha256 FROM audit_log ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (id, prev) = match last {
        Some((id, h)) => (id + 1, h),
        None => (1, String::new()),
    };
    let hash = row_hash(id, at_ms, operator, action, subject, content, &prev);
    conn.execute(
        "INSERT INTO audit_log (id, at_ms, operator_id, action, subject, content_sha256, prev_sha256, row_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![id, at_ms, operator, action, subject, content, prev, hash],
    )?;
    Ok(id)
}

/// What `audit verify` found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub rows_checked: usize,
    pub records_checked: usize,
    /// Every problem, in order; the first is the first broken link.
    pub problems: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub fn verify(conn: &Connection) -> rusqlite::Result<Report> {
    let mut rep = Report::default();
    let mut stmt = conn.prepare("SELECT id, at_ms, operator_id, action, subject, content_sha256, prev_sha256, row_sha256 FROM audit_log ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut expect_id = 1i64;
    let mut prev_hash = String::new();
    // subject → (audit row id, content hash) of the latest row about it
    let mut latest: HashMap<String, (i64, String)> = HashMap::new();
    while let Some(r) = rows.next()? {
        let (id, at, op, action, subject, content, prev, hash): (
            i64,
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
        ) = (
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
        );
        rep.rows_checked += 1;
        if id != expect_id {
            rep.problems.push(if id > expect_id {
                format!(
                    "audit_log rows {expect_id}..{} are missing (deleted)",
                    id - 1
                )
            } else {
                format!("audit_log row {id} is out of order")
            });
        } else if prev != prev_hash {
            rep.problems.push(format!("audit_log row {id}: link to the previous row is broken (a row before it was edited or replaced)"));
        }
        if row_hash(id, at, &op, &action, &subject, &content, &prev) != hash {
            rep.problems.push(format!(
                "audit_log row {id} ({action} {subject}) was edited"
            ));
        }
        if action.ends_with("_delete") {
            // A deletion the app made (and audited): the record is meant to be gone.
            latest.remove(&subject);
        } else if !content.is_empty() {
            latest.insert(subject.clone(), (id, content));
        }
        expect_id = id + 1;
        prev_hash = hash;
    }
    // Every audited record must still be as the audit last saw it, and every record audited.
    let mut by_subject: BTreeMap<String, (i64, String)> = latest.into_iter().collect();
    for (kind, _, list_sql) in KINDS {
        let mut s = conn.prepare(list_sql)?;
        let keys: Vec<String> = s
            .query_map([], |r| {
                Ok(match r.get_ref(0)? {
                    ValueRef::Integer(i) => i.to_string(),
                    ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    _ => String::new(),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        for key in keys {
            let subject = format!("{kind}:{key}");
            rep.records_checked += 1;
            match by_subject.remove(&subject) {
                None => rep.problems.push(format!(
                    "{subject} has no audit record (written behind the app's back)"
                )),
                Some((audit_id, want)) => {
                    if content_hash(conn, &subject)? != want {
                        rep.problems.push(format!("{subject} was edited behind the app's back (last audited in audit_log row {audit_id})"));
                    }
                }
            }
        }
    }
    for (subject, (audit_id, _)) in by_subject {
        rep.problems.push(format!(
            "{subject} was deleted behind the app's back (audited in audit_log row {audit_id})"
        ));
    }
    Ok(rep)
}
