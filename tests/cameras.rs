//! Cameras from the app: `matthan probe` and the form's test against GStreamer's RTSP server,
//! the camera file edited with its comments kept, a hand edit detected, field-level errors,
//! and a camera added in the app that is live on the wall (its QR code read back from the
//! rendered picture), recorded (ffprobe reads the finished segment after it is removed), in
//! the registry and the audited log — and removed again without touching the other camera.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use mt_capture::sim::{SimOptions, SimServer};
use mt_capture::{Capture, Timeouts};
use mt_core::camedit::{CameraDraft, CameraFileEdit, EditError};
use mt_core::{load_cameras, CameraId};
use mt_ui::{MatThanApp, WallLayout, WallState};

use crate::util::{assets, wait_for};

pub(crate) fn probe_cli(args: &[&str], stdin: &str) -> (i32, String) {
    let args: Vec<&str> = std::iter::once("probe")
        .chain(args.iter().copied())
        .collect();
    let (rc, out, err) = crate::util::run_matthan(&args, stdin, &[("RUST_BACKTRACE", "0")]);
    (rc, format!("{out}{err}"))
}

fn relay_sim() -> SimServer {
    let opts = SimOptions {
        // What a MediaMTX relay publishes for one camera: `<path>` and `<path>_sub`, with
        // audio, as many home cameras send.
        mounts: vec![
            (
                "/xd-100".into(),
                serde_json::json!({"source": "live", "width": 640, "height": 360, "fps": 15, "audio": "pcma"}),
            ),
            (
                "/xd-100_sub".into(),
                serde_json::json!({"source": "live", "width": 320, "height": 180, "fps": 15}),
            ),
        ],
        ..Default::default()
    };
    SimServer::start_with(&assets(), 0, 1, &opts).expect("the RTSP server starts")
}

#[test]
fn probe_prints_codec_size_fps_audio_or_the_reason_and_never_the_password() {
    let sim = relay_sim();
    let (rc, out) = probe_cli(&[&sim.url("cam1/main"), &sim.url("h265/main")], "");
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("video: H.264 640x360 15.0 fps"), "{out}");
    assert!(out.contains("video: H.265 640x360 15.0 fps"), "{out}");
    assert!(out.contains("picture: decoded 640x360"), "{out}");
    let (rc, out) = probe_cli(&[&sim.url("xd-100")], "");
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("audio: PCMA 8000 Hz"), "{out}");

    let cases = [
        (sim.url("mjpeg"), "loss-unsupported-codec"),
        (sim.url("no/such/path"), "loss-not-found"),
        (sim.url("secure/main"), "loss-unauthorized"),
        (
            format!("rtsp://127.0.0.1:{}/x", mt_capture::sim::free_port()),
            "loss-refused",
        ),
    ];
    for (url, want) in &cases {
        let (rc, out) = probe_cli(&[url], "");
        assert_ne!(rc, 0, "{url}: {out}");
        assert!(out.contains(&format!("FAILED: {want}")), "{url}: {out}");
    }
    // A wrong password: unauthorized, and the password is printed nowhere.
    let secret = "sai-mat-khau-9431";
    let (rc, out) = probe_cli(
        &[
            "--user",
            "admin",
            "--password-stdin",
            &sim.url("secure/main"),
        ],
        &format!("{secret}\n"),
    );
    assert_ne!(rc, 0, "{out}");
    assert!(out.contains("FAILED: loss-unauthorized"), "{out}");
    assert!(!out.contains(secret), "{out}");
    // In the URL, too: it is shown as ***.
    let with_userinfo = sim
        .url("secure/main")
        .replace("rtsp://", &format!("rtsp://admin:{secret}@"));
    let (rc, out) = probe_cli(&[&with_userinfo], "");
    assert_ne!(rc, 0, "{out}");
    assert!(!out.contains(secret), "{out}");
    // The right password from stdin.
    let (rc, out) = probe_cli(
        &[
            "--user",
            "admin",
            "--password-stdin",
            &sim.url("secure/main"),
        ],
        "matkhau-bi-mat\n",
    );
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("video: H.264 640x360"), "{out}");
}

const HAND_WRITTEN: &str = r#"# Camera của phường Xuân Đỉnh — do cán bộ Lan sửa tay.

# Ngã tư, camera của cửa hàng.
[[camera]]
id = "xd-001"
name = "Ngã tư Xuân Đỉnh"
lat = 21.0712
lon = 105.7885
heading_deg = 90   # hướng về chợ
main_url = "rtsp://10.0.0.5:554/Streaming/Channels/101"

# Trường học.
[[camera]]
id = "xd-002"
name = "Trường THCS"
lat = 21.07
lon = 105.79
main_url = "rtsp://10.0.0.6:554/Streaming/Channels/101"
"#;

