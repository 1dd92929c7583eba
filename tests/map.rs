//! The district map: projection, GeoJSON and MBTiles loading, hit-testing, coverage, the
//! camera registry in the real SQLite log, and the map UI driven through egui_kittest.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use geo::{Contains, Coord, GeodesicArea, MapCoords, MultiPolygon, Polygon};
use mt_core::CameraSite;
use mt_map::coverage::{self, Road};
use mt_map::proj::{ground_scale, View};
use mt_map::{lonlat_to_merc, merc_to_lonlat, MapData, MapError, SiteIndex};

use crate::util::{assets, camera, wait_for};

/// The shared OpenStreetMap extract, if this machine has it (CI does; a user's clone may not).
fn shared_map_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MATTHAN_SHARED_MAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/map"))
        });
    if dir.join("bac_tu_liem_district_osm.geojson").is_file() {
        Some(dir)
    } else {
        crate::util::cannot_run(&format!(
            "{} does not hold the shared OpenStreetMap extract (set MATTHAN_SHARED_MAP)",
            dir.display()
        ));
        None
    }
}

fn site(id: &str, lat: f64, lon: f64, heading: f64, fov: f64, range: f64) -> CameraSite {
    CameraSite {
        id: id.into(),
        name: id.into(),
        lat_deg: lat,
        lon_deg: lon,
        heading_deg: heading,
        fov_deg: fov,
        range_m: range,
        ..Default::default()
    }
}

#[test]
fn projection_round_trips_within_a_millimetre_and_zoom_keeps_the_point_under_the_pointer() {
    for lat in [-80.0, -45.5, 0.0, 21.0712, 21.105, 60.0, 84.9] {
        for lon in [-179.9, -0.001, 0.0, 105.7862, 179.9] {
            let m = lonlat_to_merc(lon, lat);
            let (lon2, lat2) = merc_to_lonlat(m);
            // 1 mm on the ground is about 1e-8 degrees.
            assert!((lon - lon2).abs() < 1e-8, "{lon},{lat} → {lon2}");
            assert!((lat - lat2).abs() < 1e-8, "{lon},{lat} → {lat2}");
        }
    }
    // The district's scale: 1 Mercator metre is cos(21.07°) ≈ 0.933 ground metres.
    let y = lonlat_to_merc(105.78, 21.07).y;
    assert!((ground_scale(y) - 21.07f64.to_radians().cos()).abs() < 1e-9);

    let mut v = View::new(105.787, 21.071, 2.0);
    let sc = [500.0, 400.0];
    let anchor = [650.0f32, 310.0];
    let before = v.to_world(anchor, sc);
    let back = v.to_screen(before, sc);
    assert!((back[0] - anchor[0]).abs() < 1e-3 && (back[1] - anchor[1]).abs() < 1e-3);
    v.zoom_at(2.5, anchor, sc);
    assert!((v.mpp - 0.8).abs() < 1e-9);
    let after = v.to_world(anchor, sc);
    assert!((after.x - before.x).abs() < 1e-3 && (after.y - before.y).abs() < 1e-3);
}

#[test]
fn hit_test_picks_the_clicked_camera_among_3000_and_agrees_with_a_linear_scan() {
    // 60 × 50 cameras 20 m apart.
    let origin = lonlat_to_merc(105.76, 21.05);
    let k = ground_scale(origin.y);
    let mut sites = Vec::new();
    for r in 0..50 {
        for c in 0..60 {
            let m = Coord {
                x: origin.x + c as f64 * 20.0 / k,
                y: origin.y + r as f64 * 20.0 / k,
            };
            let (lon, lat) = merc_to_lonlat(m);
            sites.push(site(&format!("c{r}-{c}"), lat, lon, 0.0, 90.0, 30.0));
        }
    }
    assert_eq!(sites.len(), 3000);
    let idx = SiteIndex::build(&sites);
    let radius = 6.0 / k; // 6 ground metres
    for i in [0, 1, 59, 60, 1234, 2999] {
        let m = lonlat_to_merc(sites[i].lon_deg, sites[i].lat_deg);
        let click = Coord {
            x: m.x + 3.0 / k,
            y: m.y - 2.0 / k,
        };
        assert_eq!(
            idx.hit(click, radius),
            Some(i),
            "click near {}",
            sites[i].id
        );
    }
    // Half-way between two cameras is 10 m from either: nothing within 6 m.
    let mid = Coord {
        x: origin.x + 10.0 / k,
        y: origin.y + 10.0 / k,
    };
    assert_eq!(idx.hit(mid, radius), None);
    let mut rng = fastrand::Rng::with_seed(3);
    for _ in 0..500 {
        let p = Coord {
            x: origin.x + rng.f64() * 1200.0 / k,
            y: origin.y + rng.f64() * 1000.0 / k,
        };
        assert_eq!(
            idx.hit(p, radius),
            mt_map::sites::hit_linear(&sites, p, radius)
        );
    }
}

/// A 200 m east–west road at 21.07° N with its middle at `x0`, and two wards meeting there.
fn straight_road() -> (Vec<Road>, Vec<(String, MultiPolygon)>, Coord, f64) {
    let o = lonlat_to_merc(105.79, 21.07);
    let k = ground_scale(o.y);
    let at = |x_m: f64, y_m: f64| Coord {
        x: o.x + x_m / k,
        y: o.y + y_m / k,
    };
    let road = Road {
        name: "Đường thẳng".into(),
        coords: vec![at(-100.0, 0.0), at(100.0, 0.0)],
    };
    let rect = |x0: f64, x1: f64| {
        MultiPolygon(vec![Polygon::new(
            vec![
                at(x0, -50.0),
                at(x1, -50.0),
                at(x1, 50.0),
                at(x0, 50.0),
                at(x0, -50.0),
            ]
            .into(),
            vec![],
        )])
    };
    let wards = vec![
        ("Phía Tây".to_string(), rect(-150.0, 0.0)),
        ("Phía Đông".to_string(), rect(0.0, 150.0)),
    ];
    (vec![road], wards, o, k)
}

