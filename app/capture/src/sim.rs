//! Launches the simulated cameras: GStreamer's RTSP server (`assets/sim/rtsp_server.py`) as a
//! child process on 127.0.0.1. Used by `matthan demo`, the benchmark and the tests. It is a
//! separate process so that tests can kill it mid-stream and start it again.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
}

pub struct SimServer {
    child: Child,
    pub port: u16,
    pub streams: usize,
    assets: PathBuf,
}

/// The Python with GStreamer's introspection bindings: Debian's, not a pyenv one on PATH.
pub const PYTHON: &str = "/usr/bin/python3";

impl SimServer {
    /// Starts a server with `streams` camera mounts on `port` (0: pick a free one).
    pub fn start(assets: &Path, port: u16, streams: usize) -> Result<Self, SimError> {
        let port = if port == 0 { free_port() } else { port };
        let script = assets.join("sim/rtsp_server.py");
        let mut child = Command::new(PYTHON)
            .arg(&script)
            .args([
                "--port",
                &port.to_string(),
                "--streams",
                &streams.to_string(),
            ])
            .arg("--clips")
            .arg(assets.join("clips"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| SimError::Spawn {
                python: PYTHON.into(),
                script: script.display().to_string(),
                source,
            })?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("sim-server-stdout".into())
            .spawn(move || {
                let mut lines = BufReader::new(stdout).lines();
                let first = lines.next().and_then(Result::ok).unwrap_or_default();
                let _ = tx.send(first);
                for _ in lines {}
            })
            .expect("spawn thread");
        let limit = Duration::from_secs(15);
        let t0 = Instant::now();
        let line = rx.recv_timeout(limit).unwrap_or_default();
        if !line.starts_with("READY") {
            let _ = child.kill();
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
        Ok(SimServer {
            child,
            port,
            streams,
            assets: assets.to_owned(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "rtsp://127.0.0.1:{}/{}",
            self.port,
            path.trim_start_matches('/')
        )
    }

    /// Kills the server (SIGKILL: it ignores SIGTERM while busy) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) -> Result<(), SimError> {
        self.kill();
        let again = SimServer::start(&self.assets, self.port, self.streams)?;
        let old = std::mem::replace(self, again);
        std::mem::forget(old); // its child is already reaped; do not kill the new one
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18554)
}
