//! Saved views and camera tours, driven through the UI: a view saved under a name comes back
//! after the layout changed and after a restart (read from the wall-state file), and a tour
//! shows its cameras in turn on the selected tile (their QR codes read from the rendered
//! tile).

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable;
use mt_capture::sim::{SimOptions, SimServer};
use mt_capture::{Capture, Timeouts};
use mt_ui::{MatThanApp, WallLayout, WallState};

use crate::util::{assets, wait_for};

#[test]
fn a_saved_view_comes_back_after_a_layout_change_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("wall.json");
    let cap = Capture::new(Timeouts::default()).unwrap();
    let mut h = crate::ui::harness(crate::ui::app(&cap, Some(state_path.clone())));
    h.get_by_label("Góc nhìn").click();
    h.run_steps(3);
    assert!(h.query_by_label("Chưa có góc nhìn nào.").is_some());
    crate::ui::type_into(
        &mut h,
        egui::Role::TextInput,
        "Tên góc nhìn",
        "Ca đêm — cổng chợ",
    );
    h.get_by_label("Lưu bố cục hiện tại").click();
    h.run_steps(2);
    // Another layout, another camera on tile 1.
    h.get_by_label("3×3").click();
    h.run_steps(2);
    h.state_mut().apply(
        &egui::Context::default(),
        mt_ui::Command::Assign { tile: 0, camera: 2 },
    );
    h.run_steps(1);
    assert_eq!(h.state().state.layout, WallLayout::G3);
    h.get_by_label("Mở “Ca đêm — cổng chợ”").click();
    h.run_steps(2);
    assert_eq!(h.state().state.layout, WallLayout::G2);
    assert_eq!(h.state().state.tiles[0].as_deref(), Some("cam-0"));
    assert!(h.query_by_label("Ô 9").is_none(), "back to 2×2");
    // In the file: a restart lists it.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    assert_eq!(saved["views"][0]["name"], "Ca đêm — cổng chợ");
    assert_eq!(saved["views"][0]["tiles"][0], "cam-0");
    drop(h);
    let cap2 = Capture::new(Timeouts::default()).unwrap();
    let mut app = crate::ui::app(&cap2, Some(state_path.clone()));
    app.state = WallState::load(&state_path).unwrap();
    let mut h = crate::ui::harness(app);
    h.get_by_label("Góc nhìn").click();
    h.run_steps(3);
    assert!(h.query_by_label("Mở “Ca đêm — cổng chợ”").is_some());
    h.get_by_label("Xoá “Ca đêm — cổng chợ”").click();
    h.run_steps(2);
    assert!(h.query_by_label("Chưa có góc nhìn nào.").is_some());
    drop(h);
    // A wall-state file that does not parse is kept aside, not overwritten by the next save.
    std::fs::write(&state_path, "{ \"views\": [ {\"name\": 7 } ] }").unwrap();
    assert!(WallState::load(&state_path).is_none());
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("wall.json.bad-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&kept[0])).unwrap(),
        "{ \"views\": [ {\"name\": 7 } ] }"
    );
}

/// The mounts whose QR codes are readable in `area` of the rendered window.
fn mounts_in(h: &mut egui_kittest::Harness<'static, MatThanApp>, area: egui::Rect) -> Vec<String> {
    crate::util::codes_in(h, area)
        .into_iter()
        .map(|c| c.0)
        .collect()
}

/// The RTSP server with a small live camera (its pictures carry QR codes) at each mount.
pub(crate) fn live_cameras(mounts: &[&str]) -> SimServer {
    let opts = SimOptions {
        mounts: mounts
            .iter()
            .map(|m| {
                (
                    m.to_string(),
                    serde_json::json!({"source": "live", "width": 320, "height": 180, "fps": 15}),
                )
            })
            .collect(),
        ..Default::default()
    };
    SimServer::start_with(&assets(), 0, 1, &opts).expect("the RTSP server starts")
}