fn camera_at(
    o: Coord,
    k: f64,
    x_m: f64,
    y_m: f64,
    heading: f64,
    fov: f64,
    range: f64,
) -> CameraSite {
    let (lon, lat) = merc_to_lonlat(Coord {
        x: o.x + x_m / k,
        y: o.y + y_m / k,
    });
    site("cam", lat, lon, heading, fov, range)
}

#[test]
fn coverage_of_a_straight_road_by_one_camera_is_the_hand_computed_length() {
    let (roads, wards, o, k) = straight_road();
    let near = |a: f64, b: f64| (a - b).abs() < 0.05;
    // 10 m north of the road at x = 30 m, facing south, 90°, 50 m: the two 45° edges cut
    // the road 10 m either side → covered x ∈ [20, 40], 20 m.
    let cov = coverage::compute(
        &roads,
        &[camera_at(o, k, 30.0, 10.0, 180.0, 90.0, 50.0)],
        &wards,
        |_| true,
    );
    assert!(near(cov.total_m, 200.0), "total {}", cov.total_m);
    assert!(near(cov.covered_m, 20.0), "covered {}", cov.covered_m);
    assert_eq!(cov.wards.len(), 2);
    assert_eq!(cov.wards[0].name, "Phía Tây");
    assert!(near(cov.wards[0].total_m, 100.0) && near(cov.wards[0].covered_m, 0.0));
    assert!(near(cov.wards[1].total_m, 100.0) && near(cov.wards[1].covered_m, 20.0));
    // Uncovered: x ∈ [-100, 20] (120 m, mostly west) and [40, 100] (60 m, east), longest first.
    assert_eq!(cov.gaps.len(), 2, "{:?}", cov.gaps);
    assert!(near(cov.gaps[0].length_m, 120.0) && cov.gaps[0].ward == "Phía Tây");
    assert!(near(cov.gaps[1].length_m, 60.0) && cov.gaps[1].ward == "Phía Đông");

    // 120° but only 15 m of range: the range binds (√(15²−10²) = 11.18 m each side).
    let cov = coverage::compute(
        &roads,
        &[camera_at(o, k, 30.0, 10.0, 180.0, 120.0, 15.0)],
        &wards,
        |_| true,
    );
    assert!(
        near(cov.covered_m, 2.0 * 125f64.sqrt()),
        "covered {}",
        cov.covered_m
    );
    // A 270° view facing south sees everything below it within range: the road from
    // x = 30 − 48.99 to x = 30 + 48.99, cut at the road's end (x = 100 → no cut) → 97.98 m.
    let cov = coverage::compute(
        &roads,
        &[camera_at(o, k, 30.0, 10.0, 180.0, 270.0, 50.0)],
        &wards,
        |_| true,
    );
    assert!(
        near(cov.covered_m, 2.0 * 2400f64.sqrt()),
        "covered {}",
        cov.covered_m
    );
    // Facing away (north): nothing.
    let cov = coverage::compute(
        &roads,
        &[camera_at(o, k, 30.0, 10.0, 0.0, 90.0, 50.0)],
        &wards,
        |_| true,
    );
    assert!(near(cov.covered_m, 0.0));
    assert!(near(cov.gaps[0].length_m, 200.0));
    // Two overlapping cameras are not counted twice; a planned site counts only when kept.
    let mut planned = camera_at(o, k, 35.0, 10.0, 180.0, 90.0, 50.0);
    planned.planned = true;
    let both = [camera_at(o, k, 30.0, 10.0, 180.0, 90.0, 50.0), planned];
    let before = coverage::compute(&roads, &both, &wards, |s| !s.planned);
    let after = coverage::compute(&roads, &both, &wards, |_| true);
    assert!(near(before.covered_m, 20.0));
    assert!(
        near(after.covered_m, 25.0),
        "union [20,45] = 25 m, got {}",
        after.covered_m
    );
    assert_eq!(coverage::compute_brute_force(&roads, &both, &wards), after);
}

#[test]
fn real_district_outline_is_42_4_km2_and_every_point_of_interest_lies_inside() {
    let Some(dir) = shared_map_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let toml = tmp.path().join("map.toml");
    mt_map::layer::write_osm_map_file(&dir, &toml).unwrap();
    let (data, errors) = MapData::load(&toml).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let district: Polygon = data
        .features(mt_map::Kind::Area)
        .find_map(|f| match &f.geom {
            geo::Geometry::Polygon(p) => Some(p.clone()),
            _ => None,
        })
        .expect("the district outline");
    let lonlat = district.map_coords(|c| {
        let (x, y) = merc_to_lonlat(c);
        Coord { x, y }
    });
    let km2 = lonlat.geodesic_area_unsigned() / 1e6;
    assert!(
        (km2 - 42.4).abs() / 42.4 < 0.02,
        "district area {km2:.2} km²"
    );
    let pois: Vec<_> = data.features(mt_map::Kind::Poi).collect();
    assert_eq!(pois.len(), 213);
    for p in &pois {
        let geo::Geometry::Point(pt) = p.geom else {
            panic!("{} is not a point", p.id)
        };
        assert!(
            district.contains(&pt),
            "{} ({}) outside the district",
            p.name,
            p.id
        );
    }
    // Ring Road 3 through the district: 11 pieces, several kilometres.
    let roads = data.roads();
    assert_eq!(roads.len(), 11);
    let km: f64 = roads
        .iter()
        .map(|r| coverage::length_m(&r.coords))
        .sum::<f64>()
        / 1000.0;
    assert!(
        (5.0..15.0).contains(&km),
        "Ring Road 3 in the district: {km} km"
    );
    assert!(data.attribution.iter().any(|a| a.contains("OpenStreetMap")));
    // The district outline (admin_level 6) is not a ward.
    assert!(data.wards().is_empty());
}

