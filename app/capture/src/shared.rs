//! State shared between a stream's receive task, its decoder thread and the UI/renderer.
//! Every field is behind a short-held lock or an atomic: the UI thread never waits on I/O.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mt_core::StreamState;
use parking_lot::Mutex;

use mt_media::{DecodedFrame, FrameSlot};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    Main,
    Sub,
}

/// Numbers for the tile overlay and the health panel.
#[derive(Clone, Debug, Default)]
pub struct StreamStats {
    pub fps: f32,
    pub kbps: f32,
    pub width: u32,
    pub height: u32,
    pub codec: &'static str,
    pub last_frame_at: Option<Instant>,
    pub reconnects: u64,
    pub frames_received: u64,
    pub frames_decoded: u64,
    /// Frames not decoded because the decoder was behind (each frame skipped up to the next
    /// keyframe counts, not each episode).
    pub frames_dropped: u64,
    /// RTP packets lost on the way (retina's sequence-number gaps).
    pub packets_lost: u64,
    /// Frames received after a packet loss up to the next keyframe: decoded with the
    /// decoder's concealment (the picture may be smeared until the keyframe).
    pub frames_damaged: u64,
    /// Times the stream's parameters (SPS/PPS, VPS) changed, e.g. a new resolution.
    pub parameter_changes: u64,
    /// Decode errors since the stream started.
    pub decode_errors: u64,
    /// When the last picture was decoded.
    pub last_picture_at: Option<Instant>,
    /// Arrival-based time minus the camera's own clock (RTCP sender reports), ms: the
    /// camera's encoder + network delay when its clock is right, its error when it is not.
    pub camera_clock_offset_ms: Option<i64>,
    /// Picture times follow the camera's clock (it agrees with the workstation's).
    pub camera_clock_used: bool,
}

pub use mt_media::{RecMsg, RecPacket, RecSink, StreamId, Waker};

pub struct StreamShared {
    /// Unique for the process's life (never reused, unlike an address): the key of the
    /// stream's textures in the renderer. The same as `slot.id()`.
    pub id: StreamId,
    /// The latest decoded picture (what the renderer uploads from), and who to wake.
    pub slot: Arc<FrameSlot>,
    /// `camera-id/main` or `camera-id/sub`: for logs and thread names.
    pub label: String,
    pub kind: StreamKind,
    /// The connection as the receive task knows it: `Live` here means "frames arrive"; what
    /// [`StreamShared::state`] reports also depends on pictures being decoded.
    conn: Mutex<StreamState>,
    /// Why pictures of this session cannot be decoded (format, persistent errors), if so.
    undecodable: Mutex<Option<(mt_core::UndecodableReason, String)>>,
    /// A picture decoded within this long means live (depends on whether every frame is
    /// decoded or only a keyframe now and then).
    live_window_ms: AtomicU64,
    stats: Mutex<StreamStats>,
    /// Whether any view shows this stream (decode only what is on screen).
    wanted: AtomicBool,
    /// Bumped when `wanted` changes, so the receive task can wake.
    pub(crate) wanted_changed: tokio::sync::Notify,
    recorder: Mutex<Option<RecSink>>,
    /// Packets the recorder could not take (its queue was full).
    pub(crate) rec_dropped: AtomicU64,
}

impl StreamShared {
    pub fn new(label: String, kind: StreamKind) -> Arc<Self> {
        let slot = FrameSlot::new();
        Arc::new(StreamShared {
            id: slot.id(),
            slot,
            label,
            kind,
            conn: Mutex::new(StreamState::Idle),
            undecodable: Mutex::new(None),
            live_window_ms: AtomicU64::new(3_000),
            stats: Mutex::new(StreamStats::default()),
            wanted: AtomicBool::new(false),
            wanted_changed: tokio::sync::Notify::new(),
            recorder: Mutex::new(None),
            rec_dropped: AtomicU64::new(0),
        })
    }

    /// Sends every received packet of this stream to `sink` too (recording). An on-demand
    /// stream with a recorder stays connected even when no view shows it; it is still decoded
    /// only when shown.
    pub fn set_recorder(&self, sink: Option<RecSink>) {
        *self.recorder.lock() = sink;
        self.wanted_changed.notify_waiters();
    }

    pub fn is_recording(&self) -> bool {
        self.recorder.lock().is_some()
    }

