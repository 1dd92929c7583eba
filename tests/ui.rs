//! The wall UI driven through egui_kittest (AccessKit labels, real wgpu rendering).

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use mt_capture::{Capture, Timeouts};
use mt_ui::{Lang, MatThanApp, WallLayout, WallState};

use crate::util::camera;

/// An app with three cameras that point at a closed port (no server needed for UI logic).
pub(crate) fn app(capture: &Capture, state_path: Option<std::path::PathBuf>) -> MatThanApp {
    let port = mt_capture::sim::free_port();
    let cams = [
        ("Ngã tư Xuân Đỉnh", "Xuân Đỉnh"),
        ("Chợ Cổ Nhuế", "Cổ Nhuế 1"),
        ("Trường Tiểu học Xuân Tảo", "Xuân Tảo"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (name, ward))| {
        let mut c = camera(
            &format!("cam-{i}"),
            &format!("rtsp://127.0.0.1:{port}/c{i}"),
            "",
        );
        c.name = name.to_string();
        c.ward = ward.to_string();
        capture.start_camera(c).unwrap()
    })
    .collect();
    let ctx = egui::Context::default();
    // Health panel hidden: camera names would otherwise be listed twice (list and panel).
    let state = WallState {
        layout: WallLayout::G2,
        tiles: vec![Some("cam-0".into()), None, None, None],
        show_health: false,
        ..Default::default()
    };
    MatThanApp::new(&ctx, cams, state, state_path, vec![])
}

pub(crate) fn harness(app: MatThanApp) -> Harness<'static, MatThanApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 850.0))
        .with_context_setup(|ctx| mt_ui::install_fonts(ctx))
        .wgpu()
        .build_ui_state(|ui, app: &mut MatThanApp| app.show(ui), app);
    h.run_steps(3);
    h
}

/// [`harness`] whose renderer has the video pipeline installed (as the window's has), so a
/// rendered tile shows its camera's picture.
pub(crate) fn video_harness(app: MatThanApp) -> Harness<'static, MatThanApp> {
    video_harness_rs(app).0
}

/// [`video_harness`], and its render state (to look at the renderer's GPU resources).
pub(crate) fn video_harness_rs(
    app: MatThanApp,
) -> (Harness<'static, MatThanApp>, egui_wgpu::RenderState) {
    let rs = egui_kittest::wgpu::create_render_state(
        egui_kittest::wgpu::default_wgpu_setup(),
        egui_wgpu::RendererOptions::PREDICTABLE,
    );
    mt_render::install(&rs, None);
    let keep = rs.clone();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 850.0))
        .with_context_setup(|ctx| mt_ui::install_fonts(ctx))
        .renderer(egui_kittest::wgpu::WgpuTestRenderer::from_render_state(rs))
        .with_step_dt(0.05)
        .build_ui_state(|ui, app: &mut MatThanApp| app.show(ui), app);
    h.run_steps(3);
    (h, keep)
}

#[test]
fn clicking_a_layout_button_switches_the_wall_layout() {
    let cap = Capture::new(Timeouts::default()).unwrap();
    let mut h = harness(app(&cap, None));
    h.get_by_label("3×3").click();
    h.run_steps(2);
    assert_eq!(h.state().state.layout, WallLayout::G3);
    assert!(h.query_by_label("Ô 9").is_some(), "3×3 has a ninth tile");
    h.get_by_label("1+7").click();
    h.run_steps(2);
    assert_eq!(h.state().state.layout, WallLayout::P1_7);
    assert!(h.query_by_label("Ô 8").is_some() && h.query_by_label("Ô 9").is_none());
}