#[test]
fn bad_geojson_gets_an_error_naming_the_file_and_feature_and_the_rest_of_the_map_loads() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","id":"ok-1","properties":{"name":"Chợ"},"geometry":{"type":"Point","coordinates":[105.78,21.07]}},
        {"type":"Feature","id":"lat-wrong","properties":{},"geometry":{"type":"Point","coordinates":[21.07,105.78]}},
        {"type":"Feature","properties":{"name":"không có hình"},"geometry":null},
        {"type":"Feature","id":7,"properties":{},"geometry":{"type":"LineString","coordinates":[[105.78,21.07],[105.79,21.07]]}},
        {"type":"Feature","id":"ok-2","properties":{"name":"Trường"},"geometry":{"type":"Point","coordinates":[105.79,21.071]}}
    ]}"#;
    std::fs::write(dir.path().join("places.geojson"), good).unwrap();
    std::fs::write(
        dir.path().join("roads.geojson"),
        "{\"type\": \"FeatureCollection\",\n \"features\": [ oops ]}",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("map.toml"),
        "[[layer]]\nfile = \"places.geojson\"\nkind = \"poi\"\n\n[[layer]]\nfile = \"roads.geojson\"\nkind = \"road\"\n\n[[layer]]\nfile = \"missing.geojson\"\nkind = \"area\"\n",
    )
    .unwrap();
    let (data, errors) = MapData::load(&dir.path().join("map.toml")).unwrap();
    let places: Vec<_> = data
        .features(mt_map::Kind::Poi)
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(places, ["Chợ", "Trường"], "the good features still load");
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 5, "{text:#?}");
    assert!(matches!(&errors[0], MapError::Feature { index: 2, .. }));
    assert!(
        text[0].contains("places.geojson")
            && text[0].contains("feature #2")
            && text[0].contains("lat-wrong")
            && text[0].contains("longitude"),
        "{}",
        text[0]
    );
    assert!(
        text[1].contains("feature #3") && text[1].contains("no geometry"),
        "{}",
        text[1]
    );
    assert!(
        text[2].contains("feature #4")
            && text[2].contains("id \"7\"")
            && text[2].contains("LineString"),
        "{}",
        text[2]
    );
    assert!(
        matches!(&errors[3], MapError::Json { line: 2, .. }),
        "{}",
        text[3]
    );
    assert!(text[3].contains("roads.geojson:2:"), "{}", text[3]);
    assert!(
        text[4].contains("missing.geojson") && text[4].contains("cannot read"),
        "{}",
        text[4]
    );

    // A map file that is not valid TOML names its line.
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[layer]]\nfile = \"a\"\nkind = \"river\"\n",
    )
    .unwrap();
    let e = MapData::load(&dir.path().join("bad.toml"))
        .err()
        .expect("refused");
    assert!(e.to_string().contains("bad.toml:3"), "{e}");
}

fn png_tile(rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(256, 256, image::Rgba([rgb[0], rgb[1], rgb[2], 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn mbtiles_basemap_serves_tiles_by_xyz_and_bad_files_get_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nen.mbtiles");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE metadata (name TEXT, value TEXT);
         CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
         INSERT INTO metadata VALUES ('name', 'Nền thử'), ('format', 'png'), ('attribution', 'Nền: thử nghiệm');",
    )
    .unwrap();
    let z = 16u8;
    let (x, y) = mt_map::proj::tile_of(lonlat_to_merc(105.787, 21.071), z);
    let tms = (1u32 << z) - 1 - y;
    let red = png_tile([200, 30, 30]);
    conn.execute(
        "INSERT INTO tiles VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![z, x, tms, red],
    )
    .unwrap();
    drop(conn);
    let mb = mt_map::mbtiles::MbTiles::open(&path).unwrap();
    assert_eq!(
        (mb.min_zoom, mb.max_zoom, mb.format.as_str()),
        (16, 16, "png")
    );
    assert_eq!(mb.tile(z, x, y).unwrap().as_deref(), Some(red.as_slice()));
    assert_eq!(mb.tile(z, x + 1, y).unwrap(), None);
    let (lo, hi) = mt_map::proj::tile_bounds(z, x, y);
    let c = lonlat_to_merc(105.787, 21.071);
    assert!(lo.x <= c.x && c.x < hi.x && lo.y < c.y && c.y <= hi.y);

    let garbage = dir.path().join("rac.mbtiles");
    std::fs::write(
        &garbage,
        b"this is not sqlite at all, just text padding it out ......",
    )
    .unwrap();
    let e = mt_map::mbtiles::MbTiles::open(&garbage)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("rac.mbtiles") && e.contains("not a SQLite database"),
        "{e}"
    );
    let empty = dir.path().join("trong.mbtiles");
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE metadata (name TEXT, value TEXT);")
        .unwrap();
    let e = mt_map::mbtiles::MbTiles::open(&empty)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("trong.mbtiles") && e.contains("no `tiles` table"),
        "{e}"
    );

    // Named in a map file, the basemap is loaded and its attribution shown.
    std::fs::write(dir.path().join("map.toml"), "basemap = \"nen.mbtiles\"\n").unwrap();
    let (data, errors) = MapData::load(&dir.path().join("map.toml")).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(data.basemap.is_some());
    assert_eq!(data.attribution, ["Nền: thử nghiệm"]);

    // On the map: the tile is read and decoded on the "map-tiles" thread and then drawn
    // (the rendered pixel at that place is the tile's red over the map's background).
    let mut map = mt_ui::map::MapUi::new(Arc::new(data), vec![], vec![]);
    map.view = Some(View {
        center: c,
        mpp: 2.0,
    });
    let mut h = map_harness(map);
    let red_at_centre = wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        let canvas = h.state().map.as_ref().unwrap().canvas;
        let img = h.render().ok()?;
        let ppp = h.ctx.pixels_per_point();
        let p = canvas.center();
        let px = img.get_pixel((p.x * ppp) as u32, (p.y * ppp) as u32).0;
        let waiting = h.state().map.as_ref()?.basemap.as_ref()?.waiting();
        (px[0] > 120 && px[1] < 80 && px[2] < 80 && waiting == 0).then_some(px)
    });
    assert!(
        red_at_centre.is_some(),
        "the basemap tile is drawn, nothing left waiting"
    );
}