    pub(crate) fn recorder(&self) -> Option<RecSink> {
        self.recorder.lock().clone()
    }

    /// Packets dropped because the recorder was behind.
    pub fn recorder_dropped(&self) -> u64 {
        self.rec_dropped.load(Ordering::Relaxed)
    }

    /// What the officer is told: lost (with the reason) or idle as the connection is; a
    /// stream whose pictures cannot be decoded says so; otherwise live only while pictures
    /// are decoded, connecting until the first one.
    pub fn state(&self) -> StreamState {
        let conn = self.conn.lock().clone();
        match conn {
            StreamState::Live | StreamState::Connecting => {
                if let Some((reason, detail)) = self.undecodable.lock().clone() {
                    return StreamState::Undecodable { reason, detail };
                }
                let window = self.live_window_ms.load(Ordering::Relaxed);
                let fresh = self
                    .stats
                    .lock()
                    .last_picture_at
                    .is_some_and(|t| t.elapsed().as_millis() as u64 <= window);
                if matches!(conn, StreamState::Live) && fresh {
                    StreamState::Live
                } else {
                    StreamState::Connecting
                }
            }
            other => other,
        }
    }
    /// The connection state as the receive task set it (frames arriving or not).
    pub fn connection(&self) -> StreamState {
        self.conn.lock().clone()
    }
    pub(crate) fn set_state(&self, s: StreamState) {
        let mut st = self.conn.lock();
        if *st != s {
            if !matches!(s, StreamState::Live) {
                // A new connection attempt or a loss: the decoder's verdict and the last
                // picture were of the old session; live again only once this one decodes.
                *self.undecodable.lock() = None;
                self.stats.lock().last_picture_at = None;
            }
            *st = s;
            drop(st);
            self.wake();
        }
    }
    pub(crate) fn set_undecodable(&self, why: Option<(mt_core::UndecodableReason, String)>) {
        let mut u = self.undecodable.lock();
        if *u != why {
            *u = why;
            drop(u);
            self.wake();
        }
    }
    pub(crate) fn set_live_window_ms(&self, ms: u64) {
        self.live_window_ms.store(ms, Ordering::Relaxed);
    }

    /// The most recent decoded picture, if any.
    pub fn latest(&self) -> Option<Arc<DecodedFrame>> {
        self.slot.latest()
    }
    /// The most recent picture if it was decoded within `max_age` (a picture decoded only to
    /// check the stream, seconds ago, is not what a tile should switch to).
    pub fn latest_fresh(&self, max_age: std::time::Duration) -> Option<Arc<DecodedFrame>> {
        let fresh = self
            .stats
            .lock()
            .last_picture_at
            .is_some_and(|t| t.elapsed() <= max_age);
        if fresh {
            self.latest()
        } else {
            None
        }
    }
    /// Makes `f` the stream's latest picture (decoders, and replay of recorded clips).
    pub fn publish(&self, f: Arc<DecodedFrame>) {
        self.slot.publish(f);
    }
    pub(crate) fn clear_picture(&self) {
        self.slot.clear();
    }

    pub fn stats(&self) -> StreamStats {
        self.stats.lock().clone()
    }
    pub(crate) fn with_stats<R>(&self, f: impl FnOnce(&mut StreamStats) -> R) -> R {
        f(&mut self.stats.lock())
    }

    /// Tells the stream whether a view shows it. Cheap; call it every UI frame.
    pub fn set_wanted(&self, wanted: bool) {
        if self.wanted.swap(wanted, Ordering::Relaxed) != wanted {
            self.wanted_changed.notify_one();
        }
    }
    pub fn is_wanted(&self) -> bool {
        self.wanted.load(Ordering::Relaxed)
    }

    /// Arrival→upload latency samples in microseconds (newest last).
    pub fn latency_samples_us(&self) -> Vec<u32> {
        self.slot.latency_samples_us()
    }
    /// Takes the latency samples gathered so far (the benchmark's measuring window).
    pub fn drain_latency_us(&self) -> Vec<u32> {
        self.slot.drain_latency_us()
    }
    pub fn frames_uploaded(&self) -> u64 {
        self.slot.frames_uploaded()
    }

    /// Sets the function that asks the UI to repaint (`egui::Context::request_repaint`).
    pub fn set_waker(&self, w: Option<Waker>) {
        self.slot.set_waker(w);
    }
    fn wake(&self) {
        self.slot.wake_ui();
    }
}
