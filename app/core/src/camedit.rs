//! Changing the camera file from the app: the form's draft and its field-level checks, the
//! brand templates that build stream URLs, and the edit of `cameras.toml` itself.
//!
//! The file is edited with `toml_edit`, so the officer's comments, blank lines and the order
//! of cameras and fields survive; a value's trailing comment stays with the value. A save
//! writes a temporary file beside it, fsyncs, renames over the old one and fsyncs the
//! directory, so the file is either the old one or the new one. A save first reads the file
//! again: if someone changed it since it was opened (a hand edit), nothing is written and
//! the save says so ([`EditError::ChangedOnDisk`]). The new text is parsed back with the
//! same parser the start-up uses before it is written; an edit that would not load again is
//! refused.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, Value};

use crate::config::{parse_cameras, CameraConfig, CameraId, Transport};
use crate::secret::{Credentials, Secret};

/// Vietnam's bounding box, generous (mainland, Phú Quốc, Côn Đảo, the Paracel and Spratly
/// islands): a camera outside it was typed wrong (lat/lon swapped, a sign lost).
pub const VIETNAM_LAT: (f64, f64) = (7.0, 24.0);
pub const VIETNAM_LON: (f64, f64) = (102.0, 118.0);

/// One field's problem, as the form shows it beside the field. `key` is a translation key
/// (`cam-err-…`), `detail` is an untranslated fact (a number, a parser's message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub key: &'static str,
    pub detail: String,
}

/// The camera form as typed: every field of the camera file, as text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CameraDraft {
    pub id: String,
    pub name: String,
    pub ward: String,
    pub owner: String,
    pub address: String,
    pub lat: String,
    pub lon: String,
    pub heading_deg: String,
    pub fov_deg: String,
    pub range_m: String,
    pub main_url: String,
    pub sub_url: String,
    pub transport: Transport,
    pub username: String,
    pub password: Secret,
    /// The ONVIF device service URL (empty: none).
    pub onvif: String,
    pub ptz: bool,
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl CameraDraft {
    /// A new camera: the usual view, everything else empty.
    pub fn new() -> Self {
        CameraDraft {
            heading_deg: "0".into(),
            fov_deg: "60".into(),
            range_m: "30".into(),
            ..Default::default()
        }
    }

    pub fn from_config(c: &CameraConfig) -> Self {
        CameraDraft {
            id: c.id.0.clone(),
            name: c.name.clone(),
            ward: c.ward.clone(),
            owner: c.owner.clone(),
            address: c.address.clone(),
            lat: num(c.lat_deg),
            lon: num(c.lon_deg),
            heading_deg: num(c.heading_deg),
            fov_deg: num(c.fov_deg),
            range_m: num(c.range_m),
            main_url: c.main_url.to_string(),
            sub_url: c
                .sub_url
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_default(),
            transport: c.transport,
            username: c
                .credentials
                .as_ref()
                .map(|c| c.username.clone())
                .unwrap_or_default(),
            password: c
                .credentials
                .as_ref()
                .map(|c| c.password.clone())
                .unwrap_or_default(),
            onvif: c.onvif.as_ref().map(|u| u.to_string()).unwrap_or_default(),
            ptz: c.ptz,
        }
    }

    /// The credentials the draft gives (none without a user name).
    pub fn credentials(&self) -> Option<Credentials> {
        (!self.username.trim().is_empty()).then(|| Credentials {
            username: self.username.trim().to_owned(),
            password: self.password.clone(),
        })
    }

    /// Checks every field; the camera it describes, or every problem found (all of them,
    /// so the form can mark each field at once). `others` are the ids of the other cameras
    /// (not the one being edited).
    pub fn validate(&self, others: &[CameraId]) -> Result<CameraConfig, Vec<FieldProblem>> {
        let mut p = Vec::new();
        let mut bad = |field: &'static str, key: &'static str, detail: String| {
            p.push(FieldProblem { field, key, detail })
        };
        let id = self.id.trim();
        if id.is_empty() {
            bad("id", "cam-err-required", String::new());
        } else if let Some(c) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            bad("id", "cam-err-id-chars", c.to_string());
        } else if others.iter().any(|o| o.0 == id) {
            bad("id", "cam-err-duplicate", id.to_owned());
        }
        if self.name.trim().is_empty() {
            bad("name", "cam-err-required", String::new());
        }
        let mut number = |field: &'static str, text: &str, range: (f64, f64)| -> f64 {
            let t = text.trim().replace(',', ".");
            if t.is_empty() {
                bad(field, "cam-err-required", String::new());
                return f64::NAN;
            }
            match t.parse::<f64>() {
                Ok(v) if v.is_finite() => {
                    if v < range.0 || v > range.1 {
                        let key = if field == "lat" || field == "lon" {
                            "cam-err-outside-vietnam"
                        } else {
                            "cam-err-range"
                        };
                        bad(field, key, format!("{}…{}", num(range.0), num(range.1)));
                    }
                    v
                }
                _ => {
                    bad(field, "cam-err-number", t);
                    f64::NAN
                }
            }
        };
        let lat_deg = number("lat", &self.lat, VIETNAM_LAT);
        let lon_deg = number("lon", &self.lon, VIETNAM_LON);
        let heading_deg = number("heading_deg", &self.heading_deg, (0.0, 360.0));
        let fov_deg = number("fov_deg", &self.fov_deg, (1.0, 360.0));
        let range_m = number("range_m", &self.range_m, (1.0, 1000.0));
        let main_url = match check_url(&self.main_url) {
            Ok(u) => Some(u),
            Err((key, detail)) => {
                bad("main_url", key, detail);
                None
            }
        };
        let sub_url = if self.sub_url.trim().is_empty() {
            None
        } else {
            match check_url(&self.sub_url) {
                Ok(u) => Some(u),
                Err((key, detail)) => {
                    bad("sub_url", key, detail);
                    None
                }
            }
        };
        if self.username.trim().is_empty() && !self.password.expose().is_empty() {
            bad("username", "cam-err-user-for-password", String::new());
        }
        let onvif = if self.onvif.trim().is_empty() {
            None
        } else {
            match crate::config::onvif_url(&self.onvif) {
                Ok(u) => Some(u),
                Err(detail) => {
                    bad("onvif", "cam-err-onvif-url", detail);
                    None
                }
            }
        };
        if self.ptz && self.onvif.trim().is_empty() {
            bad("onvif", "cam-err-ptz-needs-onvif", String::new());
        }
        match (p.is_empty(), main_url) {
            (true, Some(main_url)) => Ok(CameraConfig {
                id: CameraId(id.to_owned()),
                name: self.name.trim().to_owned(),
                ward: self.ward.trim().to_owned(),
                owner: self.owner.trim().to_owned(),
                address: self.address.trim().to_owned(),
                lat_deg,
                lon_deg,
                heading_deg,
                fov_deg,
                range_m,
                main_url,
                sub_url,
                transport: self.transport,
                credentials: self.credentials(),
                onvif,
                ptz: self.ptz,
            }),
            _ => Err(p),
        }
    }
}

