//! The latest-picture slot of one stream: the decoder (or a player) puts each new picture in,
//! replacing the one before (latest wins; nothing queues behind a slow consumer), and rings
//! whoever asked to be told — the UI (repaint) and the renderer's upload thread. The slot also
//! keeps the arrival→upload latency of what the renderer uploaded.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::DecodedFrame;

/// A stream's identity for the process's life: never reused (unlike an address), so a
/// texture set keyed by it can never be picked up by a later stream.
pub type StreamId = u64;

/// Something to call when a new picture (or state) is there; must be quick and never block.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// How many arrival→upload latency samples a slot keeps.
const LATENCY_SAMPLES: usize = 4096;

pub struct FrameSlot {
    id: StreamId,
    /// The latest picture and its stamp: a counter of this slot's own, bumped by every
    /// publish (a picture's `seq` is its decoder's and restarts with each new decoder — a new
    /// session, a playback's next file — so it cannot tell two pictures of one slot apart).
    latest: Mutex<Option<(u64, Arc<DecodedFrame>)>>,
    stamps: AtomicU64,
    /// The UI's repaint request.
    ui_waker: Mutex<Option<Waker>>,
    /// Upload threads that show this stream, by owner (one per renderer).
    bells: Mutex<Vec<(u64, Waker)>>,
    latency_us: Mutex<VecDeque<u32>>,
    frames_uploaded: AtomicU64,
}

impl std::fmt::Debug for FrameSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameSlot").field("id", &self.id).finish()
    }
}

impl FrameSlot {
    pub fn new() -> Arc<Self> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Arc::new(FrameSlot {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            latest: Mutex::new(None),
            stamps: AtomicU64::new(0),
            ui_waker: Mutex::new(None),
            bells: Mutex::new(Vec::new()),
            latency_us: Mutex::new(VecDeque::with_capacity(64)),
            frames_uploaded: AtomicU64::new(0),
        })
    }

    pub fn id(&self) -> StreamId {
        self.id
    }

    /// The most recent picture, if any.
    pub fn latest(&self) -> Option<Arc<DecodedFrame>> {
        self.latest.lock().as_ref().map(|(_, f)| f.clone())
    }

    /// The most recent picture with its stamp (unique within this slot, increasing).
    pub fn latest_stamped(&self) -> Option<(u64, Arc<DecodedFrame>)> {
        self.latest.lock().clone()
    }

    /// The latest picture's stamp, if there is one (without taking the picture).
    pub fn stamp(&self) -> Option<u64> {
        self.latest.lock().as_ref().map(|(s, _)| *s)
    }

    /// Makes `f` the latest picture and rings the upload threads and the UI.
    pub fn publish(&self, f: Arc<DecodedFrame>) {
        let stamp = self.stamps.fetch_add(1, Ordering::Relaxed) + 1;
        *self.latest.lock() = Some((stamp, f));
        self.ring();
        self.wake_ui();
    }

    /// Forgets the picture (a new session: the old picture is not this one's).
    pub fn clear(&self) {
        *self.latest.lock() = None;
    }

    /// Sets the function that asks the UI to repaint (`egui::Context::request_repaint`).
    pub fn set_waker(&self, w: Option<Waker>) {
        *self.ui_waker.lock() = w;
    }

    /// Asks the UI to repaint, if it said how.
    pub fn wake_ui(&self) {
        // Cloned out so the waker runs without the lock held.
        let w = self.ui_waker.lock().clone();
        if let Some(w) = w {
            w();
        }
    }

    /// Rings `bell` on every new picture, until [`FrameSlot::remove_bell`] with the same
    /// `owner` (an upload thread's id). One bell per owner.
    pub fn add_bell(&self, owner: u64, bell: Waker) {
        let mut b = self.bells.lock();
        b.retain(|(o, _)| *o != owner);
        b.push((owner, bell));
    }

    pub fn remove_bell(&self, owner: u64) {
        self.bells.lock().retain(|(o, _)| *o != owner);
    }

    fn ring(&self) {
        let bells: Vec<Waker> = self.bells.lock().iter().map(|(_, w)| w.clone()).collect();
        for b in bells {
            b();
        }
    }

    /// Called by the renderer when `frame` is in its textures.
    pub fn record_upload(&self, frame: &DecodedFrame) {
        let us = frame.arrival.elapsed().as_micros().min(u32::MAX as u128) as u32;
        let mut l = self.latency_us.lock();
        if l.len() == LATENCY_SAMPLES {
            l.pop_front();
        }
        l.push_back(us);
        self.frames_uploaded.fetch_add(1, Ordering::Relaxed);
    }

    /// Arrival→upload latency samples in microseconds (newest last).
    pub fn latency_samples_us(&self) -> Vec<u32> {
        self.latency_us.lock().iter().copied().collect()
    }

    /// Takes the latency samples gathered so far (a benchmark's measuring window).
    pub fn drain_latency_us(&self) -> Vec<u32> {
        self.latency_us.lock().drain(..).collect()
    }

    pub fn frames_uploaded(&self) -> u64 {
        self.frames_uploaded.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_reused_and_bells_ring_until_removed() {
        let a = FrameSlot::new();
        let b = FrameSlot::new();
        assert_ne!(a.id(), b.id());
        let rung = Arc::new(AtomicU64::new(0));
        let r = rung.clone();
        a.add_bell(
            7,
            Arc::new(move || {
                r.fetch_add(1, Ordering::Relaxed);
            }),
        );
        a.publish(Arc::new(DecodedFrame::solid(4, 4, 16, 128, 128)));
        assert_eq!(rung.load(Ordering::Relaxed), 1);
        a.remove_bell(7);
        a.publish(Arc::new(DecodedFrame::solid(4, 4, 16, 128, 128)));
        assert_eq!(rung.load(Ordering::Relaxed), 1);
        assert_eq!(a.latest().map(|f| f.width), Some(4));
        // Two pictures with the same decoder seq (a new decoder restarts it) differ by stamp.
        let s1 = a.latest_stamped().unwrap().0;
        a.publish(Arc::new(DecodedFrame::solid(4, 4, 16, 128, 128)));
        assert!(a.latest_stamped().unwrap().0 > s1);
    }
}