#[test]
fn selecting_a_tile_then_clicking_a_camera_assigns_it_and_survives_a_restart() {
    let cap = Capture::new(Timeouts::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wall.json");
    let mut h = harness(app(&cap, Some(path.clone())));
    h.get_by_label("Ô 3").click();
    h.run_steps(2);
    assert_eq!(h.state().selected, 2);
    h.get_by_label("Chợ Cổ Nhuế").click();
    h.run_steps(2);
    assert_eq!(
        h.state().state.tiles.get(2).cloned().flatten().as_deref(),
        Some("cam-1")
    );
    let saved = WallState::load(&path).expect("state saved");
    assert_eq!(
        saved.tiles.get(2).cloned().flatten().as_deref(),
        Some("cam-1")
    );
    assert_eq!(saved.layout, WallLayout::G2);
}

#[test]
fn camera_search_ignores_diacritics() {
    let cap = Capture::new(Timeouts::default()).unwrap();
    let mut h = harness(app(&cap, None));
    h.get_by_role_and_label(egui::Role::TextInput, "Tìm camera")
        .click();
    h.run_steps(1);
    h.get_by_role_and_label(egui::Role::TextInput, "Tìm camera")
        .type_text("xuan dinh");
    h.run_steps(3);
    assert_eq!(
        h.get_by_role_and_label(egui::Role::TextInput, "Tìm camera")
            .value()
            .as_deref(),
        Some("xuan dinh")
    );
    assert!(h.query_by_label("Ngã tư Xuân Đỉnh").is_some());
    assert!(
        h.query_by_label("Chợ Cổ Nhuế").is_none(),
        "non-matching camera still listed"
    );
    // A former ward's name (before July 2025) finds the camera of the new ward; words in any
    // order and case.
    for (query, found, not) in [
        ("CỔ NHUẾ 2", "Ngã tư Xuân Đỉnh", "Trường Tiểu học Xuân Tảo"),
        ("tao truong", "Trường Tiểu học Xuân Tảo", "Chợ Cổ Nhuế"),
    ] {
        h.get_by_role_and_label(egui::Role::TextInput, "Tìm camera")
            .click();
        h.run_steps(1);
        h.key_combination_modifiers(egui::Modifiers::COMMAND, &[egui::Key::A]);
        h.get_by_role_and_label(egui::Role::TextInput, "Tìm camera")
            .type_text(query);
        h.run_steps(3);
        assert!(h.query_by_label(found).is_some(), "{query}: {found}");
        assert!(h.query_by_label(not).is_none(), "{query}: not {not}");
    }
}

#[test]
fn enter_maximises_the_selected_tile_and_escape_returns() {
    let cap = Capture::new(Timeouts::default()).unwrap();
    let mut h = harness(app(&cap, None));
    h.get_by_label("Ô 1").click();
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    assert_eq!(h.state().maximised, Some(0));
    assert!(
        h.query_by_label("Ô 2").is_none(),
        "other tiles hidden while maximised"
    );
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert_eq!(h.state().maximised, None);
    assert!(h.query_by_label("Ô 2").is_some());
}

#[test]
fn switching_language_changes_the_labels_at_run_time() {
    let cap = Capture::new(Timeouts::default()).unwrap();
    let mut h = harness(app(&cap, None));
    assert!(
        h.query_by_label("Bố cục").is_some(),
        "Vietnamese by default"
    );
    h.get_by_label("English").click();
    h.run_steps(2);
    assert_eq!(h.state().state.lang, Lang::En);
    assert!(h.query_by_label("Layout").is_some() && h.query_by_label("Bố cục").is_none());
    h.get_by_label("Tiếng Việt").click();
    h.run_steps(2);
    assert!(h.query_by_label("Bố cục").is_some());
    assert!(h.query_all_by_label("Tình trạng camera").count() >= 1);
}

#[test]
fn lost_cameras_show_signal_lost_on_the_wall_image() {
    // Rendered through wgpu: the tile of a camera on a closed port says "Mất tín hiệu".
    let cap = Capture::new(Timeouts::default()).unwrap();
    let mut h = harness(app(&cap, None));
    let lost = crate::util::wait_for(std::time::Duration::from_secs(5), || {
        h.run_steps(1);
        matches!(
            h.state().cameras[0].main.state(),
            mt_core::StreamState::Lost { .. }
        )
        .then_some(())
    });
    assert!(lost.is_some());
    h.run_steps(2);
    let img = h.render().expect("wgpu render");
    // The lost overlay tints the tile red.
    let reddish = img
        .pixels()
        .filter(|p| p[0] >= 40 && p[1] < 20 && p[2] < 20)
        .count();
    assert!(
        reddish > 1000,
        "no red 'signal lost' overlay ({reddish} px)"
    );
}

#[test]
fn every_translation_key_exists_in_both_languages() {
    let vi = mt_ui::Tr::keys(Lang::Vi);
    let en = mt_ui::Tr::keys(Lang::En);
    for k in &vi {
        assert!(en.contains(k), "{k} missing from en.ftl");
    }
    for k in &en {
        assert!(vi.contains(k), "{k} missing from vi.ftl");
    }
    assert!(vi.len() > 30);
    // A message defined twice: Fluent keeps the first, so the second text is never shown.
    for file in ["vi.ftl", "en.ftl"] {
        let text = std::fs::read_to_string(crate::util::assets().join("i18n").join(file)).unwrap();
        let mut seen = std::collections::HashSet::new();
        for (n, line) in text.lines().enumerate() {
            if let Some((id, _)) = line.split_once(" = ") {
                if !id.starts_with(' ') && !id.starts_with('#') {
                    assert!(
                        seen.insert(id.to_owned()),
                        "{file}:{}: {id} is defined twice",
                        n + 1
                    );
                }
            }
        }
    }
}

#[test]
fn dragging_a_camera_onto_a_tile_assigns_it() {
    let cap = Capture::new(Timeouts::default()).unwrap();
    let mut h = harness(app(&cap, None));
    let from = h.get_by_label("Trường Tiểu học Xuân Tảo").rect().center();
    let to = h.get_by_label("Ô 4").rect().center();
    h.drag_at(from);
    h.run_steps(1);
    h.hover_at(from + egui::vec2(20.0, 5.0));
    h.run_steps(1);
    h.hover_at(to);
    h.run_steps(1);
    h.drop_at(to);
    h.run_steps(2);
    assert_eq!(
        h.state().state.tiles.get(3).cloned().flatten().as_deref(),
        Some("cam-2")
    );
}

/// A workstation with no cameras and the default wall.
pub(crate) fn empty_app() -> MatThanApp {
    MatThanApp::new(
        &egui::Context::default(),
        vec![],
        mt_ui::WallState::default(),
        None,
        vec![],
    )
}

/// One wheel movement of `delta` points at `at` (the wheel events themselves, as a mouse
/// sends them), and the frames that follow.
pub(crate) fn wheel_at(h: &mut Harness<'static, MatThanApp>, at: egui::Pos2, delta: f32) {
    h.hover_at(at);
    h.run_steps(1);
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, delta),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(2);
}

