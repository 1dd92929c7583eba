//! The Mắt Thần workstation UI (egui): the video wall, the camera list, the health panel.
//! UI functions collect [`app::Command`]s that are applied after drawing; persisted state is
//! a plain serde struct ([`app::WallState`]) kept beside the live handles, not inside them.
#![forbid(clippy::print_stdout, clippy::print_stderr)]

pub mod app;
pub mod basemap;
pub mod cameras;
pub mod coverage_worker;
pub mod evidence;
pub mod i18n;
pub mod incident_export;
pub mod layout;
pub mod log;
pub mod map;
pub mod officers;
pub mod playback;
pub mod ptz;
pub mod replay;
pub mod search;
pub mod session;
pub mod trace;
pub mod trust;
pub mod views;
pub mod zoom;

pub use app::{Command, MatThanApp, WallState};
pub use i18n::{install_fonts, Lang, Tr};
pub use layout::WallLayout;
