//! The camera file (`cameras.toml`): parsed once, at the edge, into [`CameraConfig`] values.
//!
//! Errors name the file, the line and the field. A bad entry is reported and skipped; the
//! other cameras still load ([`CameraFile::errors`]). Only a file that is not TOML at all, or
//! cannot be read, fails as a whole.
//!
//! ```toml
//! [[camera]]
//! id = "xd-001"
//! name = "Ngã tư Xuân Đỉnh"
//! ward = "Xuân Đỉnh"
//! owner = "Cửa hàng Minh Anh"
//! address = "12 Xuân Đỉnh"
//! lat = 21.0712
//! lon = 105.7885
//! heading_deg = 90
//! fov_deg = 70
//! range_m = 40
//! main_url = "rtsp://cam.local:554/main"
//! sub_url = "rtsp://cam.local:554/sub"   # optional
//! transport = "tcp"                      # or "udp"; tcp by default
//! username = "admin"                     # optional; may also be in the URL
//! password = "…"                         # optional; never shown or logged
//! onvif = "http://cam.local/onvif/device_service"  # optional: the ONVIF device service
//! ptz = true                             # optional: the camera turns (ONVIF PTZ)
//! ```

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::secret::{redact_url, Credentials, Secret};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CameraId(pub String);

impl fmt::Display for CameraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Transport {
    #[default]
    Tcp,
    Udp,
}

/// One camera, with credentials split out of its URLs. `Debug` never shows the password
/// ([`Secret`]), and the URLs hold no user-info.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraConfig {
    pub id: CameraId,
    pub name: String,
    pub ward: String,
    pub owner: String,
    pub address: String,
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub heading_deg: f64,
    pub fov_deg: f64,
    pub range_m: f64,
    /// Main (full-resolution) stream, without credentials.
    pub main_url: url::Url,
    /// Optional sub (low-resolution) stream, without credentials.
    pub sub_url: Option<url::Url>,
    pub transport: Transport,
    pub credentials: Option<Credentials>,
    /// The camera's ONVIF device service (http(s), without credentials: the camera's own
    /// are used), when it speaks ONVIF.
    pub onvif: Option<url::Url>,
    /// The camera turns and zooms (ONVIF PTZ through `onvif`).
    pub ptz: bool,
}

impl CameraConfig {
    /// The main URL fit for display (no credentials).
    pub fn display_url(&self) -> String {
        redact_url(self.main_url.as_str())
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ConfigError {
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    #[error("{file}:{line}: not valid TOML: {message}")]
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}:{line}: camera #{index}{id}: field `{field}`: {message}")]
    Field {
        file: String,
        line: usize,
        /// 1-based position of the `[[camera]]` entry in the file.
        index: usize,
        /// ` (id "…")` when the entry's id is known, else empty.
        id: String,
        field: String,
        message: String,
    },
}

impl ConfigError {
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Syntax { line, .. } | ConfigError::Field { line, .. } => Some(*line),
        }
    }
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Field { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// What a camera file yielded: the good cameras, and one error per bad entry.
#[derive(Debug, Default)]
pub struct CameraFile {
    pub path: PathBuf,
    /// The file as read (the camera window refuses to save over a file that changed since).
    pub text: String,
    pub cameras: Vec<CameraConfig>,
    pub errors: Vec<ConfigError>,
}

/// Reads and parses a camera file. `Err` only when the file cannot be read or is not TOML.
pub fn load_cameras(path: &Path) -> Result<CameraFile, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let mut parsed = parse_cameras(&file, &text)?;
    parsed.path = path.to_owned();
    parsed.text = text;
    Ok(parsed)
}

const KNOWN_FIELDS: &[&str] = &[
    "id",
    "name",
    "ward",
    "owner",
    "address",
    "lat",
    "lon",
    "heading_deg",
    "fov_deg",
    "range_m",
    "main_url",
    "sub_url",
    "transport",
    "username",
    "password",
    "onvif",
    "ptz",
];

/// Parses camera-file text; `file` is the name used in error messages.
pub fn parse_cameras(file: &str, text: &str) -> Result<CameraFile, ConfigError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let root = DeTable::parse(text).map_err(|e| ConfigError::Syntax {
        file: file.to_owned(),
        line: e.span().map(|s| line_of(s.start)).unwrap_or(1),
        message: e.message().trim().to_owned(),
    })?;
    let mut out = CameraFile::default();
    let root_ref = root.get_ref();
    for (key, value) in root_ref.iter() {
        if key.get_ref() != "camera" {
            out.errors.push(ConfigError::Field {
                file: file.to_owned(),
                line: line_of(key.span().start),
                index: 0,
                id: String::new(),
                field: key.get_ref().to_string(),
                message: "unknown top-level key; cameras go in [[camera]] tables".into(),
            });
            continue;
        }
        let DeValue::Array(entries) = value.get_ref() else {
            out.errors.push(ConfigError::Field {
                file: file.to_owned(),
                line: line_of(value.span().start),
                index: 0,
                id: String::new(),
                field: "camera".into(),
                message: "must be an array of tables ([[camera]])".into(),
            });
            continue;
        };
        let mut seen = HashSet::new();
        for (i, entry) in entries.iter().enumerate() {
            let cx = Entry {
                file,
                text,
                index: i + 1,
                id: String::new(),
                span: entry.span(),
            };
            match parse_entry(cx, entry) {
                Ok(cam) => {
                    if !seen.insert(cam.id.clone()) {
                        out.errors.push(ConfigError::Field {
                            file: file.to_owned(),
                            line: line_of(entry.span().start),
                            index: i + 1,
                            id: format!(" (id \"{}\")", cam.id),
                            field: "id".into(),
                            message: "duplicate id; the first camera with it is kept".into(),
                        });
                    } else {
                        out.cameras.push(cam);
                    }
                }
                Err(e) => out.errors.push(e),
            }
        }
    }
    Ok(out)
}

