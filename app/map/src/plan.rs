//! The coverage plan as GeoJSON: cameras and planned sites with their fields of view, the
//! uncovered stretches (longest first), and the coverage figures before and after the planned
//! sites. Coordinates in WGS84 [lon, lat], as GeoJSON requires.

use geo::{Coord, LineString, Polygon};
use mt_core::CameraSite;
use serde_json::{json, Value};

use crate::coverage::Coverage;
use crate::proj::merc_to_lonlat;
use crate::sites::sector;

fn lonlat(coords: &[Coord]) -> Vec<Coord> {
    coords
        .iter()
        .map(|c| {
            let (x, y) = merc_to_lonlat(*c);
            Coord { x, y }
        })
        .collect()
}

fn geometry(v: geojson::GeometryValue) -> Value {
    serde_json::to_value(geojson::Geometry::new(v)).unwrap_or(Value::Null)
}

fn summary(c: &Coverage) -> Value {
    json!({
        "road_m": round(c.total_m),
        "covered_m": round(c.covered_m),
        "share": (c.share() * 10_000.0).round() / 10_000.0,
        "cameras": c.cameras,
        "wards": c.wards.iter().map(|w| json!({
            "ward": w.name,
            "road_m": round(w.total_m),
            "covered_m": round(w.covered_m),
            "share": (w.share() * 10_000.0).round() / 10_000.0,
        })).collect::<Vec<_>>(),
    })
}

fn round(m: f64) -> f64 {
    (m * 10.0).round() / 10.0
}

/// The plan: `before` is coverage by existing cameras, `after` with the planned sites too.
pub fn plan_geojson(
    sites: &[CameraSite],
    before: &Coverage,
    after: &Coverage,
    app_version: &str,
) -> Value {
    let mut features = Vec::new();
    for s in sites {
        let props = json!({
            "kind": if s.planned { "planned_camera" } else { "camera" },
            "id": s.id,
            "name": s.name,
            "ward": s.ward,
            "heading_deg": s.heading_deg,
            "fov_deg": s.fov_deg,
            "range_m": s.range_m,
            "owner_kind": s.owner_kind.as_str(),
            "sharing": s.sharing.as_str(),
        });
        features.push(json!({
            "type": "Feature",
            "id": s.id,
            "properties": props,
            "geometry": geometry(geojson::GeometryValue::new_point([s.lon_deg, s.lat_deg])),
        }));
        let mut ring = lonlat(&sector(s, 16));
        ring.push(ring[0]);
        let poly = Polygon::new(LineString(ring), vec![]);
        features.push(json!({
            "type": "Feature",
            "id": format!("{}/fov", s.id),
            "properties": { "kind": "field_of_view", "camera": s.id, "planned": s.planned },
            "geometry": geometry(geojson::GeometryValue::from(&poly)),
        }));
    }
    for (rank, g) in after.gaps.iter().enumerate() {
        let ls = LineString(lonlat(&g.coords));
        features.push(json!({
            "type": "Feature",
            "id": format!("gap/{}", rank + 1),
            "properties": {
                "kind": "uncovered",
                "rank": rank + 1,
                "road": g.road,
                "ward": g.ward,
                "length_m": round(g.length_m),
            },
            "geometry": geometry(geojson::GeometryValue::from(&ls)),
        }));
    }
    json!({
        "type": "FeatureCollection",
        "matthan_plan": {
            "schema": 1,
            "app_version": app_version,
            "coverage_before": summary(before),
            "coverage_after": summary(after),
        },
        "features": features,
    })
}
