//! ONVIF for Mắt Thần, on top of the `oxvif` client: what a camera is (device information,
//! media profiles and their RTSP stream URIs, whether it turns), finding cameras on the
//! local network (WS-Discovery), and turning them (PTZ: continuous move, stop, presets,
//! home, position).
//!
//! Every call is async and bounded by a timeout. The UI never calls it: it asks the
//! [`OnvifService`], a thread named "onvif" that owns its own runtime and one worker per
//! camera (so a camera's commands keep their order — a Stop never overtakes its Move — and a
//! slow camera never holds up another), and takes the answer from a [`Pending`] when it is
//! there. Credentials are [`Secret`](mt_core::Secret)s: an [`Error`] never carries the
//! password, even when a device echoes it back.

mod device;
mod error;
mod ptz;
mod service;

pub use device::{device_url, discover, inspect, Device, Found, Profile};
pub use error::{Error, Kind};
pub use ptz::{heading_for, Position, Preset, PtzCommand, PtzView};
pub use service::{OnvifService, Pending, Wake};

/// How long one ONVIF operation may take before it is given up (`Kind::Timeout`).
pub const OP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(6);