#[test]
fn an_edit_keeps_comments_and_order_and_a_hand_edit_in_between_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cameras.toml");
    std::fs::write(&path, HAND_WRITTEN).unwrap();
    let file = load_cameras(&path).unwrap();
    let mut cam = file.cameras[0].clone();
    cam.heading_deg = 135.0;
    cam.name = "Ngã tư Xuân Đỉnh (đã dời)".into();
    let mut ed = CameraFileEdit::open(&path).unwrap();
    ed.upsert(Some("xd-001"), &cam).unwrap();
    let cams = ed.save().unwrap();
    assert_eq!(cams.cameras.len(), 2);
    let text = std::fs::read_to_string(&path).unwrap();
    for kept in [
        "# Camera của phường Xuân Đỉnh — do cán bộ Lan sửa tay.",
        "# Ngã tư, camera của cửa hàng.",
        "# hướng về chợ",
        "# Trường học.",
    ] {
        assert!(text.contains(kept), "{kept:?} lost:\n{text}");
    }
    assert!(text.contains("heading_deg = 135"), "{text}");
    assert!(
        text.find("xd-001").unwrap() < text.find("xd-002").unwrap(),
        "order kept:\n{text}"
    );
    // What start-up would load.
    let again = load_cameras(&path).unwrap();
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    assert_eq!(again.cameras[0].name, "Ngã tư Xuân Đỉnh (đã dời)");
    assert_eq!(again.cameras[0].heading_deg, 135.0);
    assert_eq!(again.cameras[1], file.cameras[1]);

    // Someone edits the file by hand after the app read it (the app opens the file expecting
    // the text its cameras came from): refused before anything is written.
    let hand = text.replace("Trường THCS", "Trường THCS Xuân Đỉnh");
    std::fs::write(&path, &hand).unwrap();
    match CameraFileEdit::open_expecting(&path, Some(text.as_bytes())) {
        Err(EditError::ChangedOnDisk { file }) => assert!(file.contains("cameras.toml")),
        Err(e) => panic!("expected ChangedOnDisk, got {e:?}"),
        Ok(_) => panic!("expected ChangedOnDisk, the file was opened"),
    }
    // And between opening and saving.
    let mut ed = CameraFileEdit::open(&path).unwrap();
    let hand2 = hand.replace("Trường THCS Xuân Đỉnh", "Trường THCS Xuân Đỉnh (cổng sau)");
    std::fs::write(&path, &hand2).unwrap();
    ed.remove("xd-002").unwrap();
    assert!(matches!(ed.save(), Err(EditError::ChangedOnDisk { .. })));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        hand2,
        "the hand edit stays"
    );
    let hand = hand2;

    // A second camera with an existing id would not load: refused, file untouched.
    let mut ed = CameraFileEdit::open(&path).unwrap();
    ed.upsert(None, &file.cameras[1]).unwrap();
    assert!(matches!(ed.save(), Err(EditError::WouldNotLoad { .. })));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), hand);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
}

#[test]
fn the_form_names_every_bad_field() {
    let d = CameraDraft {
        id: "xd 001".into(),
        name: "".into(),
        lat: "105.78".into(), // lat and lon swapped: outside Vietnam
        lon: "21.07".into(),
        heading_deg: "90".into(),
        fov_deg: "abc".into(),
        range_m: "30".into(),
        main_url: "http://10.0.0.5/stream".into(),
        sub_url: "rtsp://10.0.0.5:99999/sub".into(),
        password: mt_core::Secret::new("x"),
        ..Default::default()
    };
    let problems = d.validate(&[]).unwrap_err();
    let got: Vec<(&str, &str)> = problems.iter().map(|p| (p.field, p.key)).collect();
    for want in [
        ("id", "cam-err-id-chars"),
        ("name", "cam-err-required"),
        ("lat", "cam-err-outside-vietnam"),
        ("lon", "cam-err-outside-vietnam"),
        ("fov_deg", "cam-err-number"),
        ("main_url", "cam-err-scheme"),
        ("sub_url", "cam-err-port"),
        ("username", "cam-err-user-for-password"),
    ] {
        assert!(got.contains(&want), "{want:?} not in {got:?}");
    }
    let ok = CameraDraft {
        id: "xd-001".into(),
        name: "A".into(),
        lat: "21,07".into(), // a Vietnamese decimal comma is accepted
        lon: "105.79".into(),
        main_url: "rtsp://10.0.0.5/a".into(),
        ..CameraDraft::new()
    };
    let p = ok.validate(&[CameraId("xd-001".into())]).unwrap_err();
    assert_eq!((p[0].field, p[0].key), ("id", "cam-err-duplicate"));
    let cfg = ok.validate(&[]).unwrap();
    assert_eq!(cfg.lat_deg, 21.07);
    let p = CameraDraft {
        main_url: "rtsp://admin:pw@10.0.0.5/a".into(),
        ..ok.clone()
    }
    .validate(&[])
    .unwrap_err();
    assert_eq!((p[0].field, p[0].key), ("main_url", "cam-err-userinfo"));
}

/// Runs frames until a label containing `text` is shown (the store thread answered).
pub(crate) fn wait_label(h: &mut Harness<'static, MatThanApp>, text: &str) -> bool {
    wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        h.query_all_by_label_contains(text).next().map(|_| ())
    })
    .is_some()
}

pub(crate) fn replace_text(h: &mut Harness<'static, MatThanApp>, label: &str, text: &str) {
    replace_text_role(h, egui::Role::TextInput, label, text)
}

pub(crate) fn replace_text_role(
    h: &mut Harness<'static, MatThanApp>,
    role: egui::Role,
    label: &str,
    text: &str,
) {
    h.get_by_role_and_label(role, label).click();
    h.run_steps(1);
    h.key_combination_modifiers(egui::Modifiers::COMMAND, &[egui::Key::A]);
    h.run_steps(1);
    h.get_by_role_and_label(role, label).type_text(text);
    h.run_steps(1);
}