struct Entry<'a> {
    file: &'a str,
    text: &'a str,
    index: usize,
    id: String,
    span: std::ops::Range<usize>,
}

impl Entry<'_> {
    fn err(
        &self,
        span: std::ops::Range<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        let offset = if span.is_empty() && span.start == 0 {
            self.span.start
        } else {
            span.start
        };
        ConfigError::Field {
            file: self.file.to_owned(),
            line: self.text[..offset.min(self.text.len())]
                .matches('\n')
                .count()
                + 1,
            index: self.index,
            id: if self.id.is_empty() {
                String::new()
            } else {
                format!(" (id \"{}\")", self.id)
            },
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

type Table<'i> = DeTable<'i>;

fn get<'t, 'i>(t: &'t Table<'i>, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
    t.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
}

fn string(cx: &Entry, t: &Table, key: &str, required: bool) -> Result<Option<String>, ConfigError> {
    match get(t, key) {
        None if required => Err(cx.err(cx.span.clone(), key, "missing (required)")),
        None => Ok(None),
        Some(v) => match v.get_ref() {
            DeValue::String(s) => {
                let s: &Cow<str> = s;
                if required && s.trim().is_empty() {
                    Err(cx.err(v.span(), key, "must not be empty"))
                } else {
                    Ok(Some(s.to_string()))
                }
            }
            other => Err(cx.err(
                v.span(),
                key,
                format!("expected a string, found {}", kind(other)),
            )),
        },
    }
}

fn number(
    cx: &Entry,
    t: &Table,
    key: &str,
    range: (f64, f64),
    default: Option<f64>,
) -> Result<f64, ConfigError> {
    let Some(v) = get(t, key) else {
        return default.ok_or_else(|| cx.err(cx.span.clone(), key, "missing (required)"));
    };
    let n = match v.get_ref() {
        DeValue::Integer(i) => i
            .as_str()
            .replace('_', "")
            .parse::<i64>()
            .ok()
            .map(|i| i as f64),
        DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
        other => {
            return Err(cx.err(
                v.span(),
                key,
                format!("expected a number, found {}", kind(other)),
            ))
        }
    };
    let Some(n) = n.filter(|n| n.is_finite()) else {
        return Err(cx.err(v.span(), key, "not a finite number"));
    };
    if n < range.0 || n > range.1 {
        return Err(cx.err(
            v.span(),
            key,
            format!("{n} is out of range {}..={}", range.0, range.1),
        ));
    }
    Ok(n)
}

fn kind(v: &DeValue) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Parses an RTSP URL, moving user-info into credentials. Errors never echo the URL itself
/// (it may hold a password); they say what is wrong with it.
fn rtsp_url(
    cx: &Entry,
    t: &Table,
    key: &str,
    raw: &str,
) -> Result<(url::Url, Option<Credentials>), ConfigError> {
    let span = get(t, key).map(|v| v.span()).unwrap_or(cx.span.clone());
    let mut u = url::Url::parse(raw)
        .map_err(|e| cx.err(span.clone(), key, format!("not a valid URL ({e})")))?;
    if u.scheme() != "rtsp" && u.scheme() != "rtsps" {
        return Err(cx.err(
            span,
            key,
            format!("scheme must be rtsp://, found {}://", u.scheme()),
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(cx.err(span, key, "URL has no host"));
    }
    let creds = if !u.username().is_empty() || u.password().is_some() {
        let user = percent_decode(u.username());
        let pass = percent_decode(u.password().unwrap_or(""));
        let _ = u.set_username("");
        let _ = u.set_password(None);
        Some(Credentials {
            username: user,
            password: Secret::new(pass),
        })
    } else {
        None
    };
    Ok((u, creds))
}

/// Decodes the percent-encoding `url` keeps in user-info.
pub fn percent_decode(s: &str) -> String {
    // url keeps user-info percent-encoded; decode it byte-wise (small and dependency-free).
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_entry(mut cx: Entry, entry: &Spanned<DeValue>) -> Result<CameraConfig, ConfigError> {
    let DeValue::Table(t) = entry.get_ref() else {
        return Err(cx.err(
            entry.span(),
            "camera",
            "each camera must be a table ([[camera]])",
        ));
    };
    let id = string(&cx, t, "id", true)?.unwrap_or_default();
    cx.id = id.clone();
    for (k, _) in t.iter() {
        if !KNOWN_FIELDS.contains(&k.get_ref().as_ref()) {
            return Err(cx.err(
                k.span(),
                k.get_ref(),
                format!("unknown field; known fields: {}", KNOWN_FIELDS.join(", ")),
            ));
        }
    }
    let name = string(&cx, t, "name", true)?.unwrap_or_default();
    let ward = string(&cx, t, "ward", false)?.unwrap_or_default();
    let owner = string(&cx, t, "owner", false)?.unwrap_or_default();
    let address = string(&cx, t, "address", false)?.unwrap_or_default();
    let lat_deg = number(&cx, t, "lat", (-90.0, 90.0), None)?;
    let lon_deg = number(&cx, t, "lon", (-180.0, 180.0), None)?;
    let heading_deg = number(&cx, t, "heading_deg", (0.0, 360.0), Some(0.0))?;
    let fov_deg = number(&cx, t, "fov_deg", (1.0, 360.0), Some(60.0))?;
    let range_m = number(&cx, t, "range_m", (1.0, 1000.0), Some(30.0))?;
    let main_raw = string(&cx, t, "main_url", true)?.unwrap_or_default();
    let (main_url, url_creds) = rtsp_url(&cx, t, "main_url", &main_raw)?;
    let sub_url = match string(&cx, t, "sub_url", false)? {
        Some(raw) if !raw.trim().is_empty() => Some(rtsp_url(&cx, t, "sub_url", &raw)?.0),
        _ => None,
    };
    let transport = match string(&cx, t, "transport", false)?.as_deref() {
        None | Some("tcp") => Transport::Tcp,
        Some("udp") => Transport::Udp,
        Some(other) => {
            let span = get(t, "transport")
                .map(|v| v.span())
                .unwrap_or(cx.span.clone());
            return Err(cx.err(
                span,
                "transport",
                format!("expected \"tcp\" or \"udp\", found \"{other}\""),
            ));
        }
    };
    let username = string(&cx, t, "username", false)?;
    let password = string(&cx, t, "password", false)?;
    let onvif = match string(&cx, t, "onvif", false)? {
        Some(raw) if !raw.trim().is_empty() => Some(onvif_url(&raw).map_err(|m| {
            let span = get(t, "onvif").map(|v| v.span()).unwrap_or(cx.span.clone());
            cx.err(span, "onvif", m)
        })?),
        _ => None,
    };
    let ptz = match get(t, "ptz").map(|v| (v.get_ref(), v.span())) {
        None => false,
        Some((DeValue::Boolean(b), _)) => *b,
        Some((_, span)) => return Err(cx.err(span, "ptz", "expected true or false")),
    };
    if ptz && onvif.is_none() {
        let span = get(t, "ptz").map(|v| v.span()).unwrap_or(cx.span.clone());
        return Err(cx.err(span, "ptz", "ptz = true needs the camera's `onvif` address"));
    }
    let credentials = match (username, password, url_creds) {
        (Some(u), p, _) => Some(Credentials {
            username: u,
            password: Secret::new(p.unwrap_or_default()),
        }),
        (None, Some(_), None) => {
            let span = get(t, "password")
                .map(|v| v.span())
                .unwrap_or(cx.span.clone());
            return Err(cx.err(span, "password", "password given without username"));
        }
        (None, Some(p), Some(c)) => Some(Credentials {
            username: c.username,
            password: Secret::new(p),
        }),
        (None, None, c) => c,
    };
    Ok(CameraConfig {
        id: CameraId(id),
        name,
        ward,
        owner,
        address,
        lat_deg,
        lon_deg,
        heading_deg,
        fov_deg,
        range_m,
        main_url,
        sub_url,
        transport,
        credentials,
        onvif,
        ptz,
    })
}

/// An ONVIF device-service URL fit for the camera file: http(s)://, a host, no user-info
/// (the camera's own credentials are used, so no password is ever part of it). The
/// message never echoes the URL.
pub fn onvif_url(raw: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(raw.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(format!(
            "expected http:// or https://, found {}://",
            u.scheme()
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("user name and password belong in `username` and `password`".into());
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_move_out_of_the_url() {
        let f = parse_cameras(
            "c.toml",
            "[[camera]]\nid='a'\nname='A'\nlat=21\nlon=105\nmain_url='rtsp://u%40x:p%3Aw@h/s'\n",
        )
        .unwrap();
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        let c = &f.cameras[0];
        assert_eq!(c.main_url.as_str(), "rtsp://h/s");
        let cr = c.credentials.as_ref().unwrap();
        assert_eq!(cr.username, "u@x");
        assert_eq!(cr.password.expose(), "p:w");
        assert!(!format!("{c:?}").contains("p:w"));
    }
}