/// An RTSP URL fit for the camera file: rtsp(s)://, a host, a port that is a port, and no
/// user-info (credentials have their own fields, so a password is never part of a URL
/// shown or written). The problem's detail never echoes the URL.
pub fn check_url(raw: &str) -> Result<url::Url, (&'static str, String)> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(("cam-err-required", String::new()));
    }
    let u = url::Url::parse(raw).map_err(|e| {
        let key = if e == url::ParseError::InvalidPort {
            "cam-err-port"
        } else {
            "cam-err-url"
        };
        (key, e.to_string())
    })?;
    if u.scheme() != "rtsp" && u.scheme() != "rtsps" {
        return Err(("cam-err-scheme", format!("{}://", u.scheme())));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(("cam-err-host", String::new()));
    }
    if u.port() == Some(0) {
        return Err(("cam-err-port", "0".into()));
    }
    let secret_in_query = u.query_pairs().any(|(k, _)| {
        matches!(
            k.to_ascii_lowercase().as_str(),
            "password" | "pwd" | "pass" | "passwd"
        )
    });
    if !u.username().is_empty() || u.password().is_some() || secret_in_query {
        return Err(("cam-err-userinfo", String::new()));
    }
    Ok(u)
}

/// How a brand builds its stream URLs from an address, a port and a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    /// `/Streaming/Channels/<ch>01` main, `<ch>02` sub (Hikvision, HiLook, Ezviz).
    Hikvision,
    /// `/cam/realmonitor?channel=<ch>&subtype=0|1` (Dahua, KBVision, Imou).
    Dahua,
    /// The URIs come from the device's ONVIF media service (GetStreamUri); typed by hand
    /// until then.
    Onvif,
    /// A relay (MediaMTX, go2rtc) that republishes the camera under a path: `/<path>` main,
    /// `/<path>_sub` sub.
    Relay,
}

impl Template {
    pub const ALL: [Template; 4] = [
        Template::Hikvision,
        Template::Dahua,
        Template::Onvif,
        Template::Relay,
    ];