/// Opens the camera window's form for a new camera at Xuân Đỉnh market, with this id, name
/// and template, and the camera's address 127.0.0.1.
pub(crate) fn new_camera_form(
    h: &mut Harness<'static, MatThanApp>,
    id: &str,
    name: &str,
    template: &str,
) {
    h.get_by_label("Quản lý camera").click();
    h.run_steps(3);
    h.get_by_label("Thêm camera").click();
    h.run_steps(3);
    for (label, text) in [
        ("Mã camera", id),
        ("Tên camera", name),
        ("Vĩ độ", "21.0705"),
        ("Kinh độ", "105.7880"),
    ] {
        crate::ui::type_into(h, egui::Role::TextInput, label, text);
    }
    h.get_by_label(template).click();
    h.run_steps(2);
    crate::ui::type_into(
        h,
        egui::Role::TextInput,
        "Địa chỉ IP / tên máy",
        "127.0.0.1",
    );
}

/// The mounts whose QR codes are readable in `area` of the rendered window (all of it when
/// None): what the screen shows.
fn mounts_on_screen(h: &mut Harness<'static, MatThanApp>) -> Vec<String> {
    mounts_in(h, None)
}

fn mounts_in(h: &mut Harness<'static, MatThanApp>, area: Option<egui::Rect>) -> Vec<String> {
    let area = area.unwrap_or(egui::Rect::from_min_size(
        egui::Pos2::ZERO,
        egui::vec2(1400.0, 850.0),
    ));
    crate::util::codes_in(h, area)
        .into_iter()
        .map(|c| c.0)
        .collect()
}