#[test]
fn a_tour_shows_its_cameras_in_turn_on_the_selected_tile() {
    let sim = live_cameras(&["/tour/a", "/tour/b", "/tour/c"]);
    let cap = Capture::new(Timeouts::default()).unwrap();
    let handles = [("a", "Cổng chợ"), ("b", "Bãi xe chợ"), ("c", "Ngã tư")]
        .iter()
        .map(|(id, name)| {
            let url = sim.url(&format!("tour/{id}"));
            let mut c = crate::util::camera(id, &url, "");
            c.name = name.to_string();
            cap.start_camera(c).unwrap()
        })
        .collect();
    let state = WallState {
        layout: WallLayout::G2,
        tiles: vec![Some("c".into()), None, None, None],
        show_health: false,
        ..Default::default()
    };
    let app = MatThanApp::new(&egui::Context::default(), handles, state, None, vec![]);
    let mut h = crate::ui::video_harness(app);
    // Tile 2 selected, then the tour of "Cổng chợ" and "Bãi xe chợ", 3 s each.
    h.get_by_label("Ô 2").click();
    h.run_steps(2);
    h.get_by_label("Góc nhìn").click();
    h.run_steps(3);
    assert!(h.query_by_label_contains("Ô 2 (ô đang chọn)").is_some());
    start_tour(&mut h, &["Cổng chợ", "Bãi xe chợ"], "3");
    assert!(h
        .query_by_label_contains("Đang tuần tra trên ô 2")
        .is_some());
    h.get_by_label("Close window").click();
    h.run_steps(2);
    let tile = h.get_by_label("Ô 2").rect();
    // What the tile shows, in order of first appearance: a, b, a again (3 s each).
    let seen = pictures_in_turn(&mut h, tile, 3);
    assert_eq!(
        seen,
        ["/tour/a", "/tour/b", "/tour/a"],
        "the tile's pictures in turn"
    );
    // Tile 1 was not touched by the tour.
    let t1 = h.get_by_label("Ô 1").rect();
    let other = wait_for(Duration::from_secs(5), || {
        h.run_steps(1);
        mounts_in(&mut h, t1).into_iter().next()
    });
    assert_eq!(other.map(|(m, _)| m).as_deref(), Some("/tour/c"));
    // The officer asks for camera c on the tour's tile (as from an incident or the map): the
    // tour ends there, and c stays on it past the tour's dwell time.
    h.get_by_label("Ô 2").click();
    h.run_steps(1);
    h.state_mut().apply(
        &egui::Context::default(),
        mt_ui::Command::ShowCamera("c".into()),
    );
    h.run_steps(1);
    assert!(h.state().state.tour.is_none(), "the tour ended");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(4) {
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(100));
    }
    let tile = h.get_by_label("Ô 2").rect();
    let m = wait_for(Duration::from_secs(5), || {
        h.run_steps(1);
        mounts_in(&mut h, tile).into_iter().next()
    });
    assert_eq!(m.map(|(m, _)| m).as_deref(), Some("/tour/c"));
}