#[test]
fn camera_registry_is_seeded_edited_and_audited_and_a_change_behind_the_apps_back_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = mt_store::Db::open(&dir.path().join("log.db")).unwrap();
    db.add_operator(None, "gs01", "G", mt_store::Role::Supervisor, "135790")
        .unwrap();
    let seed = vec![
        site("xd-001", 21.0712, 105.7862, 90.0, 70.0, 40.0),
        site("xd-002", 21.0731, 105.7889, 180.0, 70.0, 40.0),
    ];
    let sites = db.sync_sites("system", &seed).unwrap();
    assert_eq!(sites, seed);
    // Seeding again does not overwrite what was edited on the map.
    let mut edited = sites[0].clone();
    edited.heading_deg = 135.0;
    edited.owner_kind = mt_core::OwnerKind::Shop;
    edited.phone = "0912 345 678".into();
    edited.sharing = mt_core::Sharing::OnRequest;
    edited.installed_on = "2026-03-15".into();
    db.save_site("gs01", &edited).unwrap();
    let again = db.sync_sites("system", &seed).unwrap();
    assert_eq!(again[0], edited);
    // Planned site: created, then deleted, both audited; the chain still verifies.
    let mut planned = site("ke-hoach-001", 21.0700, 105.7870, 0.0, 90.0, 30.0);
    planned.planned = true;
    db.save_site("gs01", &planned).unwrap();
    assert_eq!(db.sites().unwrap().len(), 3);
    db.delete_planned_site("gs01", "ke-hoach-001").unwrap();
    assert!(
        db.delete_planned_site("gs01", "xd-001").is_err(),
        "real cameras are not deleted"
    );
    assert!(
        db.verify_audit().unwrap().ok(),
        "{:?}",
        db.verify_audit().unwrap().problems
    );
    // Bad values are refused and name the field.
    let mut bad = edited.clone();
    bad.fov_deg = 400.0;
    let e = db.save_site("gs01", &bad).unwrap_err().to_string();
    assert!(e.contains("xd-001") && e.contains("fov_deg"), "{e}");
    // Moving a camera with plain SQL is found.
    db.conn()
        .execute(
            "UPDATE camera_site SET lat_deg = 21.0 WHERE id = 'xd-002'",
            [],
        )
        .unwrap();
    let rep = db.verify_audit().unwrap();
    assert!(
        rep.problems
            .iter()
            .any(|p| p.contains("camera_site:xd-002") && p.contains("edited")),
        "{:?}",
        rep.problems
    );
    let actions: Vec<String> = db
        .conn()
        .prepare("SELECT action FROM audit_log WHERE subject LIKE 'camera_site:%' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        actions,
        [
            "camera_register",
            "camera_register",
            "camera_site_edit",
            "camera_site_create",
            "camera_site_delete"
        ]
    );
}

#[test]
fn plan_exports_as_geojson_with_coverage_before_and_after_and_gaps_longest_first() {
    let (roads, wards, o, k) = straight_road();
    let mut planned = camera_at(o, k, -60.0, 10.0, 180.0, 90.0, 50.0);
    planned.planned = true;
    planned.id = "ke-hoach-001".into();
    let sites = vec![camera_at(o, k, 30.0, 10.0, 180.0, 90.0, 50.0), planned];
    let before = coverage::compute(&roads, &sites, &wards, |s| !s.planned);
    let after = coverage::compute(&roads, &sites, &wards, |_| true);
    let v = mt_map::plan::plan_geojson(&sites, &before, &after, "test");
    // It is GeoJSON the geojson crate reads back.
    let fc: geojson::FeatureCollection = serde_json::from_value(v.clone()).unwrap();
    let kinds: Vec<&str> = fc
        .features
        .iter()
        .map(|f| f.property("kind").and_then(|k| k.as_str()).unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "camera").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "planned_camera").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "field_of_view").count(), 2);
    let gaps: Vec<f64> = fc
        .features
        .iter()
        .filter_map(|f| f.property("length_m").and_then(|l| l.as_f64()))
        .collect();
    assert_eq!(gaps.len(), after.gaps.len());
    assert!(
        gaps.windows(2).all(|w| w[0] >= w[1]),
        "longest first: {gaps:?}"
    );
    let share = |which: &str| v["matthan_plan"][which]["share"].as_f64().unwrap();
    assert!((share("coverage_before") - 0.10).abs() < 0.001);
    assert!((share("coverage_after") - 0.20).abs() < 0.001);
    // Coordinates are [lon, lat].
    let first = &fc.features[0];
    let geojson::GeometryValue::Point { coordinates } = &first.geometry.as_ref().unwrap().value
    else {
        panic!("a point")
    };
    assert!((coordinates[0] - sites[0].lon_deg).abs() < 1e-9);
}

