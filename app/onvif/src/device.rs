//! What a camera is: its device information, its media profiles with their stream URIs,
//! whether it turns; and which cameras answer WS-Discovery on the local network.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mt_core::Credentials;
use oxvif::transport::HttpTransport;
use oxvif::OnvifSession;
use url::Url;

use crate::error::{Error, Kind};

/// One media profile: a stream the camera offers.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub token: String,
    pub name: String,
    /// "H264", "H265", "JPEG"… as the encoder reports it.
    pub encoding: Option<String>,
    pub size: Option<(u32, u32)>,
    /// The RTSP URI the camera gives for it (as given: without credentials on any camera
    /// seen so far), or why there is none.
    pub uri: Result<String, Error>,
    /// The profile has a PTZ configuration (it can be turned through).
    pub ptz: bool,
    /// The video source (sensor) it encodes: a camera with two lenses has two.
    pub source: Option<String>,
}

/// What `inspect` learned of a device.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    pub url: Url,
    pub manufacturer: String,
    pub model: String,
    pub firmware: String,
    pub serial: String,
    pub profiles: Vec<Profile>,
    /// A PTZ service and at least one profile with a PTZ configuration.
    pub ptz: bool,
}

impl Device {
    /// The main and sub stream URIs to fill in, from the first sensor's profiles that have
    /// a URI (H.264/H.265 before JPEG and the unknown): the largest picture, and the smallest
    /// of known size — none when there is no other, or it is the same URI.
    pub fn stream_uris(&self) -> (Option<String>, Option<String>) {
        let video = |p: &&Profile| {
            p.encoding
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case("H264") || e.eq_ignore_ascii_case("H265"))
        };
        let with: Vec<&Profile> = self.profiles.iter().filter(|p| p.uri.is_ok()).collect();
        let pool: Vec<&Profile> = if with.iter().any(video) {
            with.into_iter().filter(video).collect()
        } else {
            with
        };
        let Some(first) = pool.first() else {
            return (None, None);
        };
        let same: Vec<&Profile> = pool
            .iter()
            .copied()
            .filter(|p| p.source == first.source)
            .collect();
        let area = |p: &Profile| p.size.map(|(w, h)| w as u64 * h as u64);
        // Stable: of equal (or unknown) sizes the device's first.
        let main = same
            .iter()
            .copied()
            .max_by(|a, b| area(a).cmp(&area(b)).then(std::cmp::Ordering::Greater))
            .expect("not empty");
        let uri = |p: &Profile| p.uri.clone().ok();
        let main_uri = uri(main);
        let sub = same
            .iter()
            .copied()
            .filter(|p| !std::ptr::eq(*p, main) && area(p).is_some())
            .min_by_key(|p| area(p))
            .and_then(uri)
            .filter(|s| Some(s) != main_uri.as_ref());
        (main_uri, sub)
    }
}

/// A device that answered WS-Discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Its device service URL (the first XAddr).
    pub url: String,
    /// The name and hardware its ONVIF scopes give, if any.
    pub name: String,
    pub hardware: String,
}

