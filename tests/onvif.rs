//! ONVIF against a device nobody here wrote: `oxvif`'s mock camera (device, media and PTZ
//! services, WS-UsernameToken checked against its users, WS-Discovery). What the app asks
//! is checked on the device's side — its own state after a move, a preset saved, a preset
//! gone to — and what the officer sees is read from the screen; a wrong password is told
//! and never shown.

use std::sync::Arc;
use std::time::Duration;

use egui_kittest::kittest::Queryable;
use mt_core::{CameraId, Credentials, Secret};
use mt_onvif::{Kind, OnvifService, PtzCommand, Wake};
use mt_ui::{MatThanApp, WallLayout, WallState};
use oxvif::mock::{DeviceState, MockServer};

use crate::util::wait_for;

const USER: &str = "admin";
const PASSWORD: &str = "matkhau-onvif-4711";

/// The mock camera on 127.0.0.1 with WS-Security enforced and our user's password; its
/// runtime must outlive the test (the server is a task on it).
fn mock_camera(discoverable: bool) -> (tokio::runtime::Runtime, MockServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut state = DeviceState::default();
    for u in state.users.iter_mut() {
        if u.username == USER {
            u.password = PASSWORD.into();
        }
    }
    let mut b = MockServer::builder()
        .port(0)
        .enforce_auth(true)
        .initial_state(state);
    if discoverable {
        b = b.discoverable(vec!["onvif://www.onvif.org/name/Cong%20cho".into()]);
    }
    let server = rt
        .block_on(b.start())
        .expect("the mock ONVIF camera starts");
    (rt, server)
}

fn creds(password: &str) -> Option<Credentials> {
    Some(Credentials {
        username: USER.into(),
        password: Secret::new(password),
    })
}

fn wake() -> Wake {
    Arc::new(|| {})
}

/// The device's own idea of where its first PTZ head points.
fn device_pan(server: &MockServer) -> f32 {
    server
        .device()
        .read()
        .ptz
        .channel("PTZNode_1")
        .expect("head 1")
        .pan
}