    /// Translation key of the template's name.
    pub fn key(self) -> &'static str {
        match self {
            Template::Hikvision => "cam-tpl-hikvision",
            Template::Dahua => "cam-tpl-dahua",
            Template::Onvif => "cam-tpl-onvif",
            Template::Relay => "cam-tpl-relay",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Template::Relay => 8554,
            // The ONVIF device service is HTTP.
            Template::Onvif => 80,
            _ => 554,
        }
    }

    /// The main and sub URLs for `host:port`; `channel` (1-based) for recorders with many
    /// cameras, `path` for a relay. None for ONVIF (asked from the device).
    pub fn urls(self, host: &str, port: u16, channel: u32, path: &str) -> Option<(String, String)> {
        let host = host.trim();
        let hp = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}") // IPv6 literal
        } else {
            format!("{host}:{port}")
        };
        let ch = channel.max(1);
        match self {
            Template::Hikvision => Some((
                format!("rtsp://{hp}/Streaming/Channels/{ch}01"),
                format!("rtsp://{hp}/Streaming/Channels/{ch}02"),
            )),
            Template::Dahua => Some((
                format!("rtsp://{hp}/cam/realmonitor?channel={ch}&subtype=0"),
                format!("rtsp://{hp}/cam/realmonitor?channel={ch}&subtype=1"),
            )),
            Template::Onvif => None,
            Template::Relay => {
                let p = path.trim().trim_matches('/');
                Some((format!("rtsp://{hp}/{p}"), format!("rtsp://{hp}/{p}_sub")))
            }
        }
    }
}

