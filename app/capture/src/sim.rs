//! Launches the simulated cameras: GStreamer's RTSP server (`assets/sim/rtsp_server.py`) as a
//! child process on 127.0.0.1. Used by `matthan demo`, the benchmark and the tests. It is a
//! separate process so that tests can kill it mid-stream and start it again.
//!
//! # Mounts
//!
//! Always there (K = 1..`streams`), looping the clips in `assets/clips` with true timestamps
//! (PTS in display order, DTS in decode order, B-frames, ever-increasing across loops):
//!
//! | path | stream |
//! |---|---|
//! | `/camK/main` | 640×360 15 fps H.264 (scene (K−1)%4+1) |
//! | `/camK/sub` | 320×180 15 fps H.264, same scene |
//! | `/h265/main` | 640×360 15 fps H.265 |
//! | `/mjpeg` | Motion-JPEG (a codec Mắt Thần does not decode) |
//! | `/secure/main` | H.264 behind Basic auth (`admin` / `matkhau-bi-mat`) |
//!
//! With [`SimOptions::large`] (H.265 clips generated on first use into `$MATTHAN_SIM_CACHE` or
//! `~/.cache/matthan-sim`, ~25 s once on 2 cores; each frame shows a QR code
//! `{"m":"<path>","i":<clip frame index>}`): `/uhd/main` 3840×2160 25 fps GOP 50 (4 s loop),
//! `/qhd/main` 2560×1440 25 fps, `/ten-bit/main` 640×360 HEVC Main 10 (yuv420p10le).
//!
//! [`SimOptions::mounts`] adds mounts from a path and a JSON spec, e.g.
//!
//! ```text
//! /live/a  {"source":"live","width":640,"height":360,"fps":25,"bframes":2,"gop":50}
//! /live/b  {"source":"live","codec":"h265","ten_bit":true,"width":320,"height":180,"fps":15}
//! /live/c  {"source":"live","loss":0.02,"seed":1,"jitter_ms":30,"audio":"pcma"}
//! /live/d  {"source":"live","vfr":[[10,25],[10,12]],"full_range":true,"colorimetry":"bt709"}
//! /live/e  {"source":"live","resize":[[3,320,180],[6,640,360]]}
//! /clip/a  {"source":"clip","file":"scene1-main.h264","fps":25,"loss":0.02}
//! ```
//!
//! Live sources (`videotestsrc`, pattern `"ball"` by default, x264/x265 ultrafast, no lookahead
//! beyond the B-frames) draw a QR code (top left, about a third of the height, EC level M) with
//! `{"m":"<mount path>","n":<frame number>,"t":<capture wall clock, µs since the epoch>}`;
//! `n` is unique and increasing per mount for the server's life. Keys: `pattern`, `width`,
//! `height`, `fps`, `codec` (`h264`|`h265`), `gop`, `bframes`, `bitrate` (kbit/s), `ten_bit`,
//! `colorimetry` (`bt709`|`bt601`), `full_range`, `vfr` (`[[secs, fps], …]` cycled: frames are
//! dropped before the encoder), `resize` (`[[secs, w, h], …]` after start: new SPS in band).
//! Clip sources: `file` (MP4 with true timestamps, or Annex B with AUDs, relative to
//! `assets/clips`), `fps` (retime), `vfr`. Both: `loss` (share of RTP packets dropped after the
//! payloader, seeded by `seed`, the same for TCP and UDP clients), `jitter_ms` (random delay
//! 0..N ms per packet, with reordering), `audio` (`pcma`: G.711 A-law 8 kHz; `aac`).
//! `sprop_only` (live H.265): VPS/SPS/PPS only in the SDP, never in band, and the SDP's
//! `a=fmtp` written with a trailing `;` as some relays do (the one in-band copy x265 writes at
//! the start is dropped after the payloader: a one-time RTP sequence gap).
//! `"source": "uhd"|"qhd"|"ten-bit"` serves one of the generated clips under another path.
//!
//! [`SimServer::command`] sends a runtime command: `outage PATH SECS stop` (no video for SECS,
//! sessions and RTCP go on, resumes at a keyframe), `outage PATH SECS close` (sessions closed
//! now, 404 for SECS), `fps PATH N`, `resize PATH W H`, `loss PATH FRACTION` (live mounts),
//! `ping`. [`SimServer::sent`] reads the send log (one record per video frame sent) when
//! [`SimOptions::send_log`] is set.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot start the simulated camera server ({python} {script}): {source}")]
    Spawn {
        python: String,
        script: String,
        source: std::io::Error,
    },
    #[error("the simulated camera server did not become ready within {0:?}: {1}")]
    NotReady(Duration, String),
    #[error("simulated camera server: cannot send {command:?}: {source}")]
    Send {
        command: String,
        source: std::io::Error,
    },
    #[error("simulated camera server: no answer to {0:?} within 5 s")]
    NoAnswer(String),
    #[error("simulated camera server refused {command:?}: {reply}")]
    Refused { command: String, reply: String },
}

