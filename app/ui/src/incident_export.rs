//! An export request for an incident of the log: its cameras, its time range (bookmark
//! windows, else ±1 minute around its time), the incident with notes and bookmarks, and the
//! bookmark stills.

use serde_json::json;

use mt_record::export::ExportRequest;

/// An export of incident `id`: its cameras, from each bookmark's window start to the last
/// window's end (or ±1 minute around the incident's time), the incident with its notes and
/// bookmarks, and the stills.
pub fn request(
    db: &mt_store::Db,
    id: i64,
    operator: &str,
    workstation: &str,
) -> Result<ExportRequest, mt_store::StoreError> {
    let d = db.incident_detail(id)?;
    let mut from = d.incident.occurred_ms - 60_000;
    let mut to = d.incident.occurred_ms + 60_000;
    let mut bookmarks = Vec::new();
    let mut attachments = Vec::new();
    let mut cameras = d.cameras.clone();
    for b in &d.bookmark_ids {
        let row = db.conn().query_row(
            "SELECT camera_id, operator_id, frame_time_ms, pre_ms, post_ms, note, created_ms FROM bookmark WHERE id = ?1",
            [b],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            },
        )
        .map_err(|e| mt_store::StoreError::Invalid(format!("bookmark {b}: {e}")))?;
        let (cam, op, t, pre, post, note, created) = row;
        if bookmarks.is_empty() {
            from = t - pre;
            to = t + post;
        } else {
            from = from.min(t - pre);
            to = to.max(t + post);
        }
        if !cameras.contains(&cam) {
            cameras.push(cam.clone());
        }
        bookmarks.push(json!({
            "id": b, "camera_id": cam, "operator_id": op, "frame_time_ms": t,
            "frame_time": mt_core::time::iso(t),
            "pre_ms": pre, "post_ms": post, "note": note, "created_ms": created,
            "created": mt_core::time::iso(created),
            "snapshot": format!("snapshots/bookmark-{b}.png"),
        }));
        if let Some(png) = db.bookmark_snapshot(*b)? {
            attachments.push((format!("snapshots/bookmark-{b}.png"), png));
        }
    }
    let i = &d.incident;
    let incident = json!({
        "id": i.id, "title": i.title, "type_code": i.type_code, "status": i.status.as_str(),
        "occurred_ms": i.occurred_ms, "occurred": mt_core::time::iso(i.occurred_ms),
        "ward": i.ward, "created_by": i.created_by,
        "lat_deg": d.lat_deg, "lon_deg": d.lon_deg, "cameras": d.cameras,
        "notes": d.notes.iter().map(|n| json!({
            "id": n.id, "author_id": n.author_id, "created_ms": n.created_ms,
            "created": mt_core::time::iso(n.created_ms), "body": n.body,
        })).collect::<Vec<_>>(),
        "bookmarks": bookmarks,
    });
    let audit_head = db
        .audit_head()?
        .map(|(id, row_sha256)| mt_record::export::AuditHead { id, row_sha256 });
    Ok(ExportRequest {
        audit_head,
        cameras,
        from_ms: from,
        to_ms: to,
        incident_id: Some(id),
        incident: Some(incident),
        attachments,
        operator: operator.to_owned(),
        workstation: workstation.to_owned(),
    })
}