/// A URL as the form shows it: with the user name and a masked password when there are
/// credentials, so the officer sees what the camera will be asked with, never the password.
pub fn shown_url(url: &str, creds: Option<&Credentials>) -> String {
    match (url::Url::parse(url.trim()), creds) {
        (Ok(mut u), Some(c)) => {
            let _ = u.set_username(&c.username);
            let _ = u.set_password((!c.password.expose().is_empty()).then_some("••••"));
            // Query passwords too (`redact_url` would hide the user name as well).
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| match k.to_ascii_lowercase().as_str() {
                    "password" | "pwd" | "pass" | "passwd" => (k.into_owned(), "••••".into()),
                    _ => (k.into_owned(), v.into_owned()),
                })
                .collect();
            if !pairs.is_empty() {
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string().replace("%E2%80%A2", "•")
        }
        (Ok(_), None) => crate::redact_url(url.trim()),
        (Err(_), _) => crate::redact_url(url),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
    #[error("{file}: cannot write: {message}")]
    Write { file: String, message: String },
    #[error("{file}: not valid TOML: {message}")]
    Syntax { file: String, message: String },
    #[error("{file} was changed by someone else since it was opened; nothing was written (open it again to see the change)")]
    ChangedOnDisk { file: String },
    #[error("{file}: no camera with id \"{id}\"")]
    NoSuchCamera { file: String, id: String },
    #[error("{file}: the edited file would not load: {message}")]
    WouldNotLoad { file: String, message: String },
}

/// A save that went through.
#[derive(Debug)]
pub struct Saved {
    /// The cameras the new file holds.
    pub cameras: Vec<CameraConfig>,
    /// The file as written.
    pub text: String,
    /// Written, with this reservation (the folder's fsync failed).
    pub warning: Option<String>,
}

/// The camera file opened for an edit.
pub struct CameraFileEdit {
    path: PathBuf,
    /// The file's bytes when opened (None: there was no file).
    opened: Option<Vec<u8>>,
    doc: DocumentMut,
}

impl CameraFileEdit {
    /// Opens `path` for an edit; a file that does not exist yet is an empty camera file.
    pub fn open(path: &Path) -> Result<Self, EditError> {
        Self::open_expecting(path, None)
    }

    /// As [`open`](Self::open), refusing a file whose bytes are not `expected` (what the
    /// caller's cameras were loaded from): a hand edit since then would be overwritten by
    /// values the officer never saw.
    pub fn open_expecting(path: &Path, expected: Option<&[u8]>) -> Result<Self, EditError> {
        let file = path.display().to_string();
        let opened = read_if_there(path)?;
        if let Some(want) = expected {
            if opened.as_deref().unwrap_or_default() != want {
                return Err(EditError::ChangedOnDisk { file });
            }
        }
        let text = match std::str::from_utf8(opened.as_deref().unwrap_or_default()) {
            Ok(t) => t.to_owned(),
            Err(e) => {
                return Err(EditError::Syntax {
                    file,
                    message: format!("not UTF-8 text ({e}); nothing was written"),
                })
            }
        };
        let doc = text.parse::<DocumentMut>().map_err(|e| EditError::Syntax {
            file,
            message: e.message().trim().to_owned(),
        })?;
        Ok(CameraFileEdit {
            path: path.to_owned(),
            opened,
            doc,
        })
    }

    fn file(&self) -> String {
        self.path.display().to_string()
    }

    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    fn cameras(&mut self) -> &mut toml_edit::ArrayOfTables {
        if self
            .doc
            .get("camera")
            .and_then(Item::as_array_of_tables)
            .is_none()
        {
            self.doc
                .insert("camera", Item::ArrayOfTables(Default::default()));
        }
        self.doc["camera"]
            .as_array_of_tables_mut()
            .expect("just made an array of tables")
    }

    fn position(&mut self, id: &str) -> Option<usize> {
        self.cameras()
            .iter()
            .position(|t| t.get("id").and_then(Item::as_str) == Some(id))
    }

    /// Writes `cam` into the file: over the entry with id `was` (an edit; the id may change),
    /// or appended (a new camera, `was` None). Fields keep their place and comments.
    pub fn upsert(&mut self, was: Option<&str>, cam: &CameraConfig) -> Result<(), EditError> {
        let at = match was {
            Some(id) => Some(self.position(id).ok_or_else(|| EditError::NoSuchCamera {
                file: self.file(),
                id: id.to_owned(),
            })?),
            None => None,
        };
        // A file of comments only: toml_edit keeps them as the document's trailing text,
        // which would put them after the first camera. They stay on top.
        let lead = match at {
            None if self.doc.as_table().is_empty() => {
                let text = self.doc.trailing().as_str().unwrap_or("").to_owned();
                self.doc.set_trailing("");
                text
            }
            _ => String::new(),
        };
        let arr = self.cameras();
        let t = match at {
            Some(i) => arr.get_mut(i).expect("position is in range"),
            None => {
                arr.push(Table::new());
                let n = arr.len();
                arr.get_mut(n - 1).expect("just pushed")
            }
        };
        if !lead.is_empty() {
            t.decor_mut().set_prefix(lead);
        }
        fill(t, cam);
        Ok(())
    }

    /// Removes the camera `id` from the file.
    pub fn remove(&mut self, id: &str) -> Result<(), EditError> {
        let i = self.position(id).ok_or_else(|| EditError::NoSuchCamera {
            file: self.file(),
            id: id.to_owned(),
        })?;
        self.cameras().remove(i);
        Ok(())
    }

    /// Writes the edited file atomically, unless it changed on disk since it was opened or
    /// the new text would not load.
    pub fn save(&self) -> Result<Saved, EditError> {
        let file = self.file();
        let now = read_if_there(&self.path)?;
        if now != self.opened {
            return Err(EditError::ChangedOnDisk { file });
        }
        let text = self.doc.to_string();
        let parsed = parse_cameras(&file, &text).map_err(|e| EditError::WouldNotLoad {
            file: file.clone(),
            message: e.to_string(),
        })?;
        // Entries that were bad before may stay bad (they are the officer's to fix); an edit
        // must not add a new error.
        let before = self
            .opened
            .as_deref()
            .map(|b| parse_cameras(&file, &String::from_utf8_lossy(b)))
            .and_then(Result::ok)
            .map(|f| f.errors)
            .unwrap_or_default();
        if parsed.errors.len() > before.len() {
            // The error the edit brought (by its message without the line, which may move).
            let strip = |e: &crate::ConfigError| match e {
                crate::ConfigError::Field {
                    index,
                    id,
                    field,
                    message,
                    ..
                } => {
                    format!("{index}{id}{field}{message}")
                }
                other => other.to_string(),
            };
            let old: Vec<String> = before.iter().map(strip).collect();
            let new = parsed
                .errors
                .iter()
                .find(|e| !old.contains(&strip(e)))
                .unwrap_or(&parsed.errors[parsed.errors.len() - 1]);
            return Err(EditError::WouldNotLoad {
                file,
                message: new.to_string(),
            });
        }
        let warning = crate::atomic::write(&self.path, text.as_bytes(), None)
            .map_err(|e| EditError::Write {
                file: self.file(),
                message: e.to_string(),
            })?
            .map(|e| {
                format!(
                    "{}: written, but its folder could not be synced: {e}",
                    self.file()
                )
            });
        Ok(Saved {
            cameras: parsed.cameras,
            text,
            warning,
        })
    }
}

/// The file's bytes, or None when there is no file yet.
fn read_if_there(path: &Path) -> Result<Option<Vec<u8>>, EditError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EditError::Read {
            file: path.display().to_string(),
            message: e.to_string(),
        }),
    }
}

