//! Receiving and decoding camera streams.
//!
//! Per stream (a camera's main or sub stream): one tokio task that speaks RTSP through
//! `retina` ([`stream`]), and one named OS thread that decodes with libavcodec ([`decode`]).
//! They are joined by a small bounded channel; when the decoder falls behind, the receive
//! task drops frames *until the next keyframe* (dropping single frames mid-GOP smears the
//! picture). The decoded picture goes into the stream's latest-frame-wins slot
//! (`mt_media::FrameSlot`, in [`StreamShared`]), from which the renderer uploads it; nothing queues up behind a slow consumer.
#![forbid(clippy::print_stdout, clippy::print_stderr)]

pub mod clock;
pub mod decode;
pub mod probe;
pub mod sdp;
pub mod shared;
pub mod sim;
pub mod stream;

pub use mt_media::{Codec, ColorMatrix, DecodedFrame, FrameSlot, StreamId};
pub use shared::{RecMsg, RecPacket, RecSink, StreamKind, StreamShared, StreamStats};
pub use stream::{CameraHandle, Capture, Timeouts};