fn finished_segments(rec: &Path, camera: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(rec.join(camera))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "mp4"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_supervisor_adds_a_camera_from_a_template_tests_it_saves_it_and_removes_it_without_a_restart() {
    let sim = relay_sim();
    let dir = tempfile::tempdir().unwrap();
    let cam_file = dir.path().join("cameras.toml");
    std::fs::write(
        &cam_file,
        format!(
            "# Camera của phường — giữ nguyên dòng này.\n[[camera]]\nid = \"xd-001\"\nname = \"Ngã tư\"\nlat = 21.0712\nlon = 105.7885\nmain_url = \"{}\"\n",
            sim.url("cam1/main")
        ),
    )
    .unwrap();
    let capture = Arc::new(Capture::new(Timeouts::default()).unwrap());
    let file = load_cameras(&cam_file).unwrap();
    let handles: Vec<_> = file
        .cameras
        .iter()
        .map(|c| capture.start_camera(c.clone()).unwrap())
        .collect();
    let rec_dir = dir.path().join("rec");
    let (mut rec, _) =
        mt_record::Recorder::start(mt_record::RecConfig::new(rec_dir.clone())).unwrap();
    rec.add("xd-001", &handles[0].main).unwrap();
    let (db, log) = crate::ui::supervisor_log(dir.path());
    let map = mt_ui::map::MapUi::new(Arc::new(mt_map::MapData::default()), vec![], vec![]);
    let state = WallState {
        layout: WallLayout::G2,
        tiles: vec![Some("xd-001".into()), None, None, None],
        show_health: false,
        ..Default::default()
    };
    let mut app = MatThanApp::new(&egui::Context::default(), handles, state, None, vec![])
        .with_log(log)
        .with_map(map)
        .with_camera_admin(capture.clone(), cam_file.clone(), Some(file.text.clone()));
    app.recorder = Some(rec);
    let mut h = crate::ui::video_harness(app);
    crate::ui::sign_in(&mut h, "gs01", "135790");

    let secret = "mk-camera-7731";
    new_camera_form(
        &mut h,
        "xd-100",
        "Cổng chợ Xuân Đỉnh",
        "Relay (MediaMTX / go2rtc)",
    );
    // A port that is not a port is named beside its field.
    replace_text(&mut h, "Cổng RTSP", "85a");
    h.run_steps(1);
    if h.query_by_label_contains("cổng không hợp lệ (85a)")
        .is_none()
    {
        let _ = h.render().map(|i| i.save("/tmp/cam-port.png"));
    }
    assert!(h
        .query_by_label_contains("cổng không hợp lệ (85a)")
        .is_some());
    replace_text(&mut h, "Cổng RTSP", &sim.port.to_string());
    h.run_steps(1);
    if h.query_by_label_contains("cổng không hợp lệ").is_some() {
        let _ = h.render().map(|i| i.save("/tmp/cam-port.png"));
    }
    assert!(h.query_by_label_contains("cổng không hợp lệ").is_none());
    // A path the relay does not have: the test says 404, in the wall's words.
    crate::ui::type_into(
        &mut h,
        egui::Role::TextInput,
        "Đường dẫn trên relay",
        "khong-co",
    );
    h.get_by_label("Kiểm tra kết nối").click();
    assert!(
        wait_label(&mut h, "lỗi: 404 không có luồng này"),
        "the 404 is told"
    );
    replace_text(&mut h, "Đường dẫn trên relay", "xd-100");
    crate::ui::type_into(&mut h, egui::Role::TextInput, "Tên đăng nhập", "admin");
    crate::ui::type_into(&mut h, egui::Role::PasswordInput, "Mật khẩu", secret);
    // The template's URL, shown with the password masked.
    let shown = format!("rtsp://admin:••••@127.0.0.1:{}/xd-100", sim.port);
    assert!(
        h.query_by_label(&format!("Luồng chính sẽ mở: {shown}"))
            .is_some(),
        "the masked URL {shown} is shown"
    );
    assert!(h.query_by_label_contains(secret).is_none());

    h.get_by_label("Kiểm tra kết nối").click();
    let tested = wait_for(Duration::from_secs(15), || {
        h.run_steps(1);
        (h.query_by_label_contains("H.264 640×360").is_some()
            && h.query_by_label_contains("H.264 320×180").is_some())
        .then_some(())
    });
    if tested.is_none() {
        let _ = h.render().map(|i| i.save("/tmp/cam-test-failed.png"));
    }
    assert!(
        tested.is_some(),
        "both streams tested (picture in /tmp/cam-test-failed.png)"
    );
    assert!(
        h.query_by_label_contains("PCMA 8000 Hz").is_some(),
        "the main stream's audio track is named"
    );
    assert_eq!(
        h.query_all_by_label("Hình chụp từ luồng lúc kiểm tra")
            .count(),
        2,
        "a still of each stream"
    );
    // The stills are the camera's pictures: its QR code is read from the rendered window
    // (the camera is on no tile yet).
    h.run_steps(2);
    let m = mounts_on_screen(&mut h);
    assert!(
        m.iter().any(|m| m == "/xd-100_sub"),
        "the sub stream's still: {m:?}"
    );

    h.get_by_label("Lưu camera").click();
    assert!(
        wait_label(&mut h, "Đã thêm camera xd-100"),
        "the officer is told"
    );
    // In the camera file, with the comment kept and the password there (the camera needs it).
    let text = std::fs::read_to_string(&cam_file).unwrap();
    assert!(text.contains("# Camera của phường — giữ nguyên dòng này."));
    let loaded = load_cameras(&cam_file).unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let c = loaded.cameras.iter().find(|c| c.id.0 == "xd-100").unwrap();
    assert_eq!(c.main_url.as_str(), sim.url("xd-100"));
    assert_eq!(c.sub_url.as_ref().unwrap().as_str(), sim.url("xd-100_sub"));
    assert_eq!(c.credentials.as_ref().unwrap().password.expose(), secret);
    // In the registry (the map reads it) and the log, audited, without the password.
    {
        let d = mt_store::Db::open(&db).unwrap();
        let site = d.site("xd-100").unwrap().expect("registry entry");
        assert!((site.lat_deg - 21.0705).abs() < 1e-9 && !site.planned);
        assert!(d.verify_audit().unwrap().problems.is_empty());
    }
    let log_bytes = std::fs::read(&db).unwrap();
    let wal = std::fs::read(db.with_extension("db-wal")).unwrap_or_default();
    for bytes in [&log_bytes, &wal] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the password is not in the log"
        );
    }
    assert!(h.state().map.as_ref().unwrap().site("xd-100").is_some());

    // Live on the wall without a restart: close the window and read the tile's QR code.
    h.get_by_label("Close window").click();
    h.run_steps(2);
    assert_eq!(
        h.state().state.tiles[1].as_deref(),
        Some("xd-100"),
        "on the first free tile"
    );
    let seen = wait_for(Duration::from_secs(20), || {
        h.run_steps(2);
        let tile = h.get_by_label("Ô 2").rect();
        let m = mounts_in(&mut h, Some(tile));
        (m.iter().any(|m| m == "/xd-100_sub") || m.iter().any(|m| m == "/xd-100")).then_some(m)
    });
    if seen.is_none() {
        let _ = h.render().map(|i| i.save("/tmp/cam-wall.png"));
    }
    assert!(seen.is_some(), "the new camera's picture is on the wall");
    // Recorded: the recorder writes its main stream.
    let recording = wait_for(Duration::from_secs(15), || {
        h.run_steps(1);
        std::fs::read_dir(rec_dir.join("xd-100"))
            .ok()
            .and_then(|mut d| d.next())
            .map(|_| ())
    });
    assert!(recording.is_some(), "a recording folder with a segment");
    std::thread::sleep(Duration::from_secs(2));

    // Edit it: a new name; the file and the registry follow, its streams restart on the same
    // tile (a new recording run), the other camera is not touched.
    h.get_by_label("Quản lý camera").click();
    h.run_steps(3);
    h.get_by_label("Sửa xd-100").click();
    h.run_steps(3);
    replace_text(&mut h, "Tên camera", "Cổng chợ Xuân Đỉnh (cổng B)");
    h.get_by_label("Lưu camera").click();
    assert!(wait_label(&mut h, "Đã lưu camera xd-100"));
    let loaded = load_cameras(&cam_file).unwrap();
    let c = loaded.cameras.iter().find(|c| c.id.0 == "xd-100").unwrap();
    assert_eq!(c.name, "Cổng chợ Xuân Đỉnh (cổng B)");
    assert_eq!(
        c.credentials.as_ref().unwrap().password.expose(),
        secret,
        "kept"
    );
    assert!(std::fs::read_to_string(&cam_file)
        .unwrap()
        .contains("# Camera của phường — giữ nguyên dòng này."));
    assert_eq!(
        mt_store::Db::open(&db)
            .unwrap()
            .site("xd-100")
            .unwrap()
            .unwrap()
            .name,
        "Cổng chợ Xuân Đỉnh (cổng B)"
    );
    assert_eq!(h.state().state.tiles[1].as_deref(), Some("xd-100"));
    h.get_by_label("Close window").click();
    h.run_steps(2);
    let again = wait_for(Duration::from_secs(20), || {
        h.run_steps(2);
        let tile = h.get_by_label("Ô 2").rect();
        let m = mounts_in(&mut h, Some(tile));
        (m.iter().any(|m| m == "/xd-100_sub") || m.iter().any(|m| m == "/xd-100")).then_some(())
    });
    assert!(
        again.is_some(),
        "the edited camera's picture is on its tile again"
    );
    std::thread::sleep(Duration::from_secs(2));

    // Remove it: its streams stop, its recording is finished and kept, xd-001 goes on.
    h.get_by_label("Quản lý camera").click();
    h.run_steps(3);
    h.get_by_label("Gỡ xd-100").click();
    h.run_steps(2);
    h.get_by_label("Xác nhận gỡ xd-100").click();
    assert!(wait_label(&mut h, "Đã gỡ camera xd-100"));
    assert!(h.state().cameras.iter().all(|c| c.config.id.0 != "xd-100"));
    assert_eq!(h.state().state.tiles[1], None);
    let loaded = load_cameras(&cam_file).unwrap();
    assert_eq!(
        loaded
            .cameras
            .iter()
            .map(|c| c.id.0.as_str())
            .collect::<Vec<_>>(),
        ["xd-001"]
    );
    let segs = wait_for(Duration::from_secs(15), || {
        let s = finished_segments(&rec_dir, "xd-100");
        (!s.is_empty()).then_some(s)
    })
    .expect("the removed camera's recording is finished and kept")
    .0;
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames,width,height"])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&segs[0])
        .output()
        .expect("ffprobe runs");
    let probe = String::from_utf8_lossy(&out.stdout);
    assert!(
        probe.contains("width=640") && probe.contains("height=360"),
        "{probe}"
    );
    let frames: i64 = probe
        .lines()
        .find_map(|l| l.strip_prefix("nb_read_frames="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(frames >= 15, "at least a second recorded: {probe}");
    // The other camera was not disturbed: still live, still recording.
    let other = &h.state().cameras[0];
    assert_eq!(other.config.id.0, "xd-001");
    assert!(other.main.state().is_live(), "{:?}", other.main.state());
    assert!(h
        .state()
        .recorder
        .as_ref()
        .is_some_and(|r| r.records("xd-001") && !r.records("xd-100")));
    // The registry keeps the removed camera's entry; the log has add, edit and remove, verified.
    let d = mt_store::Db::open(&db).unwrap();
    assert!(d.site("xd-100").unwrap().is_some());
    assert!(d.verify_audit().unwrap().problems.is_empty());
    drop(d);
    // Two runs of the removed camera, both finished: before the edit and after it.
    assert!(
        finished_segments(&rec_dir, "xd-100").len() >= 2,
        "{:?}",
        finished_segments(&rec_dir, "xd-100")
    );

    // Someone edits the file by hand while the app runs: the next save from the app is
    // refused and the hand edit stays.
    let hand = std::fs::read_to_string(&cam_file).unwrap() + "\n# Sửa tay lúc 23:00 — đừng xoá.\n";
    std::fs::write(&cam_file, &hand).unwrap();
    h.run_steps(3);
    h.get_by_label("Sửa xd-001").click();
    h.run_steps(3);
    replace_text(&mut h, "Tên camera", "Ngã tư (đổi tên)");
    h.get_by_label("Lưu camera").click();
    assert!(
        wait_label(&mut h, "đã bị sửa bên ngoài ứng dụng"),
        "the refusal is told"
    );
    assert_eq!(std::fs::read_to_string(&cam_file).unwrap(), hand);
    assert_eq!(
        h.state().cameras[0].config.name,
        "Ngã tư",
        "nothing applied"
    );
}

/// Two clicks 50 ms apart (the harness's default step is 250 ms, near egui's 300 ms
/// double-click limit).
fn double_click(h: &mut Harness<'static, MatThanApp>, label: &str) {
    let p = h.get_by_label(label).rect().center();
    h.hover_at(p);
    h.run_steps(1);
    for _ in 0..2 {
        for pressed in [true, false] {
            h.event(egui::Event::PointerButton {
                pos: p,
                button: egui::PointerButton::Primary,
                pressed,
                modifiers: egui::Modifiers::NONE,
            });
        }
        h.step();
    }
    h.run_steps(1);
}

/// The aspect-fitted picture rectangle of a 16:9 stream in `tile` (as the wall draws it).
fn picture_in(tile: egui::Rect) -> egui::Rect {
    let w = tile.width().min(tile.height() * 16.0 / 9.0);
    egui::Rect::from_center_size(tile.center(), egui::vec2(w, w * 9.0 / 16.0))
}

#[test]
fn the_wheel_zooms_a_tile_in_the_shader_on_the_main_stream_a_drag_pans_and_a_double_click_resets() {
    let opts = SimOptions {
        mounts: vec![
            (
                "/z/main".into(),
                serde_json::json!({"source": "live", "width": 640, "height": 360, "fps": 15}),
            ),
            (
                "/z/sub".into(),
                serde_json::json!({"source": "live", "width": 320, "height": 180, "fps": 15}),
            ),
        ],
        ..Default::default()
    };
    let sim = SimServer::start_with(&assets(), 0, 1, &opts).expect("the RTSP server starts");
    let capture = Capture::new(Timeouts::default()).unwrap();
    let cam = crate::util::camera(
        "z",
        &sim.url("z/main"),
        &format!("sub_url = \"{}\"", sim.url("z/sub")),
    );
    let handles = vec![capture.start_camera(cam).unwrap()];
    let state = WallState {
        layout: WallLayout::G2,
        tiles: vec![Some("z".into()), None, None, None],
        show_health: false,
        ..Default::default()
    };
    let app = MatThanApp::new(&egui::Context::default(), handles, state, None, vec![]);
    let mut h = crate::ui::video_harness(app);
    let tile = h.get_by_label("Ô 1").rect();
    let pic = picture_in(tile);
    let code = |h: &mut Harness<'static, MatThanApp>, mount: &str| {
        wait_for(Duration::from_secs(15), || {
            h.run_steps(2);
            crate::util::codes_in(h, tile)
                .into_iter()
                .find(|c| c.0 == mount)
        })
        .map(|(c, _)| c)
    };
    // A small tile shows the sub stream.
    let (_, x0, w0) = code(&mut h, "/z/sub").expect("the sub stream's picture on the tile");
    // The main stream's code at 1×, measured on the maximised tile (double-click), to
    // compare the zoomed picture with.
    double_click(&mut h, "Ô 1");
    assert_eq!(h.state().maximised, Some(0));
    let big = h.get_by_label("Ô 1").rect();
    let main_1x = wait_for(Duration::from_secs(15), || {
        h.run_steps(2);
        crate::util::codes_in(&mut h, big)
            .into_iter()
            .find(|c| c.0 == "/z/main")
    })
    .expect("the main stream on the maximised tile")
    .0;
    // Its code's width per point of picture width.
    let per_point = main_1x.2 / picture_in(big).width();
    double_click(&mut h, "Ô 1");
    assert_eq!(h.state().maximised, None);

    // One wheel movement over the picture's top-left corner: ×2 around it.
    let corner = pic.min + egui::vec2(2.0, 2.0);
    crate::ui::wheel_at(&mut h, corner, 154.0);
    let z = h.state().zoom.get(&0).copied().expect("the tile is zoomed");
    assert!((z.scale - 2.0).abs() < 0.05, "{z:?}");
    // The zoomed tile switches to the main stream, and its code is twice as wide as the main
    // stream's at 1× in a picture that size, still at the picture's left edge (the corner
    // under the pointer stayed put).
    let (_, x1, w1) = code(&mut h, "/z/main").expect("the main stream's picture when zoomed");
    let w_1x = per_point * pic.width();
    assert!(
        (w1 / w_1x - 2.0).abs() < 0.2,
        "code {w_1x:.0} px wide at 1×, {w1:.0} px zoomed ×2"
    );
    assert!((x1 - x0).abs() < 8.0, "left edge {x0:.0} → {x1:.0}");

    // A drag to the right: the view is at the picture's left edge already, it stays. Then
    // 20 points to the left: the picture follows the pointer, 20 points left on screen.
    let mid = pic.center();
    let mut edges = Vec::new();
    for (from, to) in [
        (mid, mid + egui::vec2(60.0, 0.0)),
        (mid, mid - egui::vec2(20.0, 0.0)),
    ] {
        h.hover_at(from);
        h.run_steps(1);
        h.drag_at(from);
        h.run_steps(1);
        for k in 1..=10 {
            h.hover_at(from + (to - from) * (k as f32 / 10.0));
            h.run_steps(1);
        }
        h.drop_at(to);
        h.run_steps(2);
        let x = wait_for(Duration::from_secs(10), || {
            h.run_steps(1);
            crate::util::codes_in(&mut h, tile)
                .into_iter()
                .find(|c| c.0 == "/z/main")
                .map(|c| c.1)
        })
        .map(|(x, _)| x)
        .unwrap_or(f32::NAN);
        edges.push(x);
    }
    assert!(
        (edges[0] - x1).abs() < 4.0,
        "clamped at the edge: {x1:.0} → {:.0}",
        edges[0]
    );
    assert!(
        (x1 - edges[1] - 20.0).abs() < 4.0,
        "panned: left edge {x1:.0} → {:.0} (20 points left expected)",
        edges[1]
    );
    assert!(h.state().zoom.contains_key(&0));

    // Double-click: the whole picture again (and not maximised).
    double_click(&mut h, "Ô 1");
    assert!(h.state().zoom.is_empty(), "double-click resets the zoom");
    assert_eq!(h.state().maximised, None);
    let (_, x3, w3) = code(&mut h, "/z/sub").expect("back to the sub stream");
    assert!(
        (w3 / w0 - 1.0).abs() < 0.15 && (x3 - x0).abs() < 8.0,
        "whole picture again: {x3:.0}/{w3:.0} vs {x0:.0}/{w0:.0}"
    );
}