/// The device-service URL for what an officer types: `HOST`, `HOST:PORT` or a whole
/// `http(s)://…` URL. A bare host gets port 80 and the usual `/onvif/device_service`.
pub fn device_url(input: &str) -> Result<Url, Error> {
    let t = input.trim();
    if t.is_empty() {
        return Err(Error::new(Kind::BadAddress, "empty"));
    }
    let text = if t.contains("://") {
        t.to_owned()
    } else {
        format!("http://{t}/onvif/device_service")
    };
    let u = Url::parse(&text).map_err(|e| Error::new(Kind::BadAddress, e.to_string()))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(Error::new(
            Kind::BadAddress,
            format!("{}:// (expected http:// or https://)", u.scheme()),
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(Error::new(Kind::BadAddress, "no host"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(Error::new(
            Kind::BadAddress,
            "user name and password go in their own fields",
        ));
    }
    Ok(u)
}

/// A session with the device: WS-UsernameToken and HTTP Digest with `creds`, the device's
/// clock offset applied (a camera whose clock is off would refuse the token otherwise).
pub(crate) async fn session(url: &Url, creds: Option<&Credentials>) -> Result<OnvifSession, Error> {
    let mut b = OnvifSession::builder(url.as_str()).with_clock_sync();
    if let Some(c) = creds {
        let (user, pass) = (c.username.clone(), c.password.expose().to_owned());
        b = b
            .with_credentials(user.clone(), pass.clone())
            .with_transport(Arc::new(HttpTransport::new().with_credentials(user, pass)));
    }
    bounded(b.build(), creds).await
}

/// `f` within [`OP_TIMEOUT`](crate::OP_TIMEOUT), its error sorted and scrubbed.
pub(crate) async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, oxvif::OnvifError>>,
    creds: Option<&Credentials>,
) -> Result<T, Error> {
    match tokio::time::timeout(crate::OP_TIMEOUT, f).await {
        Ok(r) => r.map_err(|e| Error::from_onvif(&e, creds)),
        Err(_) => Err(Error::new(
            Kind::Timeout,
            format!("no answer in {} s", crate::OP_TIMEOUT.as_secs()),
        )),
    }
}

/// Device information, every profile with its encoder and stream URI, and PTZ.
pub async fn inspect(url: &Url, creds: Option<&Credentials>) -> Result<Device, Error> {
    let s = session(url, creds).await?;
    let info = bounded(s.get_device_info(), creds).await?;
    let profiles = bounded(s.get_profiles(), creds).await?;
    let mut out = Vec::with_capacity(profiles.len());
    for p in profiles {
        let encoder = match &p.video_encoder_token {
            // A profile whose encoder cannot be read is still listed, without it.
            Some(t) => bounded(s.get_video_encoder_configuration(t), creds)
                .await
                .ok(),
            None => None,
        };
        let uri = bounded(s.get_stream_uri(&p.token), creds)
            .await
            .and_then(|u| {
                let bare = without_credentials(&u.uri);
                // Some cheap cameras put the password in the path
                // (`/user=admin_password=…_channel=1`): such a URI is not taken (it would
                // show and store the password), and the officer is told why.
                match creds.map(|c| c.password.expose()).filter(|p| !p.is_empty()) {
                    Some(p) if holds_password(&bare, p) => Err(Error::new(
                        Kind::PasswordInUri,
                        "the camera's stream URI holds the password; type the URL by hand",
                    )),
                    _ => Ok(bare),
                }
            });
        out.push(Profile {
            token: p.token.clone(),
            name: p.name.clone(),
            encoding: encoder.as_ref().map(|e| e.encoding.as_str().to_owned()),
            size: encoder.map(|e| (e.resolution.width, e.resolution.height)),
            uri,
            ptz: p.ptz_config_token.is_some(),
            source: p.video_source_token.clone(),
        });
    }
    let ptz = s.capabilities().ptz.url.is_some() && out.iter().any(|p| p.ptz);
    Ok(Device {
        url: url.clone(),
        manufacturer: info.manufacturer,
        model: info.model,
        firmware: info.firmware_version,
        serial: info.serial_number,
        profiles: out,
        ptz,
    })
}

/// WS-Discovery: a multicast probe on every local interface, and a unicast probe to each of
/// `also` (a camera on another subnet, or a test device on 127.0.0.1), for `wait`.
/// Devices are listed once each, by device service URL.
pub async fn discover(wait: Duration, also: &[IpAddr]) -> Vec<Found> {
    let mut devices = oxvif::discovery::probe(wait).await;
    for ip in also {
        devices.extend(oxvif::discovery::probe_unicast(*ip, wait).await);
    }
    let mut out: Vec<Found> = Vec::new();
    for d in devices {
        let Some(url) = d.xaddrs.first().cloned() else {
            continue;
        };
        if out.iter().any(|f| f.url == url) {
            continue;
        }
        let scope = |kind: &str| {
            d.scopes
                .iter()
                .find_map(|s| s.split(&format!("/{kind}/")).nth(1))
                .map(|v| percent_decode(v))
                .unwrap_or_default()
        };
        out.push(Found {
            url,
            name: scope("name"),
            hardware: scope("hardware"),
        });
    }
    out
}

/// A stream URI without user-info or password-like query parameters (the camera's own
/// credentials are used; a password is never kept in a URL).
fn without_credentials(uri: &str) -> String {
    match Url::parse(uri) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let secret = |k: &str| {
                matches!(
                    k.to_ascii_lowercase().as_str(),
                    "password" | "pwd" | "pass" | "passwd" | "user" | "username"
                )
            };
            // The query is rewritten only when a pair goes (else it stays byte for byte).
            if u.query_pairs().any(|(k, _)| secret(&k)) {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .filter(|(k, _)| !secret(k))
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                if pairs.is_empty() {
                    u.set_query(None);
                } else {
                    u.query_pairs_mut().clear().extend_pairs(pairs);
                }
            }
            u.to_string()
        }
        Err(_) => uri.to_owned(),
    }
}

/// The password is one of the URI's path or query words (`/user=admin_password=XXXX_…`),
/// percent-encoded or not; the host and port are not looked at (a password "554" is not
/// found in ":554").
fn holds_password(uri: &str, password: &str) -> bool {
    let Ok(u) = Url::parse(uri) else {
        return false;
    };
    let text = format!("{}?{}", u.path(), u.query().unwrap_or(""));
    text.split(['/', '_', '=', '&', '?', ';', ':', ',', '-', '.'])
        .any(|w| w == password || percent_decode(w) == password)
        // A longer password with a separator in it ("ab_c9f2").
        || (password.chars().count() >= 6 && text.contains(password))
}

