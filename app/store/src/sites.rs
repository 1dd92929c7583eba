//! The community camera registry (`camera_site`) and incidents with a place, for the map.

use mt_core::{CameraSite, OwnerKind, Sharing};
use rusqlite::{params, OptionalExtension, Row};

use crate::{audit, classify, now_ms, Db, Result, Status, StoreError};

pub(crate) const SITE_COLUMNS: &str = "id, name, ward, lat_deg, lon_deg, heading_deg, fov_deg, range_m, planned, owner_kind, owner, address, phone, consent, sharing, installed_on, installed_by";

fn site_from_row(r: &Row<'_>) -> rusqlite::Result<CameraSite> {
    Ok(CameraSite {
        id: r.get(0)?,
        name: r.get(1)?,
        ward: r.get(2)?,
        lat_deg: r.get(3)?,
        lon_deg: r.get(4)?,
        heading_deg: r.get(5)?,
        fov_deg: r.get(6)?,
        range_m: r.get(7)?,
        planned: r.get(8)?,
        owner_kind: OwnerKind::parse(&r.get::<_, String>(9)?).unwrap_or_default(),
        owner: r.get(10)?,
        address: r.get(11)?,
        phone: r.get(12)?,
        consent: r.get(13)?,
        sharing: Sharing::parse(&r.get::<_, String>(14)?).unwrap_or_default(),
        installed_on: r.get(15)?,
        installed_by: r.get(16)?,
    })
}

/// An incident that has a place, for a pin on the map.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentPlace {
    pub id: i64,
    pub title: String,
    pub type_code: String,
    pub status: Status,
    pub occurred_ms: i64,
    pub lat_deg: f64,
    pub lon_deg: f64,
}