// ---- the map in the workstation (egui_kittest, real wgpu) --------------------------------

use egui_kittest::kittest::Queryable;
use mt_capture::{Capture, Timeouts};
use mt_ui::app::CentralView;
use mt_ui::{MatThanApp, WallLayout, WallState};

/// Three cameras around Xuân Đỉnh (closed port: no server needed) and the demo map.
fn map_app(capture: &Capture, store: Option<&mt_store::thread::StoreThread>) -> MatThanApp {
    let port = mt_capture::sim::free_port();
    let places = [
        ("xd-001", "Ngã tư Xuân Đỉnh", 21.0712, 105.7862, 90.0),
        ("xd-002", "Chợ Xuân Đỉnh", 21.0731, 105.7889, 180.0),
        ("xd-003", "Trường THCS Xuân Đỉnh", 21.0698, 105.7901, 45.0),
    ];
    let configs: Vec<_> = places
        .iter()
        .map(|(id, name, lat, lon, heading)| {
            let mut c = camera(id, &format!("rtsp://127.0.0.1:{port}/{id}"), "");
            c.name = name.to_string();
            c.lat_deg = *lat;
            c.lon_deg = *lon;
            c.heading_deg = *heading;
            c.fov_deg = 70.0;
            c.range_m = 40.0;
            c
        })
        .collect();
    let seed: Vec<CameraSite> = configs.iter().map(CameraSite::from_config).collect();
    let sites = match store {
        Some(s) => s
            .run(move |db| db.sync_sites("system", &seed))
            .unwrap()
            .wait()
            .unwrap(),
        None => seed,
    };
    let handles = configs
        .into_iter()
        .map(|c| capture.start_camera(c).unwrap())
        .collect();
    let (data, errors) = MapData::load(&assets().join("map/map.toml")).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let map = mt_ui::map::MapUi::new(Arc::new(data), vec![], sites);
    let state = WallState {
        layout: WallLayout::G2,
        tiles: vec![None; 4],
        show_health: false,
        view: CentralView::Map,
        ..Default::default()
    };
    MatThanApp::new(&egui::Context::default(), handles, state, None, vec![]).with_map(map)
}

fn click_at(h: &mut egui_kittest::Harness<'static, MatThanApp>, p: egui::Pos2) {
    h.hover_at(p);
    h.run_steps(1);
    h.drag_at(p);
    h.run_steps(1);
    h.drop_at(p);
    h.run_steps(2);
}

#[test]
fn clicking_a_camera_on_the_map_puts_it_on_the_wall() {
    let cap = Capture::new(Timeouts::default()).unwrap();
    let mut h = crate::ui::harness(map_app(&cap, None));
    assert!(
        h.query_by_label("Bản đồ quận").is_some(),
        "the map canvas is shown"
    );
    assert!(h.query_by_label("Ô 1").is_none(), "map only: no wall yet");
    let map = h.state().map.as_ref().unwrap();
    let i = map.site_index("xd-002").unwrap();
    let p = mt_ui::map::site_position(map, i).unwrap();
    assert!(map.canvas.contains(p), "the camera is inside the map");
    click_at(&mut h, p);
    let app = h.state();
    assert_eq!(
        app.state.view,
        CentralView::Split,
        "the wall opens beside the map"
    );
    assert_eq!(app.maximised, Some(app.selected));
    assert_eq!(
        app.state.tiles[app.selected].as_deref(),
        Some("xd-002"),
        "the clicked camera is on the wall"
    );
    assert!(h.query_by_label("Ô 1").is_some());
}

#[test]
fn dragging_the_heading_handle_on_the_map_saves_and_audits_the_new_heading() {
    let cap = Capture::new(Timeouts::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    mt_store::Db::open(&db)
        .unwrap()
        .add_operator(
            None,
            "gs01",
            "Trần Văn Giám",
            mt_store::Role::Supervisor,
            "135790",
        )
        .unwrap();
    let store = mt_store::thread::StoreThread::start(&db).unwrap();
    let app = map_app(&cap, Some(&store));
    let log = mt_ui::log::LogUi::new(store, dir.path().join("exports"));
    let mut h = crate::ui::harness(app.with_log(log));
    crate::ui::settle(&mut h);
    crate::ui::sign_in(&mut h, "gs01", "135790");
    h.get_by_label("Sửa camera").click();
    h.run_steps(2);
    let i = h
        .state()
        .map
        .as_ref()
        .unwrap()
        .site_index("xd-001")
        .unwrap();
    let p = mt_ui::map::site_position(h.state().map.as_ref().unwrap(), i).unwrap();
    click_at(&mut h, p);
    assert_eq!(h.state().map.as_ref().unwrap().selected, Some(i));
    // The officer zooms in on it (1 m per point) to aim it.
    {
        let map = h.state_mut().map.as_mut().unwrap();
        let c = lonlat_to_merc(map.sites[i].lon_deg, map.sites[i].lat_deg);
        map.view = Some(View {
            center: c,
            mpp: 0.4,
        });
    }
    h.run_steps(2);
    // The camera looks east (90°); drag its heading handle to due north of it.
    let (apex, head, _) = mt_ui::map::handle_positions(h.state().map.as_ref().unwrap(), i).unwrap();
    let dist = apex.distance(head);
    assert!(dist > 12.0, "the cone is big enough to grab ({dist} px)");
    let to = apex - egui::vec2(0.0, dist);
    h.hover_at(head);
    h.run_steps(1);
    h.drag_at(head);
    h.run_steps(1);
    for k in 1..=8 {
        h.hover_at(head + (to - head) * (k as f32 / 8.0));
        h.run_steps(1);
    }
    h.drop_at(to);
    h.run_steps(2);
    let shown = h.state().map.as_ref().unwrap().sites[i].heading_deg;
    assert!(
        shown.min(360.0 - shown) <= 2.0,
        "heading on the map {shown}"
    );
    let store = h.state().log.as_ref().unwrap().store();
    let saved = wait_for(Duration::from_secs(5), || {
        let s = store
            .run(|db| db.site("xd-001"))
            .unwrap()
            .wait()
            .unwrap()
            .unwrap();
        (s.heading_deg.min(360.0 - s.heading_deg) <= 2.0).then_some(s)
    });
    assert!(saved.is_some(), "the new heading reached the database");
    let rep = store.run(|db| db.verify_audit()).unwrap().wait().unwrap();
    assert!(rep.ok(), "{:?}", rep.problems);
    let edits: i64 = store
        .run(|db| {
            Ok(db
                .conn()
                .query_row(
                    "SELECT count(*) FROM audit_log WHERE action = 'camera_site_edit' AND subject = 'camera_site:xd-001' AND operator_id = 'gs01'",
                    [],
                    |r| r.get(0),
                )
                .unwrap())
        })
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(edits, 1);
}

#[test]
fn plan_png_export_renders_the_uncovered_streets_in_red_on_lavapipe() {
    let (data, errors) = MapData::load(&assets().join("map/map.toml")).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let data = Arc::new(data);
    let sites = vec![site("xd-001", 21.0712, 105.7862, 90.0, 70.0, 40.0)];
    let after = coverage::compute(&data.roads(), &sites, &data.wards(), |_| true);
    assert!(!after.gaps.is_empty());
    let job = mt_ui::map::PlanImage {
        data,
        sites,
        after,
        title: "Kế hoạch phủ sóng — thử".into(),
        legend: vec![(egui::Color32::RED, "Đoạn chưa phủ".into())],
        view: None,
    };
    let png = job.render_png([800, 600]).expect("rendered");
    let img = image::load_from_memory(&png).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (800, 600));
    let red = img
        .pixels()
        .filter(|p| p[0] > 220 && p[1] < 110 && p[2] < 110)
        .count();
    assert!(red > 500, "uncovered streets drawn in red: {red} pixels");
}