#[test]
fn probe_onvif_prints_the_device_and_its_stream_uris_and_a_wrong_password_is_told_not_shown() {
    let (_rt, server) = mock_camera(false);
    let host = format!("127.0.0.1:{}", server.port());
    let (rc, out) = crate::cameras::probe_cli(
        &["--onvif", &host, "--user", USER, "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(rc, 0, "{out}");
    let info = server.device().read().info.clone();
    assert!(
        out.contains(&format!("device: {} {}", info.manufacturer, info.model)),
        "{out}"
    );
    assert!(out.contains("ptz: yes"), "{out}");
    // Every profile the device has, with the URI it gives, the password masked.
    for p in &server.device().read().profiles.profiles {
        assert!(
            out.contains(&format!("profile {} ", p.token)),
            "{} in {out}",
            p.token
        );
    }
    assert!(
        out.contains("rtsp://admin:••••@127.0.0.1:554/mock/stream"),
        "{out}"
    );
    assert!(!out.contains(PASSWORD), "{out}");

    let wrong = "sai-mat-khau-999";
    let (rc, out) = crate::cameras::probe_cli(
        &["--onvif", &host, "--user", USER, "--password-stdin"],
        &format!("{wrong}\n"),
    );
    assert_ne!(rc, 0, "{out}");
    assert!(out.contains("FAILED: Unauthorized"), "{out}");
    assert!(!out.contains(wrong), "{out}");

    // Even with every log at trace, for oxvif's modules too, no SOAP envelope is logged
    // (its WS-Security token would let the password be guessed offline).
    let (rc, _, log) = crate::util::run_matthan(
        &[
            "probe",
            "--onvif",
            &host,
            "--user",
            USER,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
        &[("RUST_LOG", "trace,oxvif=trace,oxvif::client=trace")],
    );
    assert_eq!(rc, 0);
    assert!(
        !log.contains("UsernameToken") && !log.contains("Nonce") && !log.contains("SOAP request"),
        "{log}"
    );

    // Nothing listens: refused, said as such.
    let (rc, out) = crate::cameras::probe_cli(&["--onvif", "127.0.0.1:9"], "");
    assert_ne!(rc, 0, "{out}");
    assert!(out.contains("FAILED: Unreachable"), "{out}");
}

#[test]
fn ptz_moves_stops_saves_and_goes_to_presets_and_home_on_the_device() {
    let (_rt, server) = mock_camera(false);
    let svc = OnvifService::start().unwrap();
    let url = mt_onvif::device_url(&format!("127.0.0.1:{}", server.port())).unwrap();
    let cam = CameraId("xd-ptz".into());
    let ask = |cmd: PtzCommand| svc.ptz(&cam, &url, creds(PASSWORD), cmd, wake()).wait();

    let device = svc
        .inspect(url.clone(), creds(PASSWORD), wake())
        .wait()
        .unwrap();
    assert!(device.ptz);
    let on_device: Vec<String> = server
        .device()
        .read()
        .profiles
        .profiles
        .iter()
        .map(|p| p.token.clone())
        .collect();
    let seen: Vec<String> = device.profiles.iter().map(|p| p.token.clone()).collect();
    assert_eq!(seen, on_device);

    let before = device_pan(&server);
    let v = ask(PtzCommand::Move {
        pan: 0.5,
        tilt: 0.0,
        zoom: 0.0,
    })
    .unwrap();
    let after = device_pan(&server);
    assert!(after > before, "the head turned right: {before} → {after}");
    // What the panel shows is the camera's report.
    assert_eq!(v.position.map(|p| p.pan), Some(after));
    ask(PtzCommand::Stop).unwrap();

    let v = ask(PtzCommand::SavePreset("Cổng chợ".into())).unwrap();
    let token = v.saved.clone().expect("the device gave the preset a token");
    let stored = server
        .device()
        .read()
        .ptz
        .channel("PTZNode_1")
        .unwrap()
        .presets
        .iter()
        .find(|p| p.token == token)
        .cloned()
        .expect("the preset is on the device");
    assert_eq!(stored.name, "Cổng chợ");
    assert_eq!(stored.pan, after);
    assert!(v.presets.iter().any(|p| p.name == "Cổng chợ"));

    // Another preset of the device's ("Door", pan 0.5), then home, then ours again.
    let door = v
        .presets
        .iter()
        .find(|p| p.name == "Door")
        .unwrap()
        .token
        .clone();
    ask(PtzCommand::GotoPreset(door)).unwrap();
    assert_eq!(device_pan(&server), 0.5);
    ask(PtzCommand::Home).unwrap();
    let home = server
        .device()
        .read()
        .ptz
        .channel("PTZNode_1")
        .unwrap()
        .home_pan;
    assert_eq!(device_pan(&server), home);
    ask(PtzCommand::GotoPreset(token)).unwrap();
    assert_eq!(device_pan(&server), after);

    // A wrong password: the kind is told, the password is nowhere.
    let wrong = "sai-mat-khau-123";
    let e = svc
        .ptz(
            &CameraId("xd-ptz-2".into()),
            &url,
            creds(wrong),
            PtzCommand::Refresh,
            wake(),
        )
        .wait()
        .unwrap_err();
    assert_eq!(e.kind, Kind::Unauthorized, "{e:?}");
    assert!(!e.detail.contains(wrong) && !format!("{e}").contains(wrong));
}

#[test]
fn ws_discovery_finds_the_camera() {
    let (_rt, server) = mock_camera(true);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Unicast to 127.0.0.1 (multicast needs a route this machine may not have).
    let found = rt.block_on(mt_onvif::discover(
        Duration::from_secs(2),
        &["127.0.0.1".parse().unwrap()],
    ));
    let d = found
        .iter()
        .find(|f| f.url == server.device_url())
        .unwrap_or_else(|| panic!("{} among {found:?}", server.device_url()));
    assert_eq!(d.name, "Cong cho");
}

/// A TCP proxy in front of the mock camera that keeps every byte the app sends, so a test
/// can tell which SOAP actions went out and in what order (the mock's Stop changes nothing
/// one could see). The device's answers name its own port in their service addresses; the
/// proxy puts its own in their place (both are 5-digit ephemeral ports: lengths stay).
struct Sniffer {
    port: u16,
    sent: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Sniffer {
    fn start(upstream: u16) -> Sniffer {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (from, to) = (format!(":{upstream}"), format!(":{port}"));
        assert_eq!(from.len(), to.len(), "ports of the same length");
        let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = sent.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else { continue };
                let Ok(mut up) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (mut c2, mut up2) = (c.try_clone().unwrap(), up.try_clone().unwrap());
                let log = log.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = c.read(&mut buf) {
                        if n == 0 || up.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        log.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = up.shutdown(std::net::Shutdown::Write);
                });
                let (from, to) = (from.clone().into_bytes(), to.clone().into_bytes());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    let mut held: Vec<u8> = Vec::new();
                    while let Ok(n) = up2.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        held.extend_from_slice(&buf[..n]);
                        let mut i = 0;
                        while i + from.len() <= held.len() {
                            if held[i..i + from.len()] == from[..] {
                                held[i..i + from.len()].copy_from_slice(&to);
                                i += from.len();
                            } else {
                                i += 1;
                            }
                        }
                        // Hold back only a tail that may be the start of the port.
                        let keep = (1..from.len())
                            .rev()
                            .find(|&k| k <= held.len() && held[held.len() - k..] == from[..k])
                            .unwrap_or(0);
                        let out = held.len() - keep;
                        if c2.write_all(&held[..out]).is_err() {
                            break;
                        }
                        held.drain(..out);
                    }
                    let _ = c2.write_all(&held);
                    let _ = c2.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Sniffer { port, sent }
    }

    /// The PTZ moves and stops sent so far, in order ("Move", "Stop").
    fn motions(&self) -> Vec<&'static str> {
        let sent = String::from_utf8_lossy(&self.sent.lock().unwrap()).into_owned();
        let mut out = Vec::new();
        let mut rest = sent.as_str();
        loop {
            let m = rest.find("<tptz:ContinuousMove>");
            let s = rest.find("<tptz:Stop>");
            let (at, what) = match (m, s) {
                (Some(m), Some(s)) if m < s => (m, "Move"),
                (Some(_), Some(s)) => (s, "Stop"),
                (Some(m), None) => (m, "Move"),
                (None, Some(s)) => (s, "Stop"),
                (None, None) => break,
            };
            out.push(what);
            rest = &rest[at + 1..];
        }
        out
    }
}

fn hold(h: &mut egui_kittest::Harness<'static, MatThanApp>, at: egui::Pos2, pressed: bool) {
    h.input_mut().events.push(egui::Event::PointerMoved(at));
    h.run_steps(1);
    h.input_mut().events.push(egui::Event::PointerButton {
        pos: at,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: Default::default(),
    });
}

fn ptz_camera_file(dir: &std::path::Path, rtsp: &str, onvif_port: u16) -> mt_core::CameraConfig {
    let _ = dir;
    crate::util::camera(
        "xd-ptz",
        rtsp,
        &format!(
            "heading_deg = 90\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\nonvif = \"http://127.0.0.1:{onvif_port}/onvif/device_service\"\nptz = true"
        ),
    )
}

#[test]
fn a_maximised_ptz_tile_turns_the_camera_while_an_arrow_is_held_and_goes_to_a_preset() {
    let (_rt, server) = mock_camera(false);
    let sim = mt_capture::sim::SimServer::start_with(
        &crate::util::assets(),
        0,
        1,
        &mt_capture::sim::SimOptions {
            mounts: vec![(
                "/ptz".into(),
                serde_json::json!({"source": "live", "width": 640, "height": 360, "fps": 10}),
            )],
            ..Default::default()
        },
    )
    .expect("the RTSP server starts");
    let dir = tempfile::tempdir().unwrap();
    let sniffer = Sniffer::start(server.port());
    let cfg = ptz_camera_file(dir.path(), &sim.url("ptz"), sniffer.port);
    let capture = mt_capture::Capture::new(mt_capture::Timeouts::default()).unwrap();
    let handle = capture.start_camera(cfg).unwrap();
    let site = mt_core::CameraSite::from_config(&handle.config);
    let here = mt_map::lonlat_to_merc(site.lon_deg, site.lat_deg);
    let mut map = mt_ui::map::MapUi::new(Arc::new(mt_map::MapData::default()), vec![], vec![site]);
    // Close in: the 30 m cone is some 120 points long.
    map.view = Some(mt_map::proj::View {
        center: here,
        mpp: 0.25,
    });
    let state = WallState {
        layout: WallLayout::G1,
        tiles: vec![Some("xd-ptz".into())],
        show_health: false,
        view: mt_ui::app::CentralView::Split,
        ..Default::default()
    };
    let (db, log) = crate::ui::supervisor_log(dir.path());
    let mut app = MatThanApp::new(&egui::Context::default(), vec![handle], state, None, vec![])
        .with_map(map)
        .with_log(log);
    app.maximised = Some(0);
    let mut h = crate::ui::video_harness(app);
    crate::ui::sign_in(&mut h, "gs01", "135790");
    // The panel asks the camera first: its presets come from the device.
    assert!(
        wait_for(Duration::from_secs(10), || {
            h.run_steps(1);
            h.query_by_label_contains("Hướng +0.00").map(|_| ())
        })
        .is_some(),
        "the panel shows the camera's reported position"
    );
    let (east, south) = cone_pixels(&mut h);
    assert!(
        east && !south,
        "the file's heading: east (east lit: {east}, south lit: {south})"
    );
    let before = device_pan(&server);
    assert!(sniffer.motions().is_empty());
    // Hold "Phải" (right) for 5 s: a move, renewed while held, and a stop when let go.
    let right = h.get_by_label("Phải").rect().center();
    hold(&mut h, right, true);
    let turned = wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        (device_pan(&server) > before).then_some(())
    });
    assert!(turned.is_some(), "holding the arrow turned the camera");
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(50));
    }
    let held = sniffer.motions();
    assert!(
        held.len() >= 2 && held.iter().all(|m| *m == "Move"),
        "the move is renewed while held, no stop: {held:?}"
    );
    hold(&mut h, right, false);
    let stopped = wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        (sniffer.motions().last() == Some(&"Stop")).then_some(())
    });
    assert!(
        stopped.is_some(),
        "let go: a stop went out {:?}",
        sniffer.motions()
    );
    // And nothing after it: no move is renewed once the arrow is let go.
    let after_stop = sniffer.motions().len();
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_millis(3500) {
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        sniffer.motions().len(),
        after_stop,
        "no move after the stop: {:?}",
        sniffer.motions()
    );
    h.run_steps(2);
    let pan = device_pan(&server);
    let shown = format!("Hướng {pan:+.2}");
    assert!(
        wait_for(Duration::from_secs(10), || {
            h.run_steps(1);
            h.query_by_label_contains(&shown).map(|_| ())
        })
        .is_some(),
        "the panel shows where the camera now points ({shown})"
    );
    // The app keeps the pan the device itself now has (the map turns the cone by it).
    assert_eq!(h.state().ptz_pan.get("xd-ptz").copied(), Some(pan));

    // Go to the device's preset "Door" (pan 0.5) from the list.
    h.get_by_role_and_label(egui::Role::ComboBox, "Điểm đặt trước")
        .click();
    h.run_steps(2);
    h.get_by_label("Door").click();
    h.run_steps(2);
    h.get_by_label("Đi tới").click();
    let went = wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        (device_pan(&server) == 0.5).then_some(())
    });
    assert!(went.is_some(), "the camera went to the preset");
    // On the officer's record: which camera, which preset (not every move).
    let rows = wait_for(Duration::from_secs(5), || {
        let conn = rusqlite::Connection::open(&db).ok()?;
        let rows: Vec<(String, String, String)> = conn
            .prepare("SELECT operator_id, action, subject FROM audit_log WHERE action LIKE 'ptz%'")
            .ok()?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .ok()?
            .filter_map(Result::ok)
            .collect();
        (!rows.is_empty()).then_some(rows)
    })
    .expect("the preset is audited")
    .0;
    assert_eq!(
        rows,
        [(
            "gs01".to_string(),
            "ptz-goto-preset".to_string(),
            "camera=xd-ptz preset=\"Door\"".to_string()
        )]
    );
    // The panel asks again and the map turns the cone: east (90°) before, south now.
    assert!(wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        h.query_by_label_contains("Hướng +0.50").map(|_| ())
    })
    .is_some());
    assert_eq!(
        h.state().ptz_pan.get("xd-ptz").copied(),
        Some(device_pan(&server))
    );
    let (east, south) = cone_pixels(&mut h);
    assert!(
        south && !east,
        "the cone points south on the map (east lit: {east}, south lit: {south})"
    );
    // Restoring the tile while an arrow is held: the move stops and the panel closes.
    let n = sniffer.motions().len();
    let left = h.get_by_label("Trái").rect().center();
    hold(&mut h, left, true);
    let moving = wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        (sniffer.motions().len() > n).then_some(())
    });
    assert!(moving.is_some());
    h.state_mut().maximised = None;
    let stopped = wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        let m = sniffer.motions();
        (m[n..].contains(&"Move") && m.last() == Some(&"Stop")).then_some(())
    });
    assert!(
        stopped.is_some(),
        "the restored tile's held move was stopped: {:?}",
        &sniffer.motions()[n..]
    );
    hold(&mut h, left, false);
    h.run_steps(2);
    assert!(h.query_by_label("Phải").is_none());
    assert!(h.state().ptz.is_none());
}