const SURVEY_CSV: &str = "\
Mã,Địa chỉ,Chủ,Vĩ độ,Kinh độ,Hướng,Trạng thái
,12 Xuân Đỉnh,Cửa hàng Minh Anh,21.0712,105.7885,90,dự kiến
xd-050,Trường Tiểu học Xuân Tảo,Nhà trường,21.0720,105.7901,180,đã lắp
,\"Ngõ 68, Xuân Đỉnh\",Hộ ông Hùng,\"21,0701\",\"105,7866\",45,đã chia sẻ
,12 Xuân Đỉnh,Cửa hàng Minh Anh,21.0712,105.7885,90,dự kiến
,Ngõ 5 Tân Xuân
,Chợ Xuân Đỉnh,Ban quản lý chợ,105.7880,21.0705,0,dự kiến
,Ngõ 112 Tân Xuân,Hộ bà Hoa,,,0,dự kiến
,Ngõ 264 Xuân Đỉnh,Hộ ông Nam,21.0690,105.7870,0,hỏng
,Đình Xuân Đỉnh,Ban quản lý,abc,105.7870,0,dự kiến
";

fn survey_cli(file: &Path, db: &Path, operator: &str) -> (i32, String) {
    // The demo's map named, so a map file of the machine's own user plays no part.
    let out = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .args(["survey", "--operator", operator, "--db"])
        .arg(db)
        .arg("--map")
        .arg(crate::util::assets().join("map/map.toml"))
        .arg(file)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("matthan runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_survey_sheet_becomes_registry_entries_with_a_report_for_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    {
        let mut d = crate::util::supervisor_and_operator(&db, "cb01", "135791");
        // The school is in the registry already, as a planned site.
        let mut s = mt_core::CameraSite {
            id: "xd-050".into(),
            name: "Trường Tiểu học Xuân Tảo".into(),
            lat_deg: 21.0719,
            lon_deg: 105.7900,
            fov_deg: 60.0,
            range_m: 30.0,
            planned: true,
            phone: "024 3838 0000".into(),
            ..Default::default()
        };
        s.ward = "Xuân Đỉnh".into();
        d.save_site("gs01", &s).unwrap();
    }
    let csv = dir.path().join("khao-sat.csv");
    std::fs::write(&csv, SURVEY_CSV).unwrap();

    // An operator may not change the registry: refused, nothing written.
    let (rc, out) = survey_cli(&csv, &db, "cb01");
    assert_ne!(rc, 0, "{out}");
    assert!(out.contains("may not"), "{out}");
    assert_eq!(mt_store::Db::open(&db).unwrap().sites().unwrap().len(), 1);

    let (rc, out) = survey_cli(&csv, &db, "gs01");
    assert_eq!(rc, 0, "{out}");
    let line = |n: usize| {
        out.lines()
            .find(|l| l.contains(&format!("khao-sat.csv:{n}:")))
            .unwrap_or_else(|| panic!("no report for line {n}: {out}"))
            .to_owned()
    };
    assert!(
        line(2).contains("imported ks-") && line(2).contains("(planned)"),
        "{out}"
    );
    assert!(line(3).contains("merged into xd-050"), "{out}");
    assert!(
        line(4).contains("imported ks-") && line(4).contains("(camera)"),
        "{out}"
    );
    assert!(
        line(5).contains("rejected: the same position as line 2"),
        "{out}"
    );
    assert!(
        line(6)
            .contains("rejected: 2 of 7 columns; missing `Chủ, Vĩ độ, Kinh độ, Hướng, Trạng thái`"),
        "{out}"
    );
    assert!(
        line(7).contains("rejected: position 105.788, 21.0705 is outside Vietnam"),
        "{out}"
    );
    // An address only: placed on the street of that name on the workstation's map (the
    // demo map's "Tân Xuân"), and said to be so.
    assert!(
        line(8).contains("imported ks-")
            && line(8).contains("placed on \"Tân Xuân\" from its address alone"),
        "{out}"
    );
    assert!(line(9).contains("rejected: status \"hỏng\""), "{out}");
    assert!(
        line(10).contains("rejected: lat \"abc\" is not a number"),
        "{out}"
    );
    assert!(out.contains("3 imported, 1 merged, 5 rejected"), "{out}");

    // The rows in the file: what the map shows.
    let d = mt_store::Db::open(&db).unwrap();
    let sites = d.sites().unwrap();
    assert_eq!(sites.len(), 4, "{sites:?}");
    // On the street as the map file has it: one of its points (read from the GeoJSON here).
    let placed = sites
        .iter()
        .find(|s| s.address == "Ngõ 112 Tân Xuân")
        .unwrap();
    assert!(placed.planned);
    let roads: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::util::assets().join("map/roads.geojson")).unwrap(),
    )
    .unwrap();
    let on_street = roads["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["name"] == "Tân Xuân")
        .flat_map(|f| f["geometry"]["coordinates"].as_array().unwrap().clone())
        .any(|c| {
            (c[0].as_f64().unwrap() - placed.lon_deg).abs() < 1e-6
                && (c[1].as_f64().unwrap() - placed.lat_deg).abs() < 1e-6
        });
    assert!(on_street, "{placed:?} is a point of Tân Xuân");
    let school = d.site("xd-050").unwrap().unwrap();
    assert!(!school.planned, "installed: no longer a planned site");
    assert_eq!((school.lat_deg, school.heading_deg), (21.0720, 180.0));
    assert_eq!(
        school.phone, "024 3838 0000",
        "what only the registry had is kept"
    );
    // It was shared (live) already: "đã lắp" does not take that back.
    assert_eq!(school.sharing, mt_core::Sharing::Live);
    let shared = sites
        .iter()
        .find(|s| s.address == "Ngõ 68, Xuân Đỉnh")
        .unwrap();
    assert_eq!(
        (shared.lat_deg, shared.lon_deg),
        (21.0701, 105.7866),
        "decimal commas"
    );
    assert!(!shared.planned && shared.sharing == mt_core::Sharing::Live);
    let planned = sites.iter().find(|s| s.address == "12 Xuân Đỉnh").unwrap();
    assert!(planned.planned && planned.owner == "Cửa hàng Minh Anh");
    assert!(d.verify_audit().unwrap().problems.is_empty());
    drop(d);

    // The same sheet again: merged, not added twice.
    let (rc, out) = survey_cli(&csv, &db, "gs01");
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("0 imported, 4 merged, 5 rejected"), "{out}");
    assert_eq!(mt_store::Db::open(&db).unwrap().sites().unwrap().len(), 4);
    // Once moved on the map, a row placed by its street keeps the map's position when the
    // sheet is imported again.
    {
        let mut d = mt_store::Db::open(&db).unwrap();
        let mut s = d
            .sites()
            .unwrap()
            .into_iter()
            .find(|s| s.address == "Ngõ 112 Tân Xuân")
            .unwrap();
        s.lat_deg = 21.0733;
        s.lon_deg = 105.7912;
        d.save_site("gs01", &s).unwrap();
    }
    let (rc, out) = survey_cli(&csv, &db, "gs01");
    assert_eq!(rc, 0, "{out}");
    let s = mt_store::Db::open(&db)
        .unwrap()
        .sites()
        .unwrap()
        .into_iter()
        .find(|s| s.address == "Ngõ 112 Tân Xuân")
        .unwrap();
    assert_eq!((s.lat_deg, s.lon_deg), (21.0733, 105.7912));
    // A later sheet that gives its position: the same entry moves there (not a second one).
    let f = dir.path().join("co-toa-do.csv");
    std::fs::write(
        &f,
        "Địa chỉ;Vĩ độ;Kinh độ\nNgõ  112 Tân Xuân;21,0735;105,7915\n",
    )
    .unwrap();
    let (rc, out) = survey_cli(&f, &db, "gs01");
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("0 imported, 1 merged, 0 rejected"), "{out}");
    let d = mt_store::Db::open(&db).unwrap();
    let all = d.sites().unwrap();
    assert_eq!(all.len(), 4, "{all:?}");
    let s = all.iter().find(|x| x.id == s.id).unwrap();
    assert_eq!((s.lat_deg, s.lon_deg), (21.0735, 105.7915));
    drop(d);
    // Two cameras at that address in one sheet: one moves that entry, the other is new.
    let f = dir.path().join("hai-camera.csv");
    std::fs::write(
        &f,
        "Địa chỉ;Vĩ độ;Kinh độ\nNgõ 112 Tân Xuân;21,0736;105,7916\nNgõ 112 Tân Xuân;21,0738;105,7918\n",
    )
    .unwrap();
    let (rc, out) = survey_cli(&f, &db, "gs01");
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("1 imported, 1 merged, 0 rejected"), "{out}");
    assert_eq!(mt_store::Db::open(&db).unwrap().sites().unwrap().len(), 5);
    // No street of the map in the address, or only a ward's name: rejected, and why.
    let f = dir.path().join("khong-duong.csv");
    std::fs::write(
        &f,
        "Địa chỉ;Trạng thái\n12 Đường Không Có;dự kiến\n\"Nhà 7, phường Phú Diễn, Hà Nội\";dự kiến\n",
    )
    .unwrap();
    let (rc, out) = survey_cli(&f, &db, "gs01");
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("0 imported, 0 merged, 2 rejected"), "{out}");
    assert!(
        out.contains("khong-duong.csv:2: rejected: no position, and no street of the map"),
        "{out}"
    );
    // A later sheet without a status column, and one that says the shared camera is only
    // "installed": neither takes back what the registry knows (shared, live).
    for (name, text) in [
        (
            "khong-trang-thai.csv",
            "Địa chỉ;Vĩ độ;Kinh độ\n\"Ngõ 68, Xuân Đỉnh\";21,0701;105,7866\n",
        ),
        (
            "da-lap.csv",
            "Địa chỉ;Vĩ độ;Kinh độ;Trạng thái\n\"Ngõ 68, Xuân Đỉnh\";21,0701;105,7866;đã lắp\n",
        ),
    ] {
        let f = dir.path().join(name);
        std::fs::write(&f, text).unwrap();
        let (rc, out) = survey_cli(&f, &db, "gs01");
        assert_eq!(rc, 0, "{out}");
        assert!(
            out.contains("0 imported, 1 merged, 0 rejected"),
            "{name}: {out}"
        );
        let d = mt_store::Db::open(&db).unwrap();
        let s = d
            .sites()
            .unwrap()
            .into_iter()
            .find(|s| s.address == "Ngõ 68, Xuân Đỉnh")
            .unwrap();
        assert!(
            !s.planned && s.sharing == mt_core::Sharing::Live,
            "{name}: {s:?}"
        );
    }

    // The same rows as an Excel sheet (written by openpyxl), into a fresh log.
    let xlsx = dir.path().join("khao-sat.xlsx");
    let script = format!(
        "import csv, io, openpyxl\nwb = openpyxl.Workbook()\nws = wb.active\nfor row in csv.reader(io.StringIO({:?})):\n    ws.append([float(c) if c.replace('.', '', 1).isdigit() else c for c in row])\nwb.save({:?})\n",
        SURVEY_CSV,
        xlsx.display().to_string()
    );
    let st = Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .status()
        .expect("python3 runs");
    if !st.success() {
        crate::util::cannot_run("python3-openpyxl is not installed (.ci/setup-debian installs it)");
        return;
    }
    let db2 = dir.path().join("log2.db");
    mt_store::Db::open(&db2)
        .unwrap()
        .add_operator(
            None,
            "gs01",
            "Giám sát",
            mt_store::Role::Supervisor,
            "135790",
        )
        .unwrap();
    let (rc, out) = survey_cli(&xlsx, &db2, "gs01");
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("5 imported, 0 merged, 4 rejected"), "{out}");
    // A sheet's rows are as wide as its widest: the short row has empty cells, no position,
    // and its address is on the map.
    assert!(
        out.contains("khao-sat.xlsx:6: imported ks-") && out.contains("placed on \"Tân Xuân\""),
        "{out}"
    );
    let d2 = mt_store::Db::open(&db2).unwrap();
    assert!(d2
        .sites()
        .unwrap()
        .iter()
        .any(|s| s.address == "Ngõ 68, Xuân Đỉnh" && s.lat_deg == 21.0701));
}