/// Roads of one GeoJSON file of the shared extract, through the map loader.
fn shared_roads(dir: &std::path::Path, files: &[&str]) -> Vec<Road> {
    let tmp = tempfile::tempdir().unwrap();
    let layers: String = files
        .iter()
        .map(|f| {
            let p = std::fs::canonicalize(dir.join(f)).unwrap();
            format!(
                "[[layer]]\nfile = {}\nkind = \"road\"\n\n",
                toml_string(&p.display().to_string())
            )
        })
        .collect();
    let map = tmp.path().join("map.toml");
    std::fs::write(&map, layers).unwrap();
    let (data, errors) = MapData::load(&map).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    data.roads()
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A hand-checked layout on a straight east–west street (point P at its middle):
/// A 30 m west, 10 m north, looking east (90° wide, 60 m): P at bearing 108°, 31.6 m — sees it;
/// B 20 m east, 20 m south, looking north-west (60°, 50 m): P at 315°, 28.3 m — sees it;
/// C 40 m north looking north: P behind it; D 100 m east looking west (40°, 80 m): P 100 m
/// away, out of range, but it sees the street from 20 m east of P; E 100 m west, 30 m north,
/// looking south (60°, 40 m): sees the street 100 m from P.
#[test]
fn trace_lists_the_cameras_that_see_the_point_by_distance_then_those_that_see_the_streets_near_it()
{
    let (roads, _, o, k) = straight_road();
    let sites = vec![
        camera_at(o, k, -30.0, 10.0, 90.0, 90.0, 60.0),
        camera_at(o, k, 20.0, -20.0, 315.0, 60.0, 50.0),
        camera_at(o, k, 0.0, 40.0, 0.0, 60.0, 50.0),
        camera_at(o, k, 100.0, 0.0, 270.0, 40.0, 80.0),
        camera_at(o, k, -100.0, 30.0, 180.0, 60.0, 40.0),
    ];
    let graph = mt_map::streets::StreetGraph::build(&roads);
    let at =
        |t: &mt_map::streets::Traced| (t.site, t.sees_point, (t.distance_m * 10.0).round() / 10.0);
    let only_point: Vec<_> = mt_map::streets::trace(&sites, Some(&graph), o, 0.0)
        .iter()
        .map(at)
        .collect();
    assert_eq!(only_point, vec![(1, true, 28.3), (0, true, 31.6)]);
    let near: Vec<_> = mt_map::streets::trace(&sites, Some(&graph), o, 50.0)
        .iter()
        .map(at)
        .collect();
    assert_eq!(
        near,
        vec![(1, true, 28.3), (0, true, 31.6), (3, false, 20.0)]
    );
    let far: Vec<_> = mt_map::streets::trace(&sites, Some(&graph), o, 120.0)
        .iter()
        .map(at)
        .collect();
    assert_eq!(far.len(), 4, "{far:?}");
    assert_eq!(far[3].0, 4);
    // E sees the street where it is within 30·tan 30° = 17.3 m of its foot: 82.7 m from P
    // (streets are walked in steps of at most 5 m).
    assert!((far[3].2 - 82.7).abs() <= 5.0, "{far:?}");
    // Where P is in each picture: B looks north-west with P dead ahead (the middle).
    let b = mt_map::streets::trace(&sites, Some(&graph), o, 0.0)[0]
        .picture_x
        .unwrap();
    assert!((b - 0.5).abs() < 0.02, "{b}");
}

/// "Next camera": someone leaves the view of a camera looking south onto an east–west street.
/// Leaving at the right edge of its picture they go west (a camera facing south has west on
/// its right); the camera 60 m west is suggested, the one 60 m east is not — and the other way
/// round at the left edge.
#[test]
fn next_camera_follows_the_street_in_the_direction_of_the_movement() {
    let (roads, _, o, k) = straight_road();
    let sites = vec![
        camera_at(o, k, 0.0, 10.0, 180.0, 90.0, 30.0),
        camera_at(o, k, -60.0, 10.0, 180.0, 90.0, 30.0),
        camera_at(o, k, 60.0, 10.0, 180.0, 90.0, 30.0),
    ];
    let graph = mt_map::streets::StreetGraph::build(&roads);
    // 300 m, as the workstation asks: the whole street lies within reach both ways.
    let right: Vec<usize> = mt_map::streets::next_cameras(&sites, &graph, 0, 1.0, 300.0)
        .iter()
        .map(|t| t.site)
        .collect();
    assert_eq!(right, vec![1]);
    let left: Vec<usize> = mt_map::streets::next_cameras(&sites, &graph, 0, 0.0, 300.0)
        .iter()
        .map(|t| t.site)
        .collect();
    assert_eq!(left, vec![2]);
}

/// The real street networks: the whole area's roads of 2017 (395.8 km) and the 2025 streets
/// and alleys of two strips. The graph joins the lines (few pieces), a trace from a real
/// junction walks real streets, and the demo's cameras, placed on the 2017 network, cover a
/// measured share of it (printed for the README).
#[test]
fn street_graph_of_the_real_networks_and_coverage_of_the_2017_network_by_the_demo_cameras() {
    let Some(dir) = shared_map_dir() else { return };
    let roads = shared_roads(&dir, &["bac_tu_liem_roads_2017_osm.geojson"]);
    let total_km: f64 = roads
        .iter()
        .map(|r| coverage::length_m(&r.coords))
        .sum::<f64>()
        / 1e3;
    assert!(
        (total_km - 395.8).abs() < 4.0,
        "2017 network {total_km:.1} km"
    );
    let graph = mt_map::streets::StreetGraph::build(&roads);
    let pieces = graph.components();
    // The extract's 1,256 lines only touch at their ends: joined, they are 15 networks (the
    // main one and islands the box cuts off).
    assert_eq!(
        (graph.nodes.len(), graph.edge_count(), pieces),
        (6_272, 7_051, 15),
        "nodes, edges, pieces"
    );
    // From the middle of the district, 500 m along the streets reaches points no further than
    // 500 m away as the crow flies, and some that far along.
    let p = lonlat_to_merc(105.761, 21.071);
    let start = graph.nearest(p).expect("a street near the centre");
    let walked = graph.walk_points(&start, 500.0, &|_, _| true);
    assert!(walked.len() > 20);
    for (c, d) in &walked {
        assert!(mt_map::proj::ground_distance(start.point, *c) <= d + 1.0);
    }
    let alleys = shared_roads(&dir, &["bac_tu_liem_roads_2025_partial_osm.geojson"]);
    let g25 = mt_map::streets::StreetGraph::build(&alleys);
    assert!(
        g25.edge_count() > 5_000,
        "2025 strips: {} edges",
        g25.edge_count()
    );
    // The demo's cameras, each moved to the nearest point of the 2017 network.
    let demo = demo_sites();
    let placed: Vec<CameraSite> = demo
        .iter()
        .map(|s| {
            let on = graph.nearest(mt_map::sites::site_merc(s)).unwrap();
            let (lon, lat) = merc_to_lonlat(on.point);
            CameraSite {
                lat_deg: lat,
                lon_deg: lon,
                ..s.clone()
            }
        })
        .collect();
    let (covered, total) = mt_map::streets::network_coverage(&placed, &roads);
    eprintln!(
        "COVERAGE of the 2017 network by the {} demo cameras placed on it: {:.2} km of {:.1} km ({:.2} %); graph: {} nodes, {} edges, {pieces} pieces",
        placed.len(),
        covered / 1e3,
        total / 1e3,
        covered / total * 100.0,
        graph.nodes.len(),
        graph.edge_count()
    );
    // Each 40 m, 70° view covers at most ~45 m of a straight street; 16 of them, some
    // overlapping, over a 396 km network.
    assert!(
        (300.0..=16.0 * 80.0).contains(&covered),
        "{covered:.0} m covered"
    );
}

/// The demo's camera sites (`assets/demo/sites.toml`), as the demo configures them (70°, 40 m).
fn demo_sites() -> Vec<CameraSite> {
    let v: toml::Value =
        toml::from_str(&std::fs::read_to_string(assets().join("demo/sites.toml")).unwrap())
            .unwrap();
    v["site"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, s)| CameraSite {
            id: format!("xd-{:03}", i + 1),
            name: s["name"].as_str().unwrap().into(),
            ward: s["ward"].as_str().unwrap().into(),
            lat_deg: s["lat"].as_float().unwrap(),
            lon_deg: s["lon"].as_float().unwrap(),
            heading_deg: s["heading_deg"].as_float().unwrap(),
            fov_deg: 70.0,
            range_m: 40.0,
            ..Default::default()
        })
        .collect()
}