/// Whether the map's cone covers the points 50 pt east and 50 pt south of the camera: the
/// rendered pixel there differs from the map's background south-west of it.
fn cone_pixels(h: &mut egui_kittest::Harness<'static, MatThanApp>) -> (bool, bool) {
    h.run_steps(1);
    let map = h.state().map.as_ref().unwrap();
    let p = mt_ui::map::site_position(map, 0).expect("the camera is on the map");
    let img = h.render().expect("renders");
    let ppp = h.ctx.pixels_per_point();
    let px = |q: egui::Pos2| {
        let c = img.get_pixel((q.x * ppp) as u32, (q.y * ppp) as u32).0;
        [c[0] as i32, c[1] as i32, c[2] as i32]
    };
    // South-west: outside the cone both before and after (the live picture above the
    // camera is not a background).
    let bg = px(p + egui::vec2(-50.0, 50.0));
    let lit = |q: egui::Pos2| {
        let c = px(q);
        (0..3).map(|k| (c[k] - bg[k]).abs()).sum::<i32>() > 30
    };
    (
        lit(p + egui::vec2(50.0, 0.0)),
        lit(p + egui::vec2(0.0, 50.0)),
    )
}

#[test]
fn the_camera_form_asks_the_device_over_onvif_and_fills_the_streams_and_ptz() {
    let (_rt, server) = mock_camera(false);
    let dir = tempfile::tempdir().unwrap();
    let cam_file = dir.path().join("cameras.toml");
    std::fs::write(&cam_file, "# Camera của phường\n").unwrap();
    let capture = Arc::new(mt_capture::Capture::new(mt_capture::Timeouts::default()).unwrap());
    let file = mt_core::load_cameras(&cam_file).unwrap();
    let (_db, log) = crate::ui::supervisor_log(dir.path());
    let app = MatThanApp::new(
        &egui::Context::default(),
        vec![],
        WallState::default(),
        None,
        vec![],
    )
    .with_log(log)
    .with_camera_admin(capture, cam_file.clone(), Some(file.text.clone()));
    let mut h = crate::ui::harness(app);
    crate::ui::sign_in(&mut h, "gs01", "135790");
    crate::cameras::new_camera_form(&mut h, "xd-200", "Cổng trường", "ONVIF");
    crate::cameras::replace_text(&mut h, "Cổng ONVIF (HTTP)", &server.port().to_string());
    crate::ui::type_into(&mut h, egui::Role::TextInput, "Tên đăng nhập", USER);
    let wrong = "sai-mat-khau-555";
    crate::ui::type_into(&mut h, egui::Role::PasswordInput, "Mật khẩu", wrong);
    h.get_by_label("Lấy thông tin ONVIF").click();
    assert!(
        crate::cameras::wait_label(&mut h, "Sai tên đăng nhập hoặc mật khẩu"),
        "the refusal is told"
    );
    assert!(h.query_by_label_contains(wrong).is_none());

    crate::cameras::replace_text_role(&mut h, egui::Role::PasswordInput, "Mật khẩu", PASSWORD);
    h.get_by_label("Lấy thông tin ONVIF").click();
    assert!(
        crate::cameras::wait_label(&mut h, "oxvif-mock MockCam-1080p"),
        "the device is named"
    );
    // The device's stream URI went into the form, shown with the password masked.
    assert!(h
        .query_by_label("Luồng chính sẽ mở: rtsp://admin:••••@127.0.0.1:554/mock/stream")
        .is_some());
    assert!(h.query_by_label_contains(PASSWORD).is_none());
    h.get_by_label("Lưu camera").click();
    let saved = wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        let text = std::fs::read_to_string(&cam_file).ok()?;
        text.contains("xd-200").then_some(text)
    })
    .expect("the camera is saved")
    .0;
    let f = mt_core::parse_cameras("cameras.toml", &saved).unwrap();
    let c = &f.cameras[0];
    assert_eq!(
        c.onvif.as_ref().map(|u| u.to_string()),
        Some(format!(
            "http://127.0.0.1:{}/onvif/device_service",
            server.port()
        ))
    );
    assert!(c.ptz);
    assert_eq!(c.main_url.as_str(), "rtsp://127.0.0.1:554/mock/stream");
    // The mock gives every profile the same URI: that is no sub stream.
    assert_eq!(c.sub_url, None);
    assert!(saved.starts_with("# Camera của phường\n"), "{saved}");
}