#[test]
fn the_second_screen_shows_a_camera_sent_to_it_and_comes_back_after_a_restart() {
    let sim = live_cameras(&["/hai/a", "/hai/b"]);
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("wall.json");
    let start = |state: WallState| {
        let cap = Capture::new(Timeouts::default()).unwrap();
        let handles = [("a", "Cổng chợ"), ("b", "Bãi xe chợ")]
            .iter()
            .map(|(id, name)| {
                let mut c = crate::util::camera(id, &sim.url(&format!("hai/{id}")), "");
                c.name = name.to_string();
                cap.start_camera(c).unwrap()
            })
            .collect();
        let app = MatThanApp::new(
            &egui::Context::default(),
            handles,
            state,
            Some(state_path.clone()),
            vec![],
        );
        (cap, crate::ui::video_harness(app))
    };
    let (_cap, mut h) = start(WallState {
        layout: WallLayout::G2,
        tiles: vec![Some("a".into()), None, None, None],
        show_health: false,
        ..Default::default()
    });
    h.get_by_label("Mở màn hình phụ").click();
    h.run_steps(3);
    assert!(
        h.query_by_label("Màn hình phụ — Ô 1").is_some(),
        "its own wall"
    );
    // Its own layout: 1×1.
    h.get_by_label("Màn hình phụ 1×1").click();
    h.run_steps(2);
    assert!(h.query_by_label("Màn hình phụ — Ô 2").is_none());
    // "Bãi xe chợ" from the list, by its context menu.
    let p = h.get_by_label("Bãi xe chợ").rect().center();
    h.hover_at(p);
    h.run_steps(1);
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: p,
            button: egui::PointerButton::Secondary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
    }
    h.run_steps(2);
    h.get_by_label("Gửi sang màn hình phụ").click();
    h.run_steps(2);
    let tile = h.get_by_label("Màn hình phụ — Ô 1").rect();
    let shown = wait_for(Duration::from_secs(15), || {
        h.run_steps(1);
        mounts_in(&mut h, tile).into_iter().next()
    });
    assert_eq!(
        shown.map(|(m, _)| m).as_deref(),
        Some("/hai/b"),
        "its picture there"
    );
    // Digital zoom there too: the wheel at the code's corner enlarges the picture around it.
    let code = crate::util::code_rects_in(&mut h, tile)
        .into_iter()
        .next()
        .expect("the code on the second screen")
        .1;
    crate::ui::wheel_at(&mut h, code.min + egui::vec2(3.0, 3.0), 100.0);
    assert!(h.state().second_zoom.contains_key(&0));
    let wider = wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        crate::util::code_rects_in(&mut h, tile)
            .into_iter()
            .map(|c| c.1.width())
            .find(|w| *w > code.width() * 1.3)
    });
    assert!(
        wider.is_some(),
        "the second screen's picture is zoomed ({} px at 1×)",
        code.width()
    );
    // A double-click: the whole picture again.
    for _ in 0..2 {
        h.event(egui::Event::PointerButton {
            pos: code.min + egui::vec2(3.0, 3.0),
            button: egui::PointerButton::Primary,
            pressed: true,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
        h.event(egui::Event::PointerButton {
            pos: code.min + egui::vec2(3.0, 3.0),
            button: egui::PointerButton::Primary,
            pressed: false,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
    }
    h.run_steps(2);
    assert!(h.state().second_zoom.is_empty(), "reset by a double-click");
    // The main wall is as it was.
    let main = h.get_by_label("Ô 1").rect();
    let m = wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        mounts_in(&mut h, main).into_iter().next()
    });
    assert_eq!(m.map(|(m, _)| m).as_deref(), Some("/hai/a"));
    // Saved with the wall: reopened with its camera after a restart.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    assert_eq!(saved["second"]["tiles"][0], "b", "{saved}");
    drop(h);
    let (_cap2, mut h) = start(WallState::load(&state_path).unwrap());
    let tile = h.get_by_label("Màn hình phụ — Ô 1").rect();
    let shown = wait_for(Duration::from_secs(15), || {
        h.run_steps(1);
        mounts_in(&mut h, tile).into_iter().next()
    });
    assert_eq!(shown.map(|(m, _)| m).as_deref(), Some("/hai/b"));
    h.get_by_label("Đóng màn hình phụ").click();
    h.run_steps(2);
    assert!(h.query_by_label("Màn hình phụ — Ô 1").is_none());
    // Opened again: its layout and camera are still there.
    h.get_by_label("Mở màn hình phụ").click();
    h.run_steps(3);
    assert!(
        h.query_by_label("Màn hình phụ — Ô 2").is_none(),
        "still 1×1"
    );
    let tile = h.get_by_label("Màn hình phụ — Ô 1").rect();
    let shown = wait_for(Duration::from_secs(15), || {
        h.run_steps(1);
        mounts_in(&mut h, tile).into_iter().next()
    });
    assert_eq!(shown.map(|(m, _)| m).as_deref(), Some("/hai/b"));
}

#[test]
fn a_streams_textures_are_freed_once_no_view_draws_it_and_made_again_when_one_does() {
    let sim = live_cameras(&["/tex/a", "/tex/b"]);
    let cap = Capture::new(Timeouts::default()).unwrap();
    let handles = ["a", "b"]
        .iter()
        .map(|id| {
            cap.start_camera(crate::util::camera(id, &sim.url(&format!("tex/{id}")), ""))
                .unwrap()
        })
        .collect();
    let state = WallState {
        layout: WallLayout::G2,
        tiles: vec![Some("a".into()), Some("b".into()), None, None],
        show_health: false,
        ..Default::default()
    };
    let app = MatThanApp::new(&egui::Context::default(), handles, state, None, vec![]);
    let (mut h, rs) = crate::ui::video_harness_rs(app);
    let pictures = |rs: &egui_wgpu::RenderState| {
        rs.renderer
            .read()
            .callback_resources
            .get::<mt_render::VideoRenderer>()
            .map(|r| r.picture_count())
            .unwrap_or(0)
    };
    rs.renderer
        .write()
        .callback_resources
        .get_mut::<mt_render::VideoRenderer>()
        .unwrap()
        .set_idle_free(Duration::from_secs(1));
    let tile = h.get_by_label("Ô 1").rect();
    let shown = |h: &mut egui_kittest::Harness<'static, MatThanApp>| {
        wait_for(Duration::from_secs(15), || {
            h.run_steps(1);
            mounts_in(h, tile).into_iter().find(|m| m == "/tex/a")
        })
        .is_some()
    };
    assert!(shown(&mut h), "camera a on tile 1");
    assert_eq!(pictures(&rs), 2, "a and b have their textures");
    // Tile 1 emptied: a's textures go once nothing has drawn them for the idle time.
    h.state_mut()
        .apply(&egui::Context::default(), mt_ui::Command::Unassign(0));
    let freed = wait_for(Duration::from_secs(10), || {
        // Drawn, as the window draws every frame (a view's `prepare` runs when rendering).
        h.run_steps(1);
        let _ = h.render();
        (pictures(&rs) == 1).then_some(())
    });
    assert!(freed.is_some(), "{} pictures held", pictures(&rs));
    // Shown again: made again, and the tile shows a's picture.
    h.state_mut().apply(
        &egui::Context::default(),
        mt_ui::Command::Assign { tile: 0, camera: 0 },
    );
    assert!(shown(&mut h), "camera a on tile 1 again");
    assert_eq!(pictures(&rs), 2);
}