/// The demo map's wards are those formed in 2025, each demo camera lies inside the ward its
/// configuration names (point in polygon on the map's own shapes), and the former wards are
/// searchable: "Xuân Tảo" leads to the new Xuân Đỉnh.
#[test]
fn demo_map_has_the_2025_wards_and_the_cameras_lie_in_theirs() {
    let (data, errors) = MapData::load(&assets().join("map/map.toml")).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let wards = data.wards();
    let names: Vec<&str> = wards.iter().map(|w| w.0.as_str()).collect();
    for w in [
        "Xuân Đỉnh",
        "Đông Ngạc",
        "Nghĩa Đô",
        "Phú Diễn",
        "Phú Thượng",
    ] {
        assert!(names.contains(&w), "{w} in {names:?}");
    }
    for old in ["Xuân Tảo", "Cổ Nhuế 1"] {
        assert!(
            !names.contains(&old),
            "the former ward {old} is not drawn as a ward"
        );
    }
    for s in demo_sites() {
        let p = mt_map::sites::site_merc(&s);
        let inside: Vec<&str> = wards
            .iter()
            .filter(|(_, mp)| mp.contains(&geo::Point::from(p)))
            .map(|w| w.0.as_str())
            .collect();
        assert_eq!(
            inside,
            vec![s.ward.as_str()],
            "{} at {:.4},{:.4}",
            s.name,
            s.lat_deg,
            s.lon_deg
        );
    }
    // The demo's streets meet where they cross (shared vertices): a trace can turn there.
    let g = mt_map::streets::StreetGraph::build(&data.roads());
    assert_eq!(
        g.components(),
        2,
        "the demo streets: the main network and one alley"
    );
    assert!(mt_core::wards::successors("Xuân Tảo").contains(&"Xuân Đỉnh"));
    assert!(mt_core::wards::former_names("Xuân Đỉnh")
        .iter()
        .any(|o| o == "Xuân Tảo"));
}

