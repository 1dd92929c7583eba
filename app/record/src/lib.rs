//! Recording, evidence export and verification.
//!
//! - [`recorder`]: one thread per camera writes the packets it receives (no re-encoding) into
//!   fragmented MP4 segments of about a minute, written under a temporary name, fsynced,
//!   renamed, then indexed ([`index`], SQLite). A kill loses at most the fragment being
//!   written (one GOP, ~1–2 s); on start, unindexed files and rows without files are
//!   reconciled and reported. Retention by quota and age, oldest first, never what an
//!   incident has locked.
//! - [`export`]: cuts per-camera clips from the segments (remux, no re-encoding) and writes
//!   one ZIP archive with the incident's data and a `manifest.json` listing every file's
//!   SHA-256, signed with the workstation's Ed25519 key ([`keys`]).
//! - [`verify`]: checks an archive's signature and every hash, naming what is altered,
//!   missing or extra.
#![forbid(clippy::print_stdout, clippy::print_stderr)]

pub mod checkpoint;
pub mod export;
pub mod index;
pub mod keys;
pub mod motion;
pub mod mp4;
pub mod player;
pub mod recorder;
pub mod search;
pub mod verify;

pub use index::{Index, Segment};
pub use recorder::{RecConfig, Recorder};

#[derive(Debug, thiserror::Error)]
pub enum RecError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("recording index {path}: {message}")]
    Index { path: String, message: String },
    #[error("{path}: MP4: {message}")]
    Mp4 { path: String, message: String },
    #[error("{path}: the disk is full ({message})")]
    DiskFull { path: String, message: String },
    #[error("export cancelled")]
    Cancelled,
    #[error("{0}")]
    Invalid(String),
}

impl RecError {
    pub fn io(path: &std::path::Path, e: std::io::Error) -> Self {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            RecError::DiskFull {
                path: path.display().to_string(),
                message: e.to_string(),
            }
        } else {
            RecError::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, RecError>;

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// fsyncs a directory so a rename in it is durable.
pub fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// A camera id made safe as a file name (ids are normally already).
pub fn recorder_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