/// Sets `key` to `v`, keeping the decoration (comments, spacing) of the value it replaces.
fn set(t: &mut Table, key: &str, v: impl Into<Value>) {
    let mut v: Value = v.into();
    if let Some(old) = t.get(key).and_then(Item::as_value) {
        *v.decor_mut() = old.decor().clone();
    }
    match t.get_mut(key) {
        Some(item) => *item = Item::Value(v),
        None => {
            t.insert(key, Item::Value(v));
        }
    }
}

fn set_or_remove(t: &mut Table, key: &str, v: &str) {
    if v.is_empty() {
        t.remove(key);
    } else {
        set(t, key, v);
    }
}

fn set_num(t: &mut Table, key: &str, v: f64) {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        set(t, key, v as i64);
    } else {
        set(t, key, v);
    }
}

fn fill(t: &mut Table, c: &CameraConfig) {
    set(t, "id", c.id.0.as_str());
    set(t, "name", c.name.as_str());
    set_or_remove(t, "ward", &c.ward);
    set_or_remove(t, "owner", &c.owner);
    set_or_remove(t, "address", &c.address);
    set_num(t, "lat", c.lat_deg);
    set_num(t, "lon", c.lon_deg);
    set_num(t, "heading_deg", c.heading_deg);
    set_num(t, "fov_deg", c.fov_deg);
    set_num(t, "range_m", c.range_m);
    set(t, "main_url", c.main_url.as_str());
    set_or_remove(
        t,
        "sub_url",
        c.sub_url.as_ref().map(|u| u.as_str()).unwrap_or(""),
    );
    match c.transport {
        // tcp is the default: keep an explicit line if there was one.
        Transport::Tcp if t.contains_key("transport") => set(t, "transport", "tcp"),
        Transport::Tcp => {}
        Transport::Udp => set(t, "transport", "udp"),
    }
    match &c.credentials {
        Some(cr) => {
            set(t, "username", cr.username.as_str());
            set_or_remove(t, "password", cr.password.expose());
        }
        None => {
            t.remove("username");
            t.remove("password");
        }
    }
    set_or_remove(
        t,
        "onvif",
        c.onvif.as_ref().map(|u| u.as_str()).unwrap_or(""),
    );
    if c.ptz {
        set(t, "ptz", true);
    } else {
        t.remove("ptz");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_comments_keeps_them_on_top_of_its_first_camera() {
        let dir = std::env::temp_dir().join(format!("mt-camedit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cameras.toml");
        std::fs::write(&path, "# Camera của phường\n# dòng hai\n").unwrap();
        let mut e = CameraFileEdit::open(&path).unwrap();
        let mut d = CameraDraft::new();
        d.id = "xd-1".into();
        d.name = "Một".into();
        d.lat = "21.07".into();
        d.lon = "105.79".into();
        d.main_url = "rtsp://10.0.0.5/main".into();
        e.upsert(None, &d.validate(&[]).unwrap()).unwrap();
        let saved = e.save().unwrap();
        assert!(
            saved
                .text
                .starts_with("# Camera của phường\n# dòng hai\n[[camera]]\n"),
            "{}",
            saved.text
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn templates_build_the_brands_urls() {
        let (m, s) = Template::Hikvision.urls("10.0.0.5", 554, 2, "").unwrap();
        assert_eq!(m, "rtsp://10.0.0.5:554/Streaming/Channels/201");
        assert_eq!(s, "rtsp://10.0.0.5:554/Streaming/Channels/202");
        let (m, s) = Template::Dahua.urls("cam.local", 554, 1, "").unwrap();
        assert_eq!(
            m,
            "rtsp://cam.local:554/cam/realmonitor?channel=1&subtype=0"
        );
        assert_eq!(
            s,
            "rtsp://cam.local:554/cam/realmonitor?channel=1&subtype=1"
        );
        let (m, s) = Template::Relay.urls("relay", 8554, 1, "/xd-001").unwrap();
        assert_eq!(
            (m.as_str(), s.as_str()),
            ("rtsp://relay:8554/xd-001", "rtsp://relay:8554/xd-001_sub")
        );
        assert!(Template::Onvif.urls("h", 80, 1, "").is_none());
    }

    #[test]
    fn shown_url_masks_the_password() {
        let c = Credentials {
            username: "admin".into(),
            password: Secret::new("bi-mat"),
        };
        let s = shown_url("rtsp://h:554/a", Some(&c));
        assert_eq!(s, "rtsp://admin:••••@h:554/a");
        assert!(!s.contains("bi-mat"));
    }
}