/// ONVIF scopes are URIs: a name with spaces comes as `%20`.
fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_device_service_urls() {
        assert_eq!(
            device_url("192.168.1.64").unwrap().as_str(),
            "http://192.168.1.64/onvif/device_service"
        );
        assert_eq!(
            device_url(" 10.0.0.2:8080 ").unwrap().as_str(),
            "http://10.0.0.2:8080/onvif/device_service"
        );
        assert_eq!(
            device_url("http://cam/onvif/device_service")
                .unwrap()
                .as_str(),
            "http://cam/onvif/device_service"
        );
        assert_eq!(device_url("").unwrap_err().kind, Kind::BadAddress);
        assert_eq!(
            device_url("rtsp://cam/").unwrap_err().kind,
            Kind::BadAddress
        );
        let e = device_url("http://admin:hunter2@cam/").unwrap_err();
        assert_eq!(e.kind, Kind::BadAddress);
        assert!(!e.detail.contains("hunter2"));
        assert_eq!(device_url("cam:99999").unwrap_err().kind, Kind::BadAddress);
    }

    #[test]
    fn main_and_sub_come_from_the_first_sensor() {
        let p = |name: &str, source: &str, size: (u32, u32)| Profile {
            token: name.into(),
            name: name.into(),
            encoding: Some("H264".into()),
            size: Some(size),
            uri: Ok(format!("rtsp://cam/{name}")),
            ptz: false,
            source: Some(source.into()),
        };
        let d = Device {
            url: Url::parse("http://cam/onvif/device_service").unwrap(),
            manufacturer: String::new(),
            model: String::new(),
            firmware: String::new(),
            serial: String::new(),
            profiles: vec![
                p("sub", "VS1", (640, 360)),
                p("main", "VS1", (1920, 1080)),
                p("main2", "VS2", (2560, 1440)),
                p("mid", "VS1", (1280, 720)),
            ],
            ptz: false,
        };
        assert_eq!(
            d.stream_uris(),
            (
                Some("rtsp://cam/main".into()),
                Some("rtsp://cam/sub".into())
            )
        );
        let one = Device {
            profiles: vec![p("only", "VS1", (1920, 1080))],
            ..d.clone()
        };
        assert_eq!(one.stream_uris(), (Some("rtsp://cam/only".into()), None));
        // A JPEG profile is not a stream to record; the same URI twice is no sub stream;
        // a profile of unknown size is not taken for the small one.
        let mut jpeg = p("jpeg", "VS1", (3840, 2160));
        jpeg.encoding = Some("JPEG".into());
        let mut unknown = p("unknown", "VS1", (1, 1));
        unknown.size = None;
        let mut twin = p("twin", "VS1", (640, 360));
        twin.uri = Ok("rtsp://cam/main".into());
        let d2 = Device {
            profiles: vec![jpeg, p("main", "VS1", (1920, 1080)), unknown, twin],
            ..d.clone()
        };
        assert_eq!(d2.stream_uris(), (Some("rtsp://cam/main".into()), None));
    }

    #[test]
    fn stream_uris_keep_no_credentials() {
        assert_eq!(
            without_credentials("rtsp://admin:1@10.0.0.1:554/ch1?channel=1&password=1&subtype=0"),
            "rtsp://10.0.0.1:554/ch1?channel=1&subtype=0"
        );
        assert_eq!(
            without_credentials("rtsp://10.0.0.1/live?user=a&pwd=b"),
            "rtsp://10.0.0.1/live"
        );
        // A short password is not cut out of the rest of the URL.
        assert_eq!(
            without_credentials("rtsp://admin:1@192.168.1.10/1"),
            "rtsp://192.168.1.10/1"
        );
        // A query without credentials stays as the camera wrote it.
        assert_eq!(
            without_credentials("rtsp://10.0.0.1/live?stream&ch=1:2"),
            "rtsp://10.0.0.1/live?stream&ch=1:2"
        );
    }

    #[test]
    fn a_password_in_the_path_is_found_and_a_port_is_not_one() {
        let uri = "rtsp://10.0.0.9:554/user=admin_password=Mk%40123_channel=1_stream=0.sdp";
        assert!(holds_password(uri, "Mk@123"));
        assert!(!holds_password(uri, "554"));
        assert!(!holds_password(
            "rtsp://10.0.0.9:554/Streaming/Channels/101",
            "101x"
        ));
        assert!(holds_password(
            "rtsp://10.0.0.9/live?pwd2=abc&x=secret9",
            "secret9"
        ));
    }

    #[test]
    fn scopes_are_decoded() {
        assert_eq!(percent_decode("Cam%20Ng%C3%B5%201"), "Cam Ngõ 1");
        assert_eq!(percent_decode("a+b"), "a+b");
    }
}
