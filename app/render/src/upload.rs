//! The stream textures and the thread that fills them.
//!
//! A view (wall tile, map, second screen, playback) only *shows* a stream from the UI thread
//! ([`Bank::show`]: a timestamp, and a ring when the stream has a newer picture than its
//! textures). The thread "upload" — rung by the stream's [`FrameSlot`] whenever its decoder
//! or player publishes — copies each new picture of every stream shown within
//! [`SHOW_WINDOW`] (or shown since its last upload, however long ago: a slow frame) into
//! that stream's textures (`write_pictures`: the pictures found at one wake, in batches of at
//! most [`BATCH_BYTES`], each batch one submission of its own, so never a half-written
//! picture) and asks the UI to repaint. The UI thread never copies a picture. Textures are keyed by the stream's [`StreamId`] (never reused) and freed
//! when no view has shown the stream for the idle time, or within a second of the stream
//! being dropped (a closed playback or replay).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mt_media::{DecodedFrame, FrameSlot, StreamId, Waker};
use parking_lot::Mutex;

use crate::picture::{write_pictures, Gpu, GpuPicture, StagingPool};
use crate::YuvParams;

/// A stream no view has shown for this long gets no more uploads than one per showing (its
/// textures stay until the idle time frees them); shown again after this long and
/// [`SHOW_FRAMES`] frames with older textures than its picture, it is not drawn until the
/// newer picture is in.
pub const SHOW_WINDOW: Duration = Duration::from_secs(1);

struct Entry {
    /// None: a picture put in directly ([`Bank::put`], offscreen rendering).
    source: Option<Arc<FrameSlot>>,
    picture: Option<Arc<GpuPicture>>,
    /// The slot's stamp of what the textures hold (0: nothing yet; `put` pictures count up
    /// on their own).
    stamp: u64,
    /// Shown again after a pause with textures older than the slot's picture: not bound
    /// until the newer picture is in (a tile shows its background for a frame, not a
    /// picture of seconds ago beside the newest one's time).
    stale: bool,
    last_shown: Instant,
    /// The bank's frame count when a view last showed it.
    last_frame: u64,
    /// A view showed it since its textures were last written: one more upload is wanted
    /// even when frames are slower than [`SHOW_WINDOW`] (a test harness draws one a second).
    shown_since_upload: bool,
}