#[test]
fn the_maps_coverage_comes_from_the_coverage_thread_and_matches_the_computation() {
    let (data, errors) = MapData::load(&assets().join("map/map.toml")).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let mut sites = demo_sites();
    let mut planned = sites[0].clone();
    planned.id = "ke-hoach-001".into();
    planned.planned = true;
    planned.heading_deg = (planned.heading_deg + 180.0) % 360.0;
    sites.push(planned);
    let roads = data.roads();
    let wards = data.wards();
    let want_before = coverage::compute(&roads, &sites, &wards, |s| !s.planned);
    let want_after = coverage::compute(&roads, &sites, &wards, |_| true);
    assert!(
        want_after.covered_m > want_before.covered_m,
        "the planned site adds coverage (else the check below proves nothing)"
    );
    let mut map = mt_ui::map::MapUi::new(Arc::new(data), vec![], sites);
    let ctx = egui::Context::default();
    // Asking does not compute in place: nothing yet on return.
    map.ensure_coverage(&ctx);
    assert!(map.coverage.is_none(), "computed on the asking (UI) thread");
    let got = wait_for(Duration::from_secs(10), || {
        map.ensure_coverage(&ctx);
        map.coverage.clone()
    })
    .expect("the coverage thread answered")
    .0;
    assert_eq!(got, (want_before.clone(), want_after.clone()));
    // The planned site turned twice, the second time while the thread answers the first:
    // the answer is of the last turn (the first change's answer is not the end).
    let i = map.sites.iter().position(|s| s.planned).unwrap();
    map.sites[i].heading_deg = (map.sites[i].heading_deg + 45.0) % 360.0;
    map.sites_changed();
    map.ensure_coverage(&ctx);
    map.sites[i].heading_deg = (map.sites[i].heading_deg + 45.0) % 360.0;
    map.sites_changed();
    let turned = coverage::compute(&map.data.roads(), &map.sites, &map.data.wards(), |_| true);
    let got = wait_for(Duration::from_secs(10), || {
        map.ensure_coverage(&ctx);
        map.coverage.clone().filter(|c| c.1 == turned)
    })
    .expect("the new coverage arrived")
    .0;
    assert_eq!(
        got.0, want_before,
        "the coverage without the plan is unchanged"
    );
}

/// "Xuất GeoJSON" in plan mode: the file is written off the UI thread ("plan-geojson"), then
/// it is in the export folder, whole: readable GeoJSON with a feature per camera at least,
/// and no temporary file left beside it.
#[test]
fn plan_geojson_export_from_the_map_writes_a_readable_file_off_the_ui_thread() {
    let dir = tempfile::tempdir().unwrap();
    let (data, errors) = MapData::load(&assets().join("map/map.toml")).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let mut map = mt_ui::map::MapUi::new(Arc::new(data), vec![], demo_sites());
    map.export_dir = dir.path().join("exports");
    map.mode = mt_ui::map::MapMode::Plan;
    let mut h = map_harness(map);
    h.run_steps(3);
    // The button is at the foot of the plan panel, below its fold: scrolled to, then a
    // pointer click where it is drawn.
    h.get_by_label("Xuất GeoJSON").scroll_to_me();
    h.run_steps(10);
    let at = h.get_by_label("Xuất GeoJSON").rect().center();
    assert!(
        h.ctx.content_rect().contains(at),
        "the button is on screen after scrolling: {at:?}"
    );
    click_at(&mut h, at);
    let file = wait_for(Duration::from_secs(20), || {
        h.run_steps(1);
        let f = std::fs::read_dir(dir.path().join("exports"))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "geojson"))?;
        Some(f)
    })
    .expect("the export is written")
    .0;
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let fc: geojson::FeatureCollection = serde_json::from_value(v).unwrap();
    assert!(
        fc.features.len() >= demo_sites().len(),
        "{} features for {} cameras",
        fc.features.len(),
        demo_sites().len()
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("exports"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file left: {leftovers:?}"
    );
}

/// The app showing only `map` (map view, no cameras, no log), in the kittest harness.
fn map_harness(map: mt_ui::map::MapUi) -> egui_kittest::Harness<'static, MatThanApp> {
    let state = WallState {
        view: CentralView::Map,
        show_health: false,
        ..Default::default()
    };
    let app = MatThanApp::new(&egui::Context::default(), vec![], state, None, vec![]).with_map(map);
    crate::ui::harness(app)
}
