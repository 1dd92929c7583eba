//! `matthan probe URL…`: the camera form's "Kiểm tra kết nối" from a shell. Prints, for each
//! URL, the codec, size and frame rate of its video and its audio tracks, or the reason it
//! failed; exits non-zero when any failed. The password is read from standard input, never
//! from the command line (where `ps` and the shell history would keep it), and never printed.
//!
//! `--onvif HOST[:PORT]` asks an ONVIF device what it is and which streams it has;
//! `--discover` lists the devices that answer WS-Discovery.

use std::io::BufRead;

use anyhow::{bail, Context};
use mt_capture::probe::{probe, ProbeLimits};
use mt_core::{Credentials, Secret, Transport};

pub struct Args {
    pub urls: Vec<String>,
    pub onvif: Option<String>,
    pub discover: bool,
    pub discover_at: Vec<std::net::IpAddr>,
    pub user: Option<String>,
    pub password_stdin: bool,
    pub udp: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let password = if a.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        Some(Secret::new(line.trim_end_matches(['\r', '\n'])))
    } else {
        None
    };
    if password.is_some() && a.user.is_none() {
        bail!("--password-stdin needs --user");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the network runtime")?;
    let mut failed = 0;
    let mut tried = 0;
    if a.discover {
        let found = rt.block_on(mt_onvif::discover(
            std::time::Duration::from_secs(3),
            &a.discover_at,
        ));
        println!("WS-Discovery: {} device(s)", found.len());
        for f in found {
            println!("  {}  name={:?} hardware={:?}", f.url, f.name, f.hardware);
        }
    }
    if let Some(host) = &a.onvif {
        tried += 1;
        let creds = a.user.as_ref().map(|u| Credentials {
            username: u.clone(),
            password: password.clone().unwrap_or_default(),
        });
        if !onvif(&rt, host, creds.as_ref()) {
            failed += 1;
        }
    }
    let transport = if a.udp {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    for raw in &a.urls {
        tried += 1;
        let shown = mt_core::redact_url(raw);
        let mut url = match url::Url::parse(raw) {
            Ok(u) if u.scheme() == "rtsp" || u.scheme() == "rtsps" => u,
            Ok(u) => {
                println!(
                    "{shown}\n  FAILED: scheme must be rtsp://, found {}://",
                    u.scheme()
                );
                failed += 1;
                continue;
            }
            Err(e) => {
                println!("{shown}\n  FAILED: not a valid URL ({e})");
                failed += 1;
                continue;
            }
        };
        // Credentials in the URL count, as in the camera file; --user wins.
        let in_url = (!url.username().is_empty()).then(|| Credentials {
            username: mt_core::config::percent_decode(url.username()),
            password: Secret::new(
                url.password()
                    .map(mt_core::config::percent_decode)
                    .unwrap_or_default(),
            ),
        });
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let creds = match &a.user {
            Some(u) => Some(Credentials {
                username: u.clone(),
                password: password.clone().unwrap_or_default(),
            }),
            None => in_url,
        };
        println!("{shown}");
        match rt.block_on(probe(url, creds, transport, ProbeLimits::default())) {
            Ok(r) => {
                let fps = r
                    .fps
                    .map(|f| format!("{f:.1} fps"))
                    .unwrap_or_else(|| "fps unknown".into());
                println!(
                    "  video: {} {}x{} {fps} ({} frames)",
                    r.codec.label(),
                    r.width,
                    r.height,
                    r.frames
                );
                let audio = r.audio();
                if audio.is_empty() {
                    println!("  audio: none");
                }
                for a in audio {
                    println!("  audio: {a}");
                }
                match (&r.still, &r.still_error) {
                    (Some(f), _) => println!("  picture: decoded {}x{}", f.width, f.height),
                    (None, Some(e)) => println!("  picture: does not decode ({e})"),
                    (None, None) => println!("  picture: none"),
                }
                println!("  took: {} ms", r.took.as_millis());
            }
            Err(e) => {
                println!("  FAILED: {}: {}", e.reason, e.detail);
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {tried} failed");
    }
    Ok(())
}

/// Prints the device and its profiles; false when it could not be asked.
fn onvif(rt: &tokio::runtime::Runtime, host: &str, creds: Option<&Credentials>) -> bool {
    let url = match mt_onvif::device_url(host) {
        Ok(u) => u,
        Err(e) => {
            // As typed, but never with a password in it.
            println!(
                "ONVIF {}\n  FAILED: {:?}: {}",
                mt_core::redact_url(host),
                e.kind,
                e.detail
            );
            return false;
        }
    };
    println!("ONVIF {url}");
    match rt.block_on(mt_onvif::inspect(&url, creds)) {
        Ok(d) => {
            println!(
                "  device: {} {} firmware {} serial {}",
                d.manufacturer, d.model, d.firmware, d.serial
            );
            println!("  ptz: {}", if d.ptz { "yes" } else { "no" });
            for p in &d.profiles {
                let size = p
                    .size
                    .map(|(w, h)| format!("{w}x{h}"))
                    .unwrap_or_else(|| "?".into());
                let uri = match &p.uri {
                    Ok(u) => mt_core::camedit::shown_url(u, creds),
                    Err(e) => format!("no stream URI ({:?}: {})", e.kind, e.detail),
                };
                println!(
                    "  profile {} {:?}: {} {size}{}  {uri}",
                    p.token,
                    p.name,
                    p.encoding.as_deref().unwrap_or("?"),
                    if p.ptz { " ptz" } else { "" },
                );
            }
            true
        }
        Err(e) => {
            println!("  FAILED: {:?}: {}", e.kind, e.detail);
            false
        }
    }
}
