//! What live video, recording, playback and rendering have in common, and nothing else: a
//! decoded picture ([`DecodedFrame`]), the latest-picture slot a stream's decoder fills and
//! the renderer empties ([`FrameSlot`], keyed by a [`StreamId`] never reused), the codecs
//! ([`Codec`]) and the packets the recorder gets ([`RecPacket`]). No I/O, no FFmpeg, no GPU:
//! `mt-capture` (RTSP and decoding), `mt-record` (recording and players) and `mt-render`
//! (textures) depend on this crate instead of on each other.
#![forbid(clippy::print_stdout, clippy::print_stderr)]

pub mod codec;
pub mod frame;
pub mod packet;
pub mod slot;

pub use codec::Codec;
pub use frame::{ColorMatrix, DecodedFrame};
pub use packet::{RecMsg, RecPacket, RecSink};
pub use slot::{FrameSlot, StreamId, Waker};
