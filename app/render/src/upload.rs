//! The stream textures and the thread that fills them.
//!
//! A view (wall tile, map, second screen, playback) only *shows* a stream from the UI thread
//! ([`Bank::show`]: a timestamp, and a ring when the stream has a newer picture than its
//! textures). The thread "upload" — rung by the stream's [`FrameSlot`] whenever its decoder
//! or player publishes — copies each new picture of every stream shown within
//! [`SHOW_WINDOW`] into that stream's textures ([`GpuPicture::write`]: one submission per
//! picture, so never a half-written one) and asks the UI to repaint. The UI thread never
//! copies a picture. Textures are keyed by the stream's [`StreamId`] (never reused) and freed
//! when no view has shown the stream for the idle time, or within a second of the stream
//! being dropped (a closed playback or replay).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mt_media::{DecodedFrame, FrameSlot, StreamId, Waker};
use parking_lot::Mutex;

use crate::picture::{Gpu, GpuPicture};
use crate::YuvParams;

/// A stream no view has shown for this long gets no more uploads (its textures stay until
/// the idle time frees them).
pub const SHOW_WINDOW: Duration = Duration::from_secs(1);

struct Entry {
    /// None: a picture put in directly ([`Bank::put`], offscreen rendering).
    source: Option<Arc<FrameSlot>>,
    picture: Option<Arc<GpuPicture>>,
    /// `DecodedFrame::seq` of what the textures hold (u64::MAX: nothing yet).
    seq: u64,
    last_shown: Instant,
}

struct State {
    streams: HashMap<StreamId, Entry>,
    idle_free: Duration,
}

pub(crate) struct Bank {
    /// Tells this bank's bells from another renderer's on a shared slot.
    owner: u64,
    gpu: Gpu,
    state: Mutex<State>,
    /// One uploader at a time (the thread, or a synchronous flush).
    writer: Mutex<()>,
    bell: SyncSender<()>,
    stop: AtomicBool,
    repaint: Option<Waker>,
    pub uploads: AtomicU64,
}

impl Bank {
    /// The bank and its "upload" thread (which ends when the bank is dropped by its last
    /// owner other than the thread: see [`Bank::stop`]).
    pub fn start(gpu: Gpu, repaint: Option<Waker>, idle_free: Duration) -> Arc<Bank> {
        static OWNERS: AtomicU64 = AtomicU64::new(1);
        // Capacity 1: rings coalesce; the thread looks at every shown stream when woken.
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let bank = Arc::new(Bank {
            owner: OWNERS.fetch_add(1, Ordering::Relaxed),
            gpu,
            state: Mutex::new(State {
                streams: HashMap::new(),
                idle_free,
            }),
            writer: Mutex::new(()),
            bell: tx,
            stop: AtomicBool::new(false),
            repaint,
            uploads: AtomicU64::new(0),
        });
        let b = bank.clone();
        let spawned = std::thread::Builder::new()
            .name("upload".into())
            .spawn(move || b.run(rx));
        if let Err(e) = spawned {
            // Without the thread, pictures still arrive: `flush` from the UI (offscreen).
            tracing::error!("could not start the upload thread: {e}");
        }
        bank
    }

    fn ring(&self) {
        let _ = self.bell.try_send(());
    }

    /// A view shows stream `source` this frame (UI thread; cheap: a lock, a timestamp).
    pub fn show(&self, source: &Arc<FrameSlot>) {
        let now = Instant::now();
        let latest_seq = source.latest().map(|f| f.seq);
        let mut st = self.state.lock();
        let e = st.streams.entry(source.id()).or_insert_with(|| {
            let tx = self.bell.clone();
            source.add_bell(
                self.owner,
                Arc::new(move || {
                    let _ = tx.try_send(());
                }),
            );
            Entry {
                source: Some(source.clone()),
                picture: None,
                seq: u64::MAX,
                last_shown: now,
            }
        });
        let resumed = now.duration_since(e.last_shown) >= SHOW_WINDOW;
        e.last_shown = now;
        let behind = latest_seq.is_some_and(|s| s != e.seq);
        drop(st);
        if behind || resumed {
            self.ring();
        }
    }

    /// The bind group of stream `id`'s picture, if it has one.
    pub fn bind_group(&self, id: StreamId) -> Option<wgpu::BindGroup> {
        let st = self.state.lock();
        st.streams
            .get(&id)
            .and_then(|e| e.picture.as_ref())
            .map(|p| p.bind_group.clone())
    }