/// In the open views window: ticks `cameras`, sets the seconds per camera, starts the tour.
fn start_tour(h: &mut egui_kittest::Harness<'static, MatThanApp>, cameras: &[&str], secs: &str) {
    for cam in cameras {
        h.get_by_role_and_label(egui::Role::CheckBox, cam).click();
        h.run_steps(1);
    }
    h.get_by_role_and_label(egui::Role::TextInput, "Mỗi camera (giây)")
        .click();
    h.run_steps(1);
    h.key_combination_modifiers(egui::Modifiers::COMMAND, &[egui::Key::A]);
    h.get_by_role_and_label(egui::Role::TextInput, "Mỗi camera (giây)")
        .type_text(secs);
    h.run_steps(1);
    h.get_by_label("Bắt đầu tuần tra").click();
    h.run_steps(2);
}

/// The mounts a tile shows, in the order they first appear (each change once), until `n`
/// are seen or 20 s have passed.
fn pictures_in_turn(
    h: &mut egui_kittest::Harness<'static, MatThanApp>,
    tile: egui::Rect,
    n: usize,
) -> Vec<String> {
    let t0 = Instant::now();
    let mut seen: Vec<String> = Vec::new();
    while t0.elapsed() < Duration::from_secs(20) && seen.len() < n {
        h.run_steps(1);
        if let Some(m) = mounts_in(h, tile).into_iter().next() {
            if seen.last() != Some(&m) {
                seen.push(m);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    seen
}

/// Right-clicks at `p` (a press and a release in separate frames, as a hand does).
fn right_click_at(h: &mut egui_kittest::Harness<'static, MatThanApp>, p: egui::Pos2) {
    h.hover_at(p);
    h.run_steps(1);
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: p,
            button: egui::PointerButton::Secondary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
    }
    h.run_steps(2);
}

fn second_tile_shows(
    h: &mut egui_kittest::Harness<'static, MatThanApp>,
    n: usize,
) -> Option<String> {
    let tile = h.get_by_label(&format!("Màn hình phụ — Ô {n}")).rect();
    wait_for(Duration::from_secs(15), || {
        h.run_steps(1);
        mounts_in(h, tile).into_iter().next()
    })
    .map(|(m, _)| m)
}

#[test]
fn a_view_and_a_tour_run_on_the_second_screen_and_the_map_sends_a_camera_there() {
    let sim = live_cameras(&["/p2/a", "/p2/b", "/p2/c"]);
    let cap = Capture::new(Timeouts::default()).unwrap();
    let places = [
        ("a", "Cổng chợ", 21.0712, 105.7862),
        ("b", "Bãi xe chợ", 21.0731, 105.7889),
        ("c", "Ngã tư", 21.0698, 105.7901),
    ];
    let configs: Vec<_> = places
        .iter()
        .map(|(id, name, lat, lon)| {
            let mut c = crate::util::camera(id, &sim.url(&format!("p2/{id}")), "");
            c.name = name.to_string();
            c.lat_deg = *lat;
            c.lon_deg = *lon;
            c
        })
        .collect();
    let sites: Vec<_> = configs
        .iter()
        .map(mt_core::CameraSite::from_config)
        .collect();
    let handles = configs
        .into_iter()
        .map(|c| cap.start_camera(c).unwrap())
        .collect();
    let mut map = mt_ui::map::MapUi::new(Arc::new(mt_map::MapData::default()), vec![], sites);
    // Camera b at the top left of the map, clear of the second screen's window.
    let b_at = mt_map::lonlat_to_merc(105.7889, 21.0731);
    map.view = Some(mt_map::proj::View {
        center: geo::Coord {
            x: b_at.x + 380.0,
            y: b_at.y - 300.0,
        },
        mpp: 1.0,
    });
    let state = WallState {
        layout: WallLayout::G2,
        tiles: vec![Some("a".into()), None, None, None],
        show_health: false,
        views: vec![mt_ui::views::SavedView {
            name: "Chợ".into(),
            layout: WallLayout::G2,
            tiles: vec![Some("b".into()), Some("c".into()), None, None],
        }],
        ..Default::default()
    };
    let app =
        MatThanApp::new(&egui::Context::default(), handles, state, None, vec![]).with_map(map);
    let mut h = crate::ui::video_harness(app);
    h.get_by_label("Mở màn hình phụ").click();
    h.run_steps(3);

    // The saved view "Chợ", opened on the second screen: b and c there, the main wall as it was.
    h.get_by_label("Góc nhìn").click();
    h.run_steps(3);
    h.get_by_label("Màn hình phụ").click();
    h.run_steps(2);
    h.get_by_label("Mở “Chợ”").click();
    h.run_steps(2);
    h.get_by_label("Close window").click();
    h.run_steps(2);
    assert_eq!(second_tile_shows(&mut h, 1).as_deref(), Some("/p2/b"));
    assert_eq!(second_tile_shows(&mut h, 2).as_deref(), Some("/p2/c"));
    // The part of the main wall's tile 1 the second screen's window does not cover.
    let main = h.get_by_label("Ô 1").rect();
    let main = egui::Rect::from_min_max(main.min, egui::pos2(main.max.x.min(610.0), main.max.y));
    let m = wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        mounts_in(&mut h, main).into_iter().next()
    });
    assert_eq!(m.map(|(m, _)| m).as_deref(), Some("/p2/a"));
    assert_eq!(h.state().state.layout, WallLayout::G2);
    assert_eq!(h.state().state.tiles[1], None);

    // A tour of a and c on the second screen's tile 2, 2 s each.
    h.get_by_label("Màn hình phụ — Ô 2").click();
    h.run_steps(2);
    h.get_by_label("Góc nhìn").click();
    h.run_steps(3);
    h.get_by_label("Màn hình phụ").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Ô 2 của màn hình phụ").is_some());
    start_tour(&mut h, &["Cổng chợ", "Ngã tư"], "2");
    assert!(h
        .query_by_label_contains("Đang tuần tra trên màn hình phụ, ô 2")
        .is_some());
    h.get_by_label("Close window").click();
    h.run_steps(2);
    let tile = h.get_by_label("Màn hình phụ — Ô 2").rect();
    // The view left c there; the tour shows a, c, a in turn (c may still be seen first).
    let seen = pictures_in_turn(&mut h, tile, 4);
    assert!(
        seen.windows(3).any(|w| w == ["/p2/a", "/p2/c", "/p2/a"]),
        "the second screen's tile shows a and c in turn: {seen:?}"
    );
    // The main wall's tile 2 was never touched.
    assert_eq!(h.state().state.tiles[1], None);

    // From the map: right-click camera b, "send to the second screen" → on its selected tile
    // (tile 2, the tour's: the tour ends there).
    h.state_mut().apply(
        &egui::Context::default(),
        mt_ui::Command::SetView(mt_ui::app::CentralView::Map),
    );
    h.run_steps(3);
    let i = h.state().map.as_ref().unwrap().site_index("b").unwrap();
    let p = mt_ui::map::site_position(h.state().map.as_ref().unwrap(), i).unwrap();
    right_click_at(&mut h, p);
    h.get_by_label("Gửi “Bãi xe chợ” sang màn hình phụ").click();
    h.run_steps(2);
    assert!(
        h.state().state.tour.is_none(),
        "the tour ended on that tile"
    );
    assert_eq!(second_tile_shows(&mut h, 2).as_deref(), Some("/p2/b"));
}
