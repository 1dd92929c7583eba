//! `matthan-bench map`: frame preparation, hit-testing and coverage with N generated cameras
//! over the district's OpenStreetMap data.

use std::time::Instant;

use anyhow::{bail, Context as _};

use crate::measure::*;

/// `matthan-bench map`: the district data with `n` generated cameras. Frame preparation
/// (egui layout + our shapes + tessellation) against an empty frame, R*-tree hit-testing
/// against a linear scan, coverage with the index against brute force; all in this process.
pub fn map(n: usize, map_dir: &std::path::Path) -> anyhow::Result<()> {
    use geo::Contains;
    use mt_map::{coverage, MapData, SiteIndex};
    let tmp = std::env::temp_dir().join(format!("matthan-bench-map-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let toml = tmp.join("map.toml");
    mt_map::layer::write_osm_map_file(map_dir, &toml)
        .with_context(|| format!("{}: the shared map data", map_dir.display()))?;
    let t = Instant::now();
    let (data, errors) = MapData::load(&toml)?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    if !errors.is_empty() {
        bail!("map data errors: {errors:?}");
    }
    let district = data
        .features(mt_map::Kind::Area)
        .find_map(|f| match &f.geom {
            geo::Geometry::Polygon(p) => Some(p.clone()),
            _ => None,
        })
        .context("no district polygon")?;
    let (lo, hi) = data.bounds().context("empty map")?;
    let mut rng = fastrand::Rng::with_seed(7);
    let mut sites = Vec::with_capacity(n);
    while sites.len() < n {
        let c = geo::Coord {
            x: lo.x + rng.f64() * (hi.x - lo.x),
            y: lo.y + rng.f64() * (hi.y - lo.y),
        };
        if !district.contains(&geo::Point(c)) {
            continue;
        }
        let (lon, lat) = mt_map::merc_to_lonlat(c);
        sites.push(mt_core::CameraSite {
            id: format!("cam-{:04}", sites.len()),
            name: format!("Camera {}", sites.len()),
            lat_deg: lat,
            lon_deg: lon,
            heading_deg: rng.f64() * 360.0,
            fov_deg: 60.0 + rng.f64() * 60.0,
            range_m: 20.0 + rng.f64() * 40.0,
            ..Default::default()
        });
    }
    // A generated street grid (every 150 m) inside the district: the real extract has only
    // Ring Road 3, too little to load the coverage computation.
    let mut grid = Vec::new();
    let step = 150.0 / mt_map::proj::ground_scale((lo.y + hi.y) / 2.0);
    let mut push_line = |a: geo::Coord, b: geo::Coord, name: String| {
        let k = ((b.x - a.x).abs().max((b.y - a.y).abs()) / (step / 3.0)).ceil() as usize;
        let mut run = Vec::new();
        for i in 0..=k {
            let c = geo::Coord {
                x: a.x + (b.x - a.x) * i as f64 / k as f64,
                y: a.y + (b.y - a.y) * i as f64 / k as f64,
            };
            if district.contains(&geo::Point(c)) {
                run.push(c);
            } else if run.len() > 1 {
                grid.push(coverage::Road {
                    name: name.clone(),
                    coords: std::mem::take(&mut run),
                });
            } else {
                run.clear();
            }
        }
        if run.len() > 1 {
            grid.push(coverage::Road { name, coords: run });
        }
    };
    let mut y = lo.y;
    while y < hi.y {
        push_line(
            geo::Coord { x: lo.x, y },
            geo::Coord { x: hi.x, y },
            format!("y{y:.0}"),
        );
        y += step;
    }
    let mut x = lo.x;
    while x < hi.x {
        push_line(
            geo::Coord { x, y: lo.y },
            geo::Coord { x, y: hi.y },
            format!("x{x:.0}"),
        );
        x += step;
    }
    let grid_km: f64 = grid
        .iter()
        .map(|r| coverage::length_m(&r.coords))
        .sum::<f64>()
        / 1000.0;

    // Hit-testing: 20,000 clicks near random cameras.
    let index = SiteIndex::build(&sites);
    let clicks: Vec<geo::Coord> = (0..20_000)
        .map(|_| {
            let s = &sites[rng.usize(..sites.len())];
            let c = mt_map::lonlat_to_merc(s.lon_deg, s.lat_deg);
            geo::Coord {
                x: c.x + (rng.f64() - 0.5) * 10.0,
                y: c.y + (rng.f64() - 0.5) * 10.0,
            }
        })
        .collect();
    let time_each = |f: &mut dyn FnMut(geo::Coord) -> Option<usize>| -> (f64, usize) {
        let t = Instant::now();
        let mut found = 0;
        for c in &clicks {
            found += f(*c).is_some() as usize;
        }
        (t.elapsed().as_secs_f64() * 1e6 / clicks.len() as f64, found)
    };
    let (rstar_us, found_a) = time_each(&mut |c| index.hit(c, 12.0));
    let (linear_us, found_b) = time_each(&mut |c| mt_map::sites::hit_linear(&sites, c, 12.0));
    if found_a != found_b {
        bail!("hit-test disagreement: R*-tree {found_a}, linear {found_b}");
    }

    // Coverage.
    let roads = data.roads();
    let wards = data.wards();
    let timed = |f: &dyn Fn() -> coverage::Coverage| {
        let mut best = f64::MAX;
        let mut out = None;
        for _ in 0..3 {
            let t = Instant::now();
            out = Some(f());
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
        }
        (best, out.expect("ran"))
    };
    let (ring_ms, ring) = timed(&|| coverage::compute(&roads, &sites, &wards, |_| true));
    let (grid_ms, gridc) = timed(&|| coverage::compute(&grid, &sites, &wards, |_| true));
    let (grid_bf_ms, grid_bf) = timed(&|| coverage::compute_brute_force(&grid, &sites, &wards));
    if (gridc.covered_m - grid_bf.covered_m).abs() > 1e-6 * gridc.total_m.max(1.0) {
        bail!(
            "coverage disagreement: indexed {} m, brute force {} m",
            gridc.covered_m,
            grid_bf.covered_m
        );
    }

    // Frame preparation.
    let ctx = egui::Context::default();
    mt_ui::install_fonts(&ctx);
    let tr = mt_ui::Tr::new(mt_ui::Lang::Vi);
    let data = std::sync::Arc::new(data);
    let mut map_ui = mt_ui::map::MapUi::new(data.clone(), Vec::new(), sites.clone());
    let size = egui::vec2(1600.0, 1000.0);
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, size)),
        ..Default::default()
    };
    let by_id = std::collections::HashMap::new();
    let frame = |ctx: &egui::Context, map_ui: &mut mt_ui::map::MapUi, draw_map: bool| -> f64 {
        let t = thread_cpu_secs();
        let out = ctx.run_ui(input(), |ui| {
            egui::CentralPanel::default().show(ui, |ui| {
                if draw_map {
                    let live = mt_ui::map::LiveCameras {
                        cameras: &[],
                        by_id: &by_id,
                        ptz_pan: &Default::default(),
                        second_open: false,
                    };
                    let mut wanted = std::collections::HashSet::new();
                    let mut cmds = Vec::new();
                    map_ui.ui(
                        ui,
                        &tr,
                        &live,
                        None,
                        None,
                        &|c: &str| c.to_owned(),
                        &mut wanted,
                        &mut cmds,
                    );
                } else {
                    ui.label("Mắt Thần");
                }
            });
        });
        let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
        let mut deltas = out.textures_delta;
        deltas.clear();
        (thread_cpu_secs() - t) * 1e3
    };
    for _ in 0..3 {
        frame(&ctx, &mut map_ui, true);
        frame(&ctx, &mut map_ui, false);
    }
    let fit = map_ui.view.expect("first frame sets the view");
    let mut rows = Vec::new();
    for (label, mpp) in [
        ("whole district", fit.mpp),
        ("ward (3 m/pt)", 3.0),
        ("street (0.5 m/pt)", 0.5),
    ] {
        map_ui.view = Some(mt_map::View {
            center: fit.center,
            mpp,
        });
        let first = frame(&ctx, &mut map_ui, true);
        let mut empty = Vec::new();
        let mut full = Vec::new();
        for i in 0..200 {
            if let Some(v) = map_ui.view.as_mut() {
                // Pan a little each frame: the cached base mesh is translated, not rebuilt.
                v.pan(if i % 2 == 0 { 1.0 } else { -1.0 }, 0.0);
            }
            full.push(frame(&ctx, &mut map_ui, true));
            empty.push(frame(&ctx, &mut map_ui, false));
        }
        full.sort_by(f64::total_cmp);
        empty.sort_by(f64::total_cmp);
        let p = |v: &[f64], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        rows.push((label, first, p(&full, 0.5), p(&full, 0.99), p(&empty, 0.5)));
    }
    println!(
        "map data: {} layers loaded in {load_ms:.1} ms; {n} generated cameras inside the district",
        data.layers.len()
    );
    println!();
    println!("| map frame (1600×1000, {n} cameras) | first frame (builds cache) ms | p50 ms | p99 ms | empty frame p50 ms | ratio p50 |");
    println!("|---|---|---|---|---|---|");
    for (label, first, p50, p99, e50) in &rows {
        println!(
            "| {label} | {first:.2} | {p50:.2} | {p99:.2} | {e50:.2} | {:.1} |",
            p50 / e50.max(1e-6)
        );
    }
    println!();
    println!("| hit-test ({n} cameras, 20,000 clicks) | µs per click | ratio to linear scan |");
    println!("|---|---|---|");
    println!("| R*-tree | {rstar_us:.2} | {:.3} |", rstar_us / linear_us);
    println!("| linear scan (baseline) | {linear_us:.2} | 1 |");
    println!();
    println!(
        "| coverage ({n} cameras) | road km | covered | ms (best of 3) | ratio to brute force |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| Ring Road 3 (OSM) | {:.2} | {:.1} % | {ring_ms:.2} | |",
        ring.total_m / 1000.0,
        ring.share() * 100.0
    );
    println!(
        "| 150 m street grid, indexed | {grid_km:.0} | {:.1} % | {grid_ms:.1} | {:.3} |",
        gridc.share() * 100.0,
        grid_ms / grid_bf_ms
    );
    println!("| 150 m street grid, brute force (baseline) | {grid_km:.0} | {:.1} % | {grid_bf_ms:.1} | 1 |", grid_bf.share() * 100.0);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