    /// Puts `frame` in as stream `id`'s picture now, on the calling thread (offscreen
    /// rendering of a single picture). Returns false when it was there already.
    pub fn put(&self, id: StreamId, frame: &Arc<DecodedFrame>) -> bool {
        let _w = self.writer.lock();
        {
            let mut st = self.state.lock();
            st.streams.entry(id).or_insert_with(|| Entry {
                source: None,
                picture: None,
                seq: u64::MAX,
                last_shown: Instant::now(),
            });
        }
        self.upload_one(id, frame.clone())
    }

    /// Uploads, on the calling thread, every shown stream whose textures are behind its
    /// latest picture. Offscreen rendering calls it so that one render shows what the
    /// streams hold; the window leaves it to the thread.
    pub fn flush(&self) -> usize {
        let _w = self.writer.lock();
        self.upload_pending()
    }

    fn upload_pending(&self) -> usize {
        let jobs: Vec<(StreamId, Arc<DecodedFrame>)> = {
            let st = self.state.lock();
            st.streams
                .iter()
                .filter(|(_, e)| e.last_shown.elapsed() < SHOW_WINDOW)
                .filter_map(|(id, e)| {
                    let f = e.source.as_ref()?.latest()?;
                    (f.seq != e.seq
                        || e.picture
                            .as_ref()
                            .is_none_or(|p| (p.width, p.height) != (f.width, f.height)))
                    .then_some((*id, f))
                })
                .collect()
        };
        let mut n = 0;
        for (id, f) in jobs {
            if self.upload_one(id, f.clone()) {
                n += 1;
                let source = self
                    .state
                    .lock()
                    .streams
                    .get(&id)
                    .and_then(|e| e.source.clone());
                if let Some(s) = source {
                    s.record_upload(&f);
                }
            }
        }
        n
    }

    /// Writes `f` into stream `id`'s textures (new ones when the size changed), the copy done
    /// outside the bank's lock. Caller holds `writer`.
    fn upload_one(&self, id: StreamId, f: Arc<DecodedFrame>) -> bool {
        let params = YuvParams::new(f.matrix, f.full_range, self.gpu.srgb_target);
        let current = {
            let st = self.state.lock();
            let Some(e) = st.streams.get(&id) else {
                return false;
            };
            let fits = e
                .picture
                .as_ref()
                .filter(|p| (p.width, p.height) == (f.width, f.height));
            if fits.is_some() && e.seq == f.seq {
                return false;
            }
            fits.cloned()
        };
        // A new size gets new textures, filled before they replace the old ones: a view never
        // binds an empty texture.
        let picture =
            current.unwrap_or_else(|| Arc::new(GpuPicture::new(&self.gpu, f.width, f.height)));
        picture.write(&self.gpu, &f, &params);
        let mut st = self.state.lock();
        let Some(e) = st.streams.get_mut(&id) else {
            return false;
        };
        e.picture = Some(picture);
        e.seq = f.seq;
        drop(st);
        self.uploads.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Frees the textures of streams no view has shown for the idle time, and at once those
    /// of streams that are gone (a playback or replay closed: nothing but this bank holds
    /// their slot, so no view can show them again).
    fn sweep(&self) {
        let mut st = self.state.lock();
        let idle = st.idle_free;
        let owner = self.owner;
        st.streams.retain(|_, e| {
            let gone = e.source.as_ref().is_some_and(|s| Arc::strong_count(s) == 1);
            let keep = !gone && e.last_shown.elapsed() < idle;
            if !keep {
                if let Some(s) = &e.source {
                    s.remove_bell(owner);
                }
            }
            keep
        });
    }

    fn run(self: Arc<Bank>, rx: Receiver<()>) {
        let mut last_sweep = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            loop {
                match rx.try_recv() {
                    Ok(()) => continue,
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            let n = {
                let _w = self.writer.lock();
                self.upload_pending()
            };
            if n > 0 {
                if let Some(r) = &self.repaint {
                    r();
                }
            }
            if last_sweep.elapsed() >= Duration::from_secs(1) {
                last_sweep = Instant::now();
                self.sweep();
            }
        }
        let st = self.state.lock();
        for e in st.streams.values() {
            if let Some(s) = &e.source {
                s.remove_bell(self.owner);
            }
        }
    }

    /// Ends the thread (the renderer is going away).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.ring();
    }

    pub fn set_idle_free(&self, d: Duration) {
        self.state.lock().idle_free = d;
    }

    /// Streams that have textures.
    pub fn picture_count(&self) -> usize {
        self.state
            .lock()
            .streams
            .values()
            .filter(|e| e.picture.is_some())
            .count()
    }

    /// GPU memory held by the pictures' planes, bytes.
    pub fn texture_bytes(&self) -> u64 {
        self.state
            .lock()
            .streams
            .values()
            .filter_map(|e| e.picture.as_ref())
            .map(|p| p.bytes())
            .sum()
    }
}