/// A stream shown within this many of the bank's frames still counts as on screen, however
/// long those frames took (two viewports alternate; a test harness draws a frame a second).
pub const SHOW_FRAMES: u64 = 4;

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
    /// Frames prepared (a frame ends with the first `end_frame` after a `show`).
    frame: AtomicU64,
    in_frame: AtomicBool,
    /// Upload submissions the GPU has not finished (their staging memory is held); counted
    /// down by `on_submitted_work_done`.
    in_flight: Arc<AtomicU64>,
    /// Staging buffers reused from batch to batch.
    pool: StagingPool,
    /// The thread ended (it should not: a failed batch is caught). Not shown anywhere yet.
    pub thread_ended: AtomicBool,
    /// The thread, joined when the renderer goes (a process must not exit while it is inside
    /// the GPU driver).
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Upload submissions allowed in flight before the thread waits (polling, never blocking on
/// the device: a blocking wait holds a lock the UI's present needs) — bounds the staging
/// memory when the GPU (lavapipe on a CPU) falls behind.
const MAX_IN_FLIGHT: u64 = 3;

/// The most staging memory one submission takes (under wgpu's default 256 MiB buffer limit):
/// 64 tiles of 2560×1440 after a pause are several batches, not one refused buffer.
pub const BATCH_BYTES: u64 = 48 << 20;

/// Whether wgpu can take `f` as textures: sizes within the device's limit, planes as long as
/// the size says. Checked before any wgpu call.
fn fits_gpu(f: &DecodedFrame, max: u32) -> Result<(), String> {
    let (cw, ch) = f.chroma_size();
    if f.width == 0 || f.height == 0 || f.width > max || f.height > max {
        return Err(format!(
            "{}×{} is beyond this GPU's {max}×{max}",
            f.width, f.height
        ));
    }
    let (y, c) = ((f.width * f.height) as usize, (cw * ch) as usize);
    if f.y.len() < y || f.u.len() < c || f.v.len() < c {
        return Err(format!(
            "planes of {}/{}/{} bytes for a {}×{} picture",
            f.y.len(),
            f.u.len(),
            f.v.len(),
            f.width,
            f.height
        ));
    }
    Ok(())
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
            frame: AtomicU64::new(1),
            in_frame: AtomicBool::new(false),
            in_flight: Arc::new(AtomicU64::new(0)),
            pool: StagingPool::default(),
            thread_ended: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        let b = bank.clone();
        let spawned = std::thread::Builder::new()
            .name("upload".into())
            .spawn(move || b.run(rx));
        match spawned {
            Ok(h) => *bank.thread.lock() = Some(h),
            // Without the thread, pictures still arrive: `flush` from the UI (offscreen).
            Err(e) => tracing::error!("could not start the upload thread: {e}"),
        }
        bank
    }

    fn ring(&self) {
        let _ = self.bell.try_send(());
    }

    /// A view shows stream `source` this frame (UI thread; cheap: a lock, a timestamp).
    pub fn show(&self, source: &Arc<FrameSlot>) {
        let now = Instant::now();
        let frame = self.frame.load(Ordering::Relaxed);
        self.in_frame.store(true, Ordering::Relaxed);
        let latest_seq = source.stamp();
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
                stamp: 0,
                stale: false,
                last_shown: now,
                last_frame: frame,
                shown_since_upload: true,
            }
        });
        let resumed =
            now.duration_since(e.last_shown) >= SHOW_WINDOW && frame > e.last_frame + SHOW_FRAMES;
        e.last_shown = now;
        e.last_frame = frame;
        e.shown_since_upload = true;
        let behind = latest_seq.is_some_and(|s| s != e.stamp);
        if resumed && behind {
            e.stale = true;
        }
        drop(st);
        if behind || resumed {
            self.ring();
        }
    }

    /// The views of one frame have all been prepared (`finish_prepare`; once per frame counts).
    pub fn end_frame(&self) {
        if self.in_frame.swap(false, Ordering::Relaxed) {
            self.frame.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The bind group of stream `id`'s picture, if it has one.
    pub fn bind_group(&self, id: StreamId) -> Option<wgpu::BindGroup> {
        let st = self.state.lock();
        st.streams
            .get(&id)
            .filter(|e| !e.stale)
            .and_then(|e| e.picture.as_ref())
            .map(|p| p.bind_group.clone())
    }

    /// Puts `frame` in as stream `id`'s picture now, on the calling thread (offscreen
    /// rendering of a single picture), even if it was there already. Returns false if the
    /// GPU could not take it.
    pub fn put(&self, id: StreamId, frame: &Arc<DecodedFrame>) -> bool {
        let _w = self.writer.lock();
        let stamp = {
            let mut st = self.state.lock();
            let e = st.streams.entry(id).or_insert_with(|| Entry {
                source: None,
                picture: None,
                stamp: 0,
                stale: false,
                last_shown: Instant::now(),
                last_frame: 0,
                shown_since_upload: true,
            });
            e.last_shown = Instant::now();
            e.stamp + 1
        };
        self.upload(vec![(id, stamp, frame.clone())]) == 1
    }

    /// Uploads, on the calling thread, every shown stream whose textures are behind its
    /// latest picture. Offscreen rendering calls it so that one render shows what the
    /// streams hold; the window leaves it to the thread.
    pub fn flush(&self) -> usize {
        let _w = self.writer.lock();
        self.upload_pending()
    }

    fn upload_pending(&self) -> usize {
        let jobs: Vec<(StreamId, u64, Arc<DecodedFrame>)> = {
            let st = self.state.lock();
            st.streams
                .iter()
                .filter(|(_, e)| e.last_shown.elapsed() < SHOW_WINDOW || e.shown_since_upload)
                .filter_map(|(id, e)| {
                    let (stamp, f) = e.source.as_ref()?.latest_stamped()?;
                    Some((*id, stamp, f))
                })
                .collect()
        };
        self.upload(jobs)
    }

    /// Writes each picture into its stream's textures (new ones when the stream or the size
    /// is new, filled before they replace the old ones: a view never binds an empty
    /// texture), all in one submission, the copy done outside the bank's lock. Pictures the
    /// textures already hold are skipped. Caller holds `writer`. Returns how many were put in.
    fn upload(&self, jobs: Vec<(StreamId, u64, Arc<DecodedFrame>)>) -> usize {
        let max = self.gpu.device.limits().max_texture_dimension_2d;
        let todo: Vec<(StreamId, u64, Arc<DecodedFrame>, Option<Arc<GpuPicture>>)> = {
            let mut st = self.state.lock();
            jobs.into_iter()
                .filter_map(|(id, stamp, f)| {
                    let e = st.streams.get_mut(&id)?;
                    let fits = e
                        .picture
                        .as_ref()
                        .filter(|p| (p.width, p.height) == (f.width, f.height));
                    if fits.is_some() && e.stamp == stamp {
                        return None;
                    }
                    if let Err(why) = fits_gpu(&f, max) {
                        // Never handed to wgpu (a validation error would end this thread and
                        // freeze every tile): the tile shows nothing new, the log says why.
                        if e.stamp != stamp {
                            tracing::warn!("stream {id}: picture not shown: {why}");
                            e.stamp = stamp;
                        }
                        // The last good picture stays drawn rather than nothing.
                        e.stale = false;
                        return None;
                    }
                    let fits = fits.cloned();
                    Some((id, stamp, f, fits))
                })
                .collect()
        };
        if todo.is_empty() {
            return 0;
        }
        let prepared: Vec<(StreamId, u64, Arc<DecodedFrame>, Arc<GpuPicture>, YuvParams)> = todo
            .into_iter()
            .map(|(id, stamp, f, pic)| {
                let pic =
                    pic.unwrap_or_else(|| Arc::new(GpuPicture::new(&self.gpu, f.width, f.height)));
                let params = YuvParams::new(f.matrix, f.full_range, self.gpu.srgb_target);
                (id, stamp, f, pic, params)
            })
            .collect();
        // Batches of at most BATCH_BYTES of staging memory. A batch wgpu refuses (a panic
        // from its error handler: something `fits_gpu` did not foresee) is tried again one
        // picture at a time, so one bad picture costs its own stream only; a picture refused
        // alone is not tried again (its stamp is taken as done) and its tile keeps the last
        // good picture.
        let mut written = vec![false; prepared.len()];
        let mut refused = vec![false; prepared.len()];
        let mut start = 0;
        while start < prepared.len() {
            let mut end = start;
            let mut bytes = 0u64;
            while end < prepared.len() {
                let b = staging_bytes(&prepared[end].2);
                if end > start && bytes + b > BATCH_BYTES {
                    break;
                }
                bytes += b;
                end += 1;
            }
            let batch = &prepared[start..end];
            if self.submit(batch) {
                written[start..end].iter_mut().for_each(|w| *w = true);
            } else {
                for (k, one) in batch.iter().enumerate() {
                    if self.submit(std::slice::from_ref(one)) {
                        written[start + k] = true;
                    } else {
                        tracing::warn!(
                            "stream {}: a {}×{} picture was refused by the GPU",
                            one.0,
                            one.2.width,
                            one.2.height
                        );
                        refused[start + k] = true;
                    }
                }
            }
            start = end;
        }
        let mut done = Vec::with_capacity(prepared.len());
        {
            let mut st = self.state.lock();
            for (k, (id, stamp, f, pic, _)) in prepared.into_iter().enumerate() {
                let Some(e) = st.streams.get_mut(&id) else {
                    continue;
                };
                if written[k] {
                    e.picture = Some(pic);
                    e.stamp = stamp;
                    e.stale = false;
                    e.shown_since_upload = false;
                    done.push((e.source.clone(), f));
                } else if refused[k] {
                    e.stamp = stamp;
                    e.stale = false;
                    e.shown_since_upload = false;
                }
            }
        }
        for (source, f) in &done {
            if let Some(s) = source {
                s.record_upload(f);
            }
        }
        self.uploads.fetch_add(done.len() as u64, Ordering::Relaxed);
        done.len()
    }

    /// One batch in one submission; false if wgpu refused it. Waits (polling) while too
    /// many uploads are in flight.
    fn submit(
        &self,
        batch: &[(StreamId, u64, Arc<DecodedFrame>, Arc<GpuPicture>, YuvParams)],
    ) -> bool {
        let t = Instant::now();
        while self.in_flight.load(Ordering::Acquire) >= MAX_IN_FLIGHT
            && t.elapsed() < Duration::from_secs(1)
        {
            // Non-blocking: runs the completion callbacks of finished submissions.
            let _ = self.gpu.device.poll(wgpu::PollType::Poll);
            std::thread::sleep(Duration::from_millis(2));
        }
        let items: Vec<(&GpuPicture, &DecodedFrame, YuvParams)> = batch
            .iter()
            .map(|(_, _, f, p, params)| (&**p, &**f, *params))
            .collect();
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_pictures(&self.gpu, &self.pool, &items);
        }))
        .is_ok();
        if ok {
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            let n = self.in_flight.clone();
            self.gpu.queue.on_submitted_work_done(move || {
                n.fetch_sub(1, Ordering::AcqRel);
            });
        }
        ok
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
            // A batch that panics (a wgpu error not foreseen by `fits_gpu`) must not end the
            // thread: every tile would freeze. It is logged and the next wake tries again.
            let n = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _w = self.writer.lock();
                self.upload_pending()
            })) {
                Ok(n) => n,
                Err(_) => {
                    tracing::error!("upload: a batch of pictures failed (see the panic above)");
                    0
                }
            };
            if n > 0 {
                // Frees the staging buffers of finished uploads here, not in the UI thread's
                // next poll or submit (wgpu frees resources of completed submissions in
                // whichever thread polls or submits first). Never blocks.
                let _ = self.gpu.device.poll(wgpu::PollType::Poll);
            }
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
        self.thread_ended.store(true, Ordering::Relaxed);
        let st = self.state.lock();
        for e in st.streams.values() {
            if let Some(s) = &e.source {
                s.remove_bell(self.owner);
            }
        }
    }

    /// Ends the thread and waits for it (at most the batch it is writing).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.ring();
        let h = self.thread.lock().take();
        if let Some(h) = h {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
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

/// Staging memory of one picture (rows padded to 256 bytes, parts on 256-byte boundaries).
fn staging_bytes(f: &DecodedFrame) -> u64 {
    let a = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT as u64;
    let pad = |w: u32| (w.max(1) as u64).div_ceil(a) * a;
    let (cw, ch) = f.chroma_size();
    pad(f.width) * f.height as u64 + 2 * pad(cw) * ch as u64 + 4 * a
}
