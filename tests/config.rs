//! Bad camera files: every kind gets an error naming the file, the line and the field, and a
//! bad entry does not stop the good ones.

use mt_core::{load_cameras, parse_cameras, ConfigError};

const GOOD: &str = r#"
[[camera]]
id = "ok-1"
name = "Ngã tư Xuân Đỉnh"
lat = 21.07
lon = 105.79
main_url = "rtsp://127.0.0.1:8554/cam1/main"
"#;

/// Parses GOOD + `bad` and returns the single error, checking the good camera survived.
fn one_error(bad: &str) -> ConfigError {
    let text = format!("{GOOD}\n{bad}");
    let f = parse_cameras("cameras.toml", &text).expect("file-level parse");
    assert_eq!(
        f.cameras.len(),
        1,
        "the good camera must still load: {:?}",
        f.errors
    );
    assert_eq!(f.errors.len(), 1, "{:?}", f.errors);
    f.errors.into_iter().next().unwrap()
}

fn line_of(text: &str, needle: &str) -> usize {
    let full = format!("{GOOD}\n{text}");
    full.lines()
        .collect::<Vec<_>>()
        .iter()
        .rposition(|l| l.contains(needle))
        .expect("needle")
        + 1
}

#[test]
fn missing_required_field_names_file_line_and_field() {
    let bad = "[[camera]]\nid = \"x\"\nlat = 21.0\nlon = 105.0\nmain_url = \"rtsp://h/s\"\n";
    let e = one_error(bad);
    assert_eq!(e.field(), Some("name"));
    let msg = e.to_string();
    assert!(msg.starts_with("cameras.toml:"), "{msg}");
    assert!(msg.contains("missing"), "{msg}");
    assert!(msg.contains("camera #2"), "{msg}");
    assert_eq!(e.line(), Some(line_of(bad, "[[camera]]")), "{msg}");
}

#[test]
fn wrong_type_points_at_the_value_line() {
    let bad = "[[camera]]\nid = \"x\"\nname = \"X\"\nlat = \"hai mốt\"\nlon = 105.0\nmain_url = \"rtsp://h/s\"\n";
    let e = one_error(bad);
    assert_eq!(e.field(), Some("lat"));
    assert_eq!(e.line(), Some(line_of(bad, "hai mốt")));
    assert!(e.to_string().contains("expected a number"), "{e}");
    assert!(e.to_string().contains("id \"x\""), "{e}");
}

#[test]
fn out_of_range_number_is_rejected() {
    let bad = "[[camera]]\nid = \"x\"\nname = \"X\"\nlat = 121.0\nlon = 105.0\nmain_url = \"rtsp://h/s\"\n";
    let e = one_error(bad);
    assert_eq!(e.field(), Some("lat"));
    assert!(e.to_string().contains("out of range"), "{e}");
}

#[test]
fn non_rtsp_url_is_rejected_without_echoing_credentials() {
    let bad = "[[camera]]\nid = \"x\"\nname = \"X\"\nlat = 21.0\nlon = 105.0\nmain_url = \"http://admin:hunter2@h/s\"\n";
    let e = one_error(bad);
    assert_eq!(e.field(), Some("main_url"));
    assert_eq!(e.line(), Some(line_of(bad, "http://")));
    let msg = e.to_string();
    assert!(msg.contains("rtsp://"), "{msg}");
    assert!(!msg.contains("hunter2"), "password leaked: {msg}");
}

#[test]
fn unknown_field_is_named() {
    let bad = "[[camera]]\nid = \"x\"\nname = \"X\"\nlat = 21.0\nlon = 105.0\nmain_url = \"rtsp://h/s\"\nheadng_deg = 90\n";
    let e = one_error(bad);
    assert_eq!(e.field(), Some("headng_deg"));
    assert_eq!(e.line(), Some(line_of(bad, "headng_deg")));
}

#[test]
fn bad_transport_and_orphan_password_are_rejected() {
    let e = one_error("[[camera]]\nid = \"x\"\nname = \"X\"\nlat = 21.0\nlon = 105.0\nmain_url = \"rtsp://h/s\"\ntransport = \"quic\"\n");
    assert_eq!(e.field(), Some("transport"));
    let e = one_error("[[camera]]\nid = \"y\"\nname = \"Y\"\nlat = 21.0\nlon = 105.0\nmain_url = \"rtsp://h/s\"\npassword = \"hunter2\"\n");
    assert_eq!(e.field(), Some("password"));
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn duplicate_id_keeps_the_first_camera() {
    let e = one_error(&GOOD.replace("Ngã tư Xuân Đỉnh", "Bản sao"));
    assert_eq!(e.field(), Some("id"));
    assert!(e.to_string().contains("duplicate"), "{e}");
}

#[test]
fn toml_syntax_error_names_the_line() {
    let text = format!("{GOOD}\n[[camera]]\nid = \"x\nname = \"X\"\n");
    let e = parse_cameras("cameras.toml", &text).unwrap_err();
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e:?}");
    assert_eq!(e.line(), Some(GOOD.lines().count() + 3), "{e}");
    assert!(e.to_string().starts_with("cameras.toml:"), "{e}");
}

#[test]
fn unreadable_file_names_the_path() {
    let e = load_cameras(std::path::Path::new("/nonexistent/cameras.toml")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/cameras.toml"), "{e}");
}

#[test]
fn separate_password_field_and_url_password_both_stay_secret() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cameras.toml");
    std::fs::write(&p, "[[camera]]\nid = \"a\"\nname = \"A\"\nlat = 21.0\nlon = 105.0\nmain_url = \"rtsp://admin:hunter2@10.0.0.5/main\"\n\n[[camera]]\nid = \"b\"\nname = \"B\"\nlat = 21.0\nlon = 105.0\nmain_url = \"rtsp://10.0.0.6/main\"\nusername = \"admin\"\npassword = \"hunter3\"\n").unwrap();
    let f = load_cameras(&p).unwrap();
    assert_eq!(f.cameras.len(), 2, "{:?}", f.errors);
    for c in &f.cameras {
        let shown = format!("{c:?} {} {}", c.display_url(), c.main_url);
        assert!(
            !shown.contains("hunter2") && !shown.contains("hunter3"),
            "{shown}"
        );
        assert_eq!(c.credentials.as_ref().unwrap().username, "admin");
    }
    assert_eq!(
        f.cameras[0].credentials.as_ref().unwrap().password.expose(),
        "hunter2"
    );
    assert_eq!(
        f.cameras[1].credentials.as_ref().unwrap().password.expose(),
        "hunter3"
    );
}
