//! The one integration-test binary (each extra binary would link wgpu and FFmpeg again).
//! Real components throughout: GStreamer's RTSP server started on 127.0.0.1, libavcodec,
//! wgpu on lavapipe, real files.

mod util;

mod cameras;
mod config;
mod map;
mod officers;
mod onvif;
mod package;
mod record;
mod render;
mod rtsp;
mod search;
mod store;
mod timeline;
mod ui;
mod views;