impl Db {
    /// Every registry entry, by id.
    pub fn sites(&self) -> Result<Vec<CameraSite>> {
        let p = self.path.display().to_string();
        let mut s = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SITE_COLUMNS} FROM camera_site ORDER BY id"
            ))
            .map_err(|e| classify(&p, e))?;
        let rows = s
            .query_map([], site_from_row)
            .map_err(|e| classify(&p, e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| classify(&p, e))?;
        Ok(rows)
    }

    pub fn site(&self, id: &str) -> Result<Option<CameraSite>> {
        let p = self.path.display().to_string();
        self.conn
            .query_row(
                &format!("SELECT {SITE_COLUMNS} FROM camera_site WHERE id = ?1"),
                [id],
                site_from_row,
            )
            .optional()
            .map_err(|e| classify(&p, e))
    }

    /// Adds the camera-file cameras the registry does not know yet (audited as
    /// `camera_register` by `operator`), then returns the whole registry. Entries already
    /// there keep what was edited on the map.
    pub fn sync_sites(
        &mut self,
        operator: &str,
        cameras: &[CameraSite],
    ) -> Result<Vec<CameraSite>> {
        let p = self.path.display().to_string();
        let now = now_ms();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        for c in cameras {
            if c.validate().is_err() {
                continue;
            }
            let n = tx
                .execute(
                    &format!("INSERT OR IGNORE INTO camera_site ({SITE_COLUMNS}, updated_ms, updated_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"),
                    rusqlite::params_from_iter(site_params(c, now, operator)),
                )
                .map_err(|e| classify(&p, e))?;
            if n > 0 {
                let subject = format!("camera_site:{}", c.id);
                let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
                audit::append(&tx, now, operator, "camera_register", &subject, &content)
                    .map_err(|e| classify(&p, e))?;
            }
        }
        tx.commit().map_err(|e| classify(&p, e))?;
        self.note_write();
        self.sites()
    }

    /// Creates or changes a registry entry (audited as `camera_site_create` or
    /// `camera_site_edit`). Bad values are refused with the field named.
    pub fn save_site(&mut self, operator: &str, site: &CameraSite) -> Result<()> {
        self.require(operator, crate::Right::Registry)?;
        site.validate()
            .map_err(|m| StoreError::Invalid(format!("camera {}: {m}", site.id)))?;
        let p = self.path.display().to_string();
        let now = now_ms();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        let existed: bool = tx
            .query_row(
                "SELECT count(*) FROM camera_site WHERE id = ?1",
                [&site.id],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| classify(&p, e))?
            > 0;
        tx.execute(
            &format!("INSERT OR REPLACE INTO camera_site ({SITE_COLUMNS}, updated_ms, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"),
            rusqlite::params_from_iter(site_params(site, now, operator)),
        )
        .map_err(|e| classify(&p, e))?;
        let subject = format!("camera_site:{}", site.id);
        let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
        let action = if existed {
            "camera_site_edit"
        } else {
            "camera_site_create"
        };
        audit::append(&tx, now, operator, action, &subject, &content)
            .map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))?;
        self.note_write();
        Ok(())
    }

    /// Removes a planned site (audited as `camera_site_delete`). Real cameras are not deleted
    /// here: their sharing is set to "withdrawn" instead, so their history stays.
    pub fn delete_planned_site(&mut self, operator: &str, id: &str) -> Result<()> {
        self.require(operator, crate::Right::Registry)?;
        let p = self.path.display().to_string();
        let now = now_ms();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        let n = tx
            .execute(
                "DELETE FROM camera_site WHERE id = ?1 AND planned = 1",
                [id],
            )
            .map_err(|e| classify(&p, e))?;
        if n == 0 {
            return Err(StoreError::Invalid(format!("no planned site {id}")));
        }
        audit::append(
            &tx,
            now,
            operator,
            "camera_site_delete",
            &format!("camera_site:{id}"),
            "",
        )
        .map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))?;
        self.note_write();
        Ok(())
    }

    /// Incidents with a place that occurred in [from, to) (either bound optional), newest
    /// first, at most `limit`.
    pub fn incident_places(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<IncidentPlace>> {
        let p = self.path.display().to_string();
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT id, title, type_code, status, occurred_ms, lat_deg, lon_deg FROM incident
                 WHERE lat_deg IS NOT NULL AND lon_deg IS NOT NULL
                   AND occurred_ms >= ?1 AND occurred_ms < ?2
                 ORDER BY occurred_ms DESC LIMIT ?3",
            )
            .map_err(|e| classify(&p, e))?;
        let rows = s
            .query_map(
                params![
                    from_ms.unwrap_or(i64::MIN),
                    to_ms.unwrap_or(i64::MAX),
                    limit as i64
                ],
                |r| {
                    Ok(IncidentPlace {
                        id: r.get(0)?,
                        title: r.get(1)?,
                        type_code: r.get(2)?,
                        status: Status::parse(&r.get::<_, String>(3)?).unwrap_or(Status::New),
                        occurred_ms: r.get(4)?,
                        lat_deg: r.get(5)?,
                        lon_deg: r.get(6)?,
                    })
                },
            )
            .map_err(|e| classify(&p, e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| classify(&p, e))?;
        Ok(rows)
    }
}

pub(crate) fn site_params<'a>(
    c: &'a CameraSite,
    now: i64,
    operator: &'a str,
) -> Vec<Box<dyn rusqlite::ToSql + 'a>> {
    vec![
        Box::new(&c.id),
        Box::new(&c.name),
        Box::new(&c.ward),
        Box::new(c.lat_deg),
        Box::new(c.lon_deg),
        Box::new(mt_core::site::wrap_heading(c.heading_deg)),
        Box::new(c.fov_deg),
        Box::new(c.range_m),
        Box::new(c.planned),
        Box::new(c.owner_kind.as_str()),
        Box::new(&c.owner),
        Box::new(&c.address),
        Box::new(&c.phone),
        Box::new(c.consent),
        Box::new(c.sharing.as_str()),
        Box::new(&c.installed_on),
        Box::new(&c.installed_by),
        Box::new(now),
        Box::new(operator),
    ]
}