/// Clicks the field with this role and label and types `text` into it.
pub(crate) fn type_into(
    h: &mut Harness<'static, MatThanApp>,
    role: egui::Role,
    label: &str,
    text: &str,
) {
    h.get_by_role_and_label(role, label).click();
    h.run_steps(1);
    h.get_by_role_and_label(role, label).type_text(text);
    h.run_steps(1);
}

/// Types operator ID and PIN on the sign-in screen and presses the button.
pub(crate) fn sign_in(h: &mut Harness<'static, MatThanApp>, id: &str, pin: &str) {
    type_into(h, egui::Role::TextInput, "Mã cán bộ", id);
    type_into(h, egui::Role::PasswordInput, "Mã PIN", pin);
    h.get_by_role_and_label(egui::Role::Button, "Đăng nhập")
        .click();
    settle(h);
}

/// A log database in `dir` with one supervisor (gs01 / 1357), and the log UI on it.
pub(crate) fn supervisor_log(dir: &std::path::Path) -> (std::path::PathBuf, mt_ui::log::LogUi) {
    let db = dir.join("log.db");
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
    let log = mt_ui::log::LogUi::new(
        mt_store::thread::StoreThread::start(&db).unwrap(),
        dir.join("exports"),
    );
    (db, log)
}

/// Runs frames until the log's store work is done.
pub(crate) fn settle(h: &mut Harness<'static, MatThanApp>) {
    for _ in 0..400 {
        h.run_steps(1);
        if !h.state().log.as_ref().is_some_and(|l| l.busy()) {
            h.run_steps(1);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("the store thread did not answer");
}

#[test]
fn sign_in_press_b_bookmark_listed_incident_from_it_found_without_diacritics() {
    let cap = Capture::new(Timeouts::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_db, log) = supervisor_log(dir.path());
    let mut h = harness(app(&cap, None).with_log(log));
    settle(&mut h);
    assert!(
        h.query_by_label("Ô 1").is_none(),
        "the wall is hidden before sign-in"
    );

    // Wrong PIN first, then the right one (the PIN field is emptied after a failure).
    sign_in(&mut h, "gs01", "0000");
    assert!(h.query_by_label("Sai mã cán bộ hoặc mã PIN").is_some());
    assert!(h.state().log.as_ref().unwrap().operator.is_none());
    h.get_by_role_and_label(egui::Role::PasswordInput, "Mã PIN")
        .click();
    h.run_steps(1);
    h.get_by_role_and_label(egui::Role::PasswordInput, "Mã PIN")
        .type_text("135790");
    h.run_steps(1);
    h.get_by_role_and_label(egui::Role::Button, "Đăng nhập")
        .click();
    settle(&mut h);
    assert_eq!(
        h.state()
            .log
            .as_ref()
            .unwrap()
            .operator
            .as_ref()
            .map(|o| o.id.as_str()),
        Some("gs01")
    );

    // B on tile 1 (camera "Ngã tư Xuân Đỉnh"), type a note, Enter.
    h.get_by_label("Ô 1").click();
    h.run_steps(1);
    h.key_press(egui::Key::B);
    h.run_steps(3);
    assert!(
        h.state().log.as_ref().unwrap().bookmark_prompt.is_some(),
        "B opens the note prompt"
    );
    h.event(egui::Event::Text("Thanh niên áo đỏ giật túi xách".into()));
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    settle(&mut h);
    let log = h.state().log.as_ref().unwrap();
    assert_eq!(log.bookmarks.len(), 1);
    assert_eq!(log.bookmarks[0].camera_id, "cam-0");
    assert_eq!(log.bookmarks[0].note, "Thanh niên áo đỏ giật túi xách");
    assert!(
        h.query_by_label("Thanh niên áo đỏ giật túi xách").is_some(),
        "bookmark listed"
    );

    // Incident from the bookmark.
    h.get_by_label("#1").click();
    h.run_steps(2);
    assert_eq!(
        h.state().log.as_ref().unwrap().selected_bookmarks.len(),
        1,
        "checkbox selects the bookmark"
    );
    h.get_by_label("Tạo vụ việc từ 1 đánh dấu đã chọn").click();
    h.run_steps(2);
    h.get_by_label("Lưu").click();
    settle(&mut h);
    // Search without diacritics.
    h.get_by_label("Vụ việc").click();
    settle(&mut h);
    assert_eq!(
        h.state().log.as_ref().unwrap().tab,
        mt_ui::log::Tab::Incidents
    );
    h.get_by_role_and_label(egui::Role::TextInput, "Tìm vụ việc")
        .click();
    h.run_steps(1);
    h.event(egui::Event::Text("ao do giat tui".into()));
    settle(&mut h);
    let found = &h.state().log.as_ref().unwrap().incidents;
    assert_eq!(found.len(), 1, "search 'ao do giat tui' found {found:?}");
    assert_eq!(found[0].title, "Thanh niên áo đỏ giật túi xách");
    assert!(h.query_by_label("Thanh niên áo đỏ giật túi xách").is_some());

    // Open it and correct the time it happened (typed, local time).
    h.get_by_label("Thanh niên áo đỏ giật túi xách").click();
    settle(&mut h);
    h.get_by_label("Sửa thông tin").click();
    h.run_steps(2);
    h.get_by_role_and_label(egui::Role::TextInput, "Thời gian xảy ra")
        .click();
    h.run_steps(1);
    h.key_press(egui::Key::End);
    for _ in 0..20 {
        h.key_press(egui::Key::Backspace);
    }
    h.run_steps(1);
    h.event(egui::Event::Text("01/02/2026 08:30".into()));
    h.run_steps(2);
    assert_eq!(
        h.get_by_role_and_label(egui::Role::TextInput, "Thời gian xảy ra")
            .value()
            .as_deref(),
        Some("01/02/2026 08:30")
    );
    h.get_by_role_and_label(egui::Role::Button, "Lưu").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(
        h.query_all_by_label("01/02/2026 08:30:00").count(),
        2,
        "table and detail show the corrected time"
    );
}

/// The app with a fresh log (`log.db` in the returned folder) and supervisor gs01 signed in.
fn signed_in_with_a_log(cap: &Capture) -> (tempfile::TempDir, Harness<'static, MatThanApp>) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    mt_store::Db::open(&db)
        .unwrap()
        .add_operator(None, "gs01", "G", mt_store::Role::Supervisor, "135790")
        .unwrap();
    let log = mt_ui::log::LogUi::new(
        mt_store::thread::StoreThread::start(&db).unwrap(),
        dir.path().join("exports"),
    );
    let mut h = harness(app(cap, None).with_log(log));
    settle(&mut h);
    sign_in(&mut h, "gs01", "135790");
    assert!(h.state().log.as_ref().unwrap().operator.is_some());
    (dir, h)
}

#[test]
fn failed_bookmark_write_shows_a_banner_keeps_the_draft_and_retry_saves_it() {
    let cap = Capture::new(Timeouts::default()).unwrap();
    let (_dir, mut h) = signed_in_with_a_log(&cap);

    // The disk is "full": the database may not grow by a single page.
    let limit = |pages: Option<i64>| {
        move |db: &mut mt_store::Db| {
            let n: i64 = db
                .conn()
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .unwrap();
            db.conn()
                .query_row(
                    &format!("PRAGMA max_page_count = {}", pages.unwrap_or(n)),
                    [],
                    |_| Ok(()),
                )
                .unwrap();
            Ok(())
        }
    };
    h.state()
        .log
        .as_ref()
        .unwrap()
        .store()
        .run(limit(None))
        .unwrap()
        .wait()
        .unwrap();
    h.get_by_label("Ô 1").click();
    h.run_steps(1);
    h.key_press(egui::Key::B);
    h.run_steps(3);
    h.event(egui::Event::Text(format!(
        "Ghi chú dài không được mất {}",
        "x".repeat(20_000)
    )));
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    settle(&mut h);
    let log = h.state().log.as_ref().unwrap();
    assert!(log.bookmarks.is_empty());
    let banner = log.banner.clone().expect("a banner");
    assert!(
        banner.contains("Không ghi được nhật ký") && banner.contains("disk is full"),
        "{banner}"
    );
    assert!(h.query_by_label("Thử lại").is_some());

    // Space again: Retry writes the kept draft.
    h.state()
        .log
        .as_ref()
        .unwrap()
        .store()
        .run(limit(Some(1_000_000)))
        .unwrap()
        .wait()
        .unwrap();
    h.get_by_label("Thử lại").click();
    settle(&mut h);
    settle(&mut h);
    let log = h.state().log.as_ref().unwrap();
    assert_eq!(
        log.bookmarks.len(),
        1,
        "the kept draft was written on retry"
    );
    assert!(log.bookmarks[0]
        .note
        .starts_with("Ghi chú dài không được mất"));
    assert!(log.banner.is_none());
}

/// Another program (a backup, a copy being made) holds the log locked when the officer saves
/// a bookmark: the store refuses after its 2 s wait, the banner says the change is kept, and
/// once the lock is let go the bookmark is written by itself — the row is in the file,
/// without a click.
#[test]
fn a_bookmark_refused_while_another_program_locks_the_log_is_written_by_itself_after() {
    let cap = Capture::new(Timeouts::default()).unwrap();
    let (dir, mut h) = signed_in_with_a_log(&cap);
    let db = dir.path().join("log.db");
    // Another process's view of the file: its own connection, holding the write lock.
    let other = rusqlite::Connection::open(&db).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    h.get_by_label("Ô 1").click();
    h.run_steps(1);
    h.key_press(egui::Key::B);
    h.run_steps(3);
    h.event(egui::Event::Text("Trong lúc sao lưu".into()));
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    let banner = crate::util::wait_for(std::time::Duration::from_secs(15), || {
        h.run_steps(1);
        std::thread::sleep(std::time::Duration::from_millis(50));
        h.state().log.as_ref()?.banner.clone()
    })
    .expect("a banner while the log is locked")
    .0;
    assert!(
        banner.contains("holds the log locked") && banner.contains("nothing was lost"),
        "{banner}"
    );
    assert_eq!(h.state().log.as_ref().unwrap().unsaved_count(), 1);
    other.execute_batch("COMMIT").unwrap();
    let rows = |db: &std::path::Path| -> i64 {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM bookmark WHERE note = 'Trong lúc sao lưu'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let written = crate::util::wait_for(std::time::Duration::from_secs(20), || {
        h.run_steps(1);
        std::thread::sleep(std::time::Duration::from_millis(50));
        (rows(&db) == 1).then_some(())
    });
    assert!(
        written.is_some(),
        "the kept bookmark was written once the lock was let go, without a click"
    );
    settle(&mut h);
    let log = h.state().log.as_ref().unwrap();
    assert_eq!(log.unsaved_count(), 0);
    assert!(log.banner.is_none(), "{:?}", log.banner);
}

#[test]
fn bookmark_snapshot_png_has_the_frames_colours() {
    // BT.601 limited-range YUV of #3050C0 (the clips' box colour).
    let mut f = mt_capture::DecodedFrame::solid(32, 16, 88, 182, 106);
    f.matrix = mt_capture::ColorMatrix::Bt601;
    let png = mt_ui::log::snapshot_png(&f);
    assert_eq!(&png[1..4], b"PNG");
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (32, 16));
    let p = img.get_pixel(10, 8);
    for (got, want) in p.0.iter().zip([0x30u8, 0x50, 0xC0]) {
        assert!(
            (*got as i32 - want as i32).abs() <= 3,
            "pixel {p:?}, want #3050C0"
        );
    }
}

/// Every message of both languages can be drawn with the bundled font (egui stops at a glyph
/// the font lacks, as it did once for an arrow).
#[test]
fn every_translated_message_has_its_glyphs_in_the_bundled_font() {
    for lang in [Lang::Vi, Lang::En] {
        let tr = mt_ui::Tr::new(lang);
        let texts: Vec<String> = mt_ui::Tr::keys(lang).iter().map(|k| tr.t(k)).collect();
        let ctx = egui::Context::default();
        mt_ui::install_fonts(&ctx);
        ctx.set_missing_glyph_policy(egui::MissingGlyphPolicy::Panic);
        // The fonts take effect from the next frame: lay out in the second one.
        for _ in 0..2 {
            let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
                for t in &texts {
                    ui.label(t);
                }
            });
            out.textures_delta.clear();
        }
    }
}

/// What the app logs, caught on this thread (the developer's view of a slow frame).
#[derive(Clone, Default)]
struct Caught(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Caught {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_ui_frame_over_budget_is_logged_with_the_time_of_each_part() {
    let caught = Caught::default();
    let w = caught.clone();
    let sub = tracing_subscriber::fmt()
        .with_writer(move || w.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(sub);
    let t0 = std::time::Instant::now();
    let cap = Capture::new(Timeouts::default()).unwrap();
    let mut app = app(&cap, None);
    // Every frame is over a zero budget: the check must say so, and say where the time went.
    app.slow_frame = std::time::Duration::ZERO;
    let mut h = harness(app);
    h.run_steps(2);
    let text = String::from_utf8(caught.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("UI frame took"))
        .unwrap_or_else(|| panic!("no slow-frame line in:\n{text}"));
    for part in [
        "polls",
        "top bar and windows",
        "log and side panels",
        "wall and map",
        "apply",
        "4 tiles",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    // At most once a second.
    let lines = text.matches("UI frame took").count();
    assert!(
        lines as u64 <= t0.elapsed().as_secs() + 1,
        "{lines} lines in {:?}:\n{text}",
        t0.elapsed()
    );
}