/// What to serve beyond the default mounts.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Extra mounts: path (e.g. `/live/a`) and its JSON spec (see the module doc).
    pub mounts: Vec<(String, serde_json::Value)>,
    /// Also serve `/uhd/main`, `/qhd/main` and `/ten-bit/main`.
    pub large: bool,
    /// Log every video frame sent into a temporary file this server owns ([`SimServer::sent`]).
    pub send_log: bool,
}

/// One video frame the server sent (a line of its send log).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SentFrame {
    #[serde(rename = "m")]
    pub mount: String,
    /// Frame number: as in the QR code for live mounts; loop × clip length + index for clips.
    pub n: u64,
    /// Index in the clip (live mounts: the same as `n`).
    #[serde(rename = "i")]
    pub index: u64,
    /// Capture wall-clock time, µs since the Unix epoch (live: as in the QR code; clips: the
    /// wall time its PTS stands for).
    pub cap_us: i64,
    /// Wall-clock time (µs since the epoch) when the encoded frame went to the payloader.
    pub sent_us: i64,
    #[serde(rename = "w")]
    pub width: u32,
    #[serde(rename = "h")]
    pub height: u32,
}

pub struct SimServer {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Lines the server printed after READY (answers to commands). In a mutex only so that
    /// `SimServer` stays `Sync`.
    lines: parking_lot::Mutex<Receiver<String>>,
    pub port: u16,
    pub streams: usize,
    assets: PathBuf,
    opts: SimOptions,
    send_log: Option<PathBuf>,
}

/// The Python with GStreamer's introspection bindings: Debian's, not a pyenv one on PATH.
pub const PYTHON: &str = "/usr/bin/python3";

static LOG_SEQ: AtomicU64 = AtomicU64::new(0);

struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

