//! Core types of Mắt Thần, shared by every other crate: the camera configuration (parsed once,
//! at the edge, into typed values), secrets that never print, stream health states, and the
//! diacritic folding used by every search box.
#![forbid(clippy::print_stdout, clippy::print_stderr)]

pub mod assets;
pub mod atomic;
pub mod camedit;
pub mod config;
pub mod health;
pub mod priority;
pub mod secret;
pub mod site;
pub mod text;
pub mod time;
pub mod wards;

pub use assets::assets_dir;
pub use config::{
    load_cameras, parse_cameras, CameraConfig, CameraFile, CameraId, ConfigError, Transport,
};
pub use health::{LossReason, StreamState, UndecodableReason};
pub use secret::{redact_url, Credentials, Secret};
pub use site::{CameraSite, OwnerKind, Sharing};
pub use text::fold;
