//! Cameras added, edited and removed from the app (supervisors). One store-thread job does
//! the whole change in order: the right is checked, the camera file is written (atomically,
//! refusing a file someone changed since — `mt_core::camedit`), then one transaction appends
//! the `camera_change` row (what the camera became, without its password), updates the
//! registry entry and writes their audit rows. A change the log could not record after the
//! file was written is reported, not hidden ([`CameraChanged::audit_error`]).

use std::path::Path;

use mt_core::camedit::CameraFileEdit;
use mt_core::{CameraConfig, CameraSite};
use rusqlite::params;

use crate::{audit, classify, now_ms, Db, Result, Right};

#[derive(Clone, Debug)]
pub enum CameraChange {
    Add(CameraConfig),
    /// The camera with this config's id, changed (the id itself does not change: recordings,
    /// bookmarks and the registry refer to it).
    Edit(CameraConfig),
    /// Out of the camera file; its recordings, registry entry and history stay.
    Remove(String),
}

impl CameraChange {
    pub fn id(&self) -> &str {
        match self {
            CameraChange::Add(c) | CameraChange::Edit(c) => &c.id.0,
            CameraChange::Remove(id) => id,
        }
    }
    fn action(&self) -> &'static str {
        match self {
            CameraChange::Add(_) => "add",
            CameraChange::Edit(_) => "edit",
            CameraChange::Remove(_) => "remove",
        }
    }
}

/// What a change left.
#[derive(Clone, Debug)]
pub struct CameraChanged {
    /// The cameras of the camera file as written.
    pub cameras: Vec<CameraConfig>,
    /// The whole registry after the change (None: it could not be read back).
    pub sites: Option<Vec<CameraSite>>,
    /// The camera file as written (what the next change must find on disk).
    pub file_text: String,
    /// The file was written but something after it failed: the log could not record the
    /// change, the registry could not be read back, the folder could not be synced.
    pub audit_error: Option<String>,
}

/// What the log keeps of a camera: every field but the password (only whether one is set).
pub fn describe(c: &CameraConfig) -> String {
    let (user, pass) = match &c.credentials {
        Some(cr) => (
            cr.username.as_str(),
            if cr.password.expose().is_empty() {
                "none"
            } else {
                "set"
            },
        ),
        None => ("", "none"),
    };
    format!(
        "name={:?} ward={:?} owner={:?} address={:?} lat={} lon={} heading_deg={} fov_deg={} range_m={} main_url={} sub_url={} transport={:?} username={:?} password={pass} onvif={} ptz={}",
        c.name,
        c.ward,
        c.owner,
        c.address,
        c.lat_deg,
        c.lon_deg,
        c.heading_deg,
        c.fov_deg,
        c.range_m,
        mt_core::redact_url(c.main_url.as_str()),
        c.sub_url
            .as_ref()
            .map(|u| mt_core::redact_url(u.as_str()))
            .unwrap_or_default(),
        c.transport,
        user,
        c.onvif
            .as_ref()
            .map(|u| mt_core::redact_url(u.as_str()))
            .unwrap_or_default(),
        c.ptz,
    )
}

impl Db {
    /// Applies `change` to the camera file at `file` and records it (see the module doc).
    /// `expected`: the file's text the caller's cameras came from; a file that differs was
    /// changed by hand since, and is not written (`EditError::ChangedOnDisk`).
    pub fn change_camera(
        &mut self,
        who: &str,
        file: &Path,
        expected: Option<&str>,
        change: &CameraChange,
    ) -> Result<CameraChanged> {
        self.require(who, Right::ManageCameras)?;
        let mut edit = CameraFileEdit::open_expecting(file, expected.map(str::as_bytes))?;
        match change {
            CameraChange::Add(c) => edit.upsert(None, c),
            CameraChange::Edit(c) => edit.upsert(Some(&c.id.0), c),
            CameraChange::Remove(id) => edit.remove(id),
        }?;
        let saved = edit.save()?;
        // From here the file is written: whatever fails is reported with the change, which
        // the app still applies (it is what the file now says).
        let mut problems: Vec<String> = saved.warning.into_iter().collect();
        if let Err(e) = self.record_camera_change(who, change) {
            problems.push(format!("the log could not record it: {e}"));
        }
        let sites = match self.sites() {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(format!("the registry could not be read back: {e}"));
                None
            }
        };
        let audit_error = (!problems.is_empty()).then(|| problems.join("; "));
        if let Some(e) = &audit_error {
            tracing::error!(
                "camera {}: the camera file was written, but {e}",
                change.id()
            );
        }
        Ok(CameraChanged {
            cameras: saved.cameras,
            sites,
            file_text: saved.text,
            audit_error,
        })
    }

    fn record_camera_change(&mut self, who: &str, change: &CameraChange) -> Result<()> {
        let p = self.path.display().to_string();
        let now = now_ms();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        let description = match change {
            CameraChange::Add(c) | CameraChange::Edit(c) => describe(c),
            CameraChange::Remove(_) => String::new(),
        };
        tx.execute(
            "INSERT INTO camera_change (at_ms, operator_id, camera_id, action, description) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now, who, change.id(), change.action(), description],
        )
        .map_err(|e| classify(&p, e))?;
        let subject = format!("camera_change:{}", tx.last_insert_rowid());
        let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
        audit::append(
            &tx,
            now,
            who,
            &format!("camera_{}", change.action()),
            &subject,
            &content,
        )
        .map_err(|e| classify(&p, e))?;
        if let CameraChange::Add(c) | CameraChange::Edit(c) = change {
            // The registry entry follows the form (a planned site becomes a camera); what
            // only the registry holds (phone, consent, sharing, installer) stays.
            let s = CameraSite::from_config(c);
            let n = tx
                .execute(
                    "UPDATE camera_site SET name = ?2, ward = ?3, lat_deg = ?4, lon_deg = ?5, heading_deg = ?6,
                        fov_deg = ?7, range_m = ?8, owner = ?9, address = ?10, planned = 0,
                        updated_ms = ?11, updated_by = ?12 WHERE id = ?1",
                    params![
                        s.id,
                        s.name,
                        s.ward,
                        s.lat_deg,
                        s.lon_deg,
                        mt_core::site::wrap_heading(s.heading_deg),
                        s.fov_deg,
                        s.range_m,
                        s.owner,
                        s.address,
                        now,
                        who
                    ],
                )
                .map_err(|e| classify(&p, e))?;
            if n == 0 {
                tx.execute(
                    &format!("INSERT INTO camera_site ({}, updated_ms, updated_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)", crate::sites::SITE_COLUMNS),
                    rusqlite::params_from_iter(crate::sites::site_params(&s, now, who)),
                )
                .map_err(|e| classify(&p, e))?;
            }
            let subject = format!("camera_site:{}", s.id);
            let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
            let action = if n == 0 {
                "camera_site_create"
            } else {
                "camera_site_edit"
            };
            audit::append(&tx, now, who, action, &subject, &content)
                .map_err(|e| classify(&p, e))?;
        }
        tx.commit().map_err(|e| classify(&p, e))?;
        self.note_write();
        Ok(())
    }
}