fn spawn(
    assets: &Path,
    port: u16,
    streams: usize,
    opts: &SimOptions,
    send_log: Option<&Path>,
) -> Result<Spawned, SimError> {
    let script = assets.join("sim/rtsp_server.py");
    let mut cmd = Command::new(PYTHON);
    cmd.arg(&script)
        .args([
            "--port",
            &port.to_string(),
            "--streams",
            &streams.to_string(),
        ])
        .arg("--clips")
        .arg(assets.join("clips"));
    for (path, spec) in &opts.mounts {
        cmd.arg("--mount").arg(format!("{path}={spec}"));
    }
    if opts.large {
        cmd.arg("--large");
    }
    if let Some(log) = send_log {
        cmd.arg("--send-log").arg(log);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| SimError::Spawn {
            python: PYTHON.into(),
            script: script.display().to_string(),
            source,
        })?;
    let stdout = child.stdout.take().expect("piped");
    let stdin = child.stdin.take();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sim-server-stdout".into())
        .spawn(move || {
            // The first line is READY; later lines answer commands.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        })
        .expect("spawn thread");
    // Generating the large clips takes ~25 s once per cache (2 cores).
    let clips = opts.mounts.iter().any(|(_, spec)| {
        spec.get("source")
            .and_then(|v| v.as_str())
            .is_some_and(|v| v != "live")
    });
    let limit = if opts.large || clips {
        Duration::from_secs(180)
    } else {
        Duration::from_secs(15)
    };
    let t0 = Instant::now();
    let line = rx.recv_timeout(limit).unwrap_or_default();
    if !line.starts_with("READY") {
        let _ = child.kill();
        let _ = child.wait();
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        return Err(SimError::NotReady(
            t0.elapsed(),
            format!("{line} {}", err.trim()),
        ));
    }
    // Drain stderr so the pipe never fills.
    if let Some(e) = child.stderr.take() {
        std::thread::Builder::new()
            .name("sim-server-stderr".into())
            .spawn(move || for _ in BufReader::new(e).lines() {})
            .expect("spawn thread");
    }
    Ok(Spawned {
        child,
        stdin,
        lines: rx,
    })
}

impl SimServer {
    /// Starts a server with `streams` camera mounts on `port` (0: pick a free one).
    pub fn start(assets: &Path, port: u16, streams: usize) -> Result<Self, SimError> {
        Self::start_with(assets, port, streams, &SimOptions::default())
    }

    /// Like [`SimServer::start`], with extra mounts, the large clips and/or a send log.
    pub fn start_with(
        assets: &Path,
        port: u16,
        streams: usize,
        opts: &SimOptions,
    ) -> Result<Self, SimError> {
        let port = if port == 0 { free_port() } else { port };
        let send_log = opts.send_log.then(|| {
            std::env::temp_dir().join(format!(
                "matthan-sim-{}-{}-{}.jsonl",
                std::process::id(),
                port,
                LOG_SEQ.fetch_add(1, Ordering::Relaxed)
            ))
        });
        let s = spawn(assets, port, streams, opts, send_log.as_deref())?;
        Ok(SimServer {
            child: s.child,
            stdin: s.stdin,
            lines: parking_lot::Mutex::new(s.lines),
            port,
            streams,
            assets: assets.to_owned(),
            opts: opts.clone(),
            send_log,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "rtsp://127.0.0.1:{}/{}",
            self.port,
            path.trim_start_matches('/')
        )
    }

    /// Sends one runtime command (e.g. `outage /live/a 3 stop`) and waits up to 5 s for the
    /// server's `OK …` line, which it returns; an `ERR …` answer is [`SimError::Refused`].
    pub fn command(&mut self, line: &str) -> Result<String, SimError> {
        let line = line.trim();
        // Forget answers that came too late for an earlier command.
        let lines = self.lines.get_mut();
        while lines.try_recv().is_ok() {}
        let stdin = self.stdin.as_mut().ok_or_else(|| SimError::Send {
            command: line.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin closed"),
        })?;
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|source| SimError::Send {
                command: line.to_owned(),
                source,
            })?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(reply) if reply.starts_with("OK") => return Ok(reply),
                Ok(reply) if reply.starts_with("ERR") => {
                    return Err(SimError::Refused {
                        command: line.to_owned(),
                        reply,
                    });
                }
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    return Err(SimError::NoAnswer(line.to_owned()));
                }
            }
        }
    }

    /// Every video frame sent so far (empty without [`SimOptions::send_log`]). A line still
    /// being written is skipped.
    pub fn sent(&self) -> Vec<SentFrame> {
        let Some(path) = &self.send_log else {
            return Vec::new();
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|l| serde_json::from_str::<SentFrame>(l).ok())
            .collect()
    }

    /// The send log's path, if [`SimOptions::send_log`] was set.
    pub fn send_log_path(&self) -> Option<&Path> {
        self.send_log.as_deref()
    }

    /// Kills the server (SIGKILL: it ignores SIGTERM while busy) and waits for it.
    pub fn kill(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port, with the same options (and the same send log, which
    /// keeps growing).
    pub fn restart(&mut self) -> Result<(), SimError> {
        self.kill();
        let s = spawn(
            &self.assets,
            self.port,
            self.streams,
            &self.opts,
            self.send_log.as_deref(),
        )?;
        self.child = s.child;
        self.stdin = s.stdin;
        self.lines = parking_lot::Mutex::new(s.lines);
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.kill();
        if let Some(log) = &self.send_log {
            let _ = std::fs::remove_file(log);
        }
    }
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18554)
}
