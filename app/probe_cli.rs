//! `matthan probe URL…`: the camera form's "Kiểm tra kết nối" from a shell. Prints, for each
//! URL, the codec, size and frame rate of its video and its audio tracks, or the reason it
//! failed; exits non-zero when any failed. The password is read from standard input, never
//! from the command line (where `ps` and the shell history would keep it), and never printed.

use std::io::BufRead;

use anyhow::{bail, Context};
use mt_capture::probe::{probe, ProbeLimits};
use mt_core::{Credentials, Secret, Transport};

pub struct Args {
    pub urls: Vec<String>,
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
    let transport = if a.udp {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let mut failed = 0;
    for raw in &a.urls {
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
        bail!("{failed} of {} streams failed", a.urls.len());
    }
    Ok(())
}
