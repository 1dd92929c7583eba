//! One tokio task per stream: `run` loops over `run_once` with capped exponential backoff and
//! jitter, until shutdown. Every network step has a timeout, and a watchdog notices a stream
//! that stops sending (retina alone would notice only at the keepalive, ~50 s later).

use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use mt_core::{secret::scrub, CameraConfig, Credentials, LossReason, StreamState};
use retina::client::{PlayOptions, SessionGroup, SessionOptions, SetupOptions};
use retina::codec::CodecItem;
use tokio::sync::watch;

use crate::decode::{spawn_decoder, Codec, EncodedFrame};
use crate::shared::{StreamKind, StreamShared};

/// Time limits for the network steps and the watchdog.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// DESCRIBE, SETUP and PLAY each (includes the TCP connect).
    pub request: Duration,
    /// No frame for this long: the stream is "stalled" and reconnects.
    pub no_frame: Duration,
    /// First reconnect delay; doubles up to `backoff_max`, ±20 % jitter.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// An on-demand main stream no view has shown for this long is disconnected.
    pub idle_disconnect: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            request: Duration::from_secs(4),
            no_frame: Duration::from_millis(2500),
            backoff_min: Duration::from_millis(250),
            // Capped low so a camera that returns is live again within ~5 s; behind a relay
            // the relay absorbs the reconnect load of thousands of cameras.
            backoff_max: Duration::from_millis(2500),
            idle_disconnect: Duration::from_secs(10),
        }
    }
}

/// The capture runtime: a small tokio runtime whose tasks receive every stream.
pub struct Capture {
    rt: tokio::runtime::Runtime,
    group: Arc<SessionGroup>,
    timeouts: Timeouts,
    /// Every camera's stop switch (set for all when the runtime goes).
    stops: parking_lot::Mutex<Vec<Arc<watch::Sender<bool>>>>,
}

/// A camera's streams as the UI sees them.
pub struct CameraHandle {
    pub config: Arc<CameraConfig>,
    pub main: Arc<StreamShared>,
    pub sub: Option<Arc<StreamShared>>,
    stop: Arc<watch::Sender<bool>>,
}

impl CameraHandle {
    /// The stream that tells the camera's health: the sub stream when there is one (it is
    /// always connected), else the main stream.
    pub fn health_stream(&self) -> &Arc<StreamShared> {
        self.sub.as_ref().unwrap_or(&self.main)
    }

    /// Stops receiving this camera: its tasks end (closing their RTSP sessions, which ends
    /// a recording run as `camera-lost`), and so do its decoder threads. The other cameras
    /// are not touched.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    pub fn is_stopped(&self) -> bool {
        *self.stop.borrow()
    }
}

impl Capture {
    pub fn new(timeouts: Timeouts) -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rtsp-io")
            .enable_all()
            .build()?;
        Ok(Capture {
            rt,
            group: Arc::new(SessionGroup::default()),
            timeouts,
            stops: Default::default(),
        })
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.rt
    }

    /// Starts receiving a camera. Its sub stream (or its main stream, when it has no sub) is
    /// always connected; a main stream behind a sub stream connects when a view wants it.
    pub fn start_camera(&self, config: CameraConfig) -> std::io::Result<CameraHandle> {
        let config = Arc::new(config);
        let main = StreamShared::new(format!("{}/main", config.id), StreamKind::Main);
        let sub = config
            .sub_url
            .as_ref()
            .map(|_| StreamShared::new(format!("{}/sub", config.id), StreamKind::Sub));
        let on_demand_main = sub.is_some();
        let stop = Arc::new(watch::channel(false).0);
        let mut stops = self.stops.lock();
        stops.retain(|s| !*s.borrow()); // cameras stopped since
        stops.push(stop.clone());
        drop(stops);
        self.spawn_stream(
            config.clone(),
            config.main_url.clone(),
            main.clone(),
            on_demand_main,
            &stop,
        )?;
        if let (Some(s), Some(u)) = (&sub, &config.sub_url) {
            self.spawn_stream(config.clone(), u.clone(), s.clone(), false, &stop)?;
        }
        Ok(CameraHandle {
            config,
            main,
            sub,
            stop,
        })
    }

    fn spawn_stream(
        &self,
        cfg: Arc<CameraConfig>,
        url: url::Url,
        shared: Arc<StreamShared>,
        on_demand: bool,
        stop: &watch::Sender<bool>,
    ) -> std::io::Result<()> {
        let decoder = spawn_decoder(shared.clone())?;
        let w = Worker {
            cfg,
            url,
            shared,
            on_demand,
            decoder,
            group: self.group.clone(),
            t: self.timeouts,
            shutdown: stop.subscribe(),
            session_no: 0,
        };
        let span = tracing::info_span!("stream", id = %w.shared.label);
        self.rt
            .spawn(tracing::Instrument::instrument(w.run(), span));
        Ok(())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        for s in self.stops.lock().drain(..) {
            let _ = s.send(true);
        }
    }
}

struct Worker {
    cfg: Arc<CameraConfig>,
    url: url::Url,
    shared: Arc<StreamShared>,
    on_demand: bool,
    decoder: SyncSender<EncodedFrame>,
    group: Arc<SessionGroup>,
    t: Timeouts,
    shutdown: watch::Receiver<bool>,
    /// RTSP sessions started so far (the recorder starts a new segment on a new one).
    session_no: u64,
}

/// Why `run_once` returned.
enum End {
    Lost(LossReason, String),
    /// On-demand stream no longer wanted.
    Idle,
    Shutdown,
}

impl Worker {
    async fn run(mut self) {
        let mut backoff = self.t.backoff_min;
        loop {
            if *self.shutdown.borrow() {
                return;
            }
            if self.on_demand && !self.shared.is_wanted() && !self.shared.is_recording() {
                self.shared.set_state(StreamState::Idle);
                tokio::select! {
                    _ = self.shared.wanted_changed.notified() => continue,
                    _ = self.shutdown.changed() => return,
                }
            }
            let mut got_frames = false;
            let end = self.run_once(&mut got_frames).await;
            if got_frames {
                backoff = self.t.backoff_min;
            }
            match end {
                End::Shutdown => return,
                End::Idle => {
                    self.shared.clear_picture();
                    continue;
                }
                End::Lost(reason, detail) => {
                    // Log a loss once, not at every retry of a camera that stays down.
                    let same = matches!(self.shared.state(), StreamState::Lost { reason: r, .. } if r == reason);
                    if same {
                        tracing::debug!(?reason, "still lost: {detail}");
                    } else {
                        tracing::warn!(?reason, "stream lost: {detail}");
                    }
                    if let Some(sink) = self.shared.recorder() {
                        let why = if reason == LossReason::Stalled {
                            "stalled"
                        } else {
                            "camera-lost"
                        };
                        let _ = sink.try_send(crate::shared::RecMsg::Ended {
                            session: self.session_no,
                            reason: why,
                            detail: format!("{}: {detail}", reason.key()),
                        });
                    }
                    self.shared.set_state(StreamState::Lost { reason, detail });
                    self.shared.with_stats(|s| {
                        s.reconnects += 1;
                        s.fps = 0.0;
                        s.kbps = 0.0;
                    });
                }
            }
            let jitter = 0.8 + 0.4 * fastrand::f64();
            let delay = backoff.mul_f64(jitter);
            backoff = (backoff * 2).min(self.t.backoff_max);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.shutdown.changed() => return,
            }
        }
    }

    fn secret(&self) -> Option<&mt_core::Secret> {
        self.cfg.credentials.as_ref().map(|c| &c.password)
    }

    fn lost(&self, e: &retina::Error) -> End {
        let (reason, first) = failure(e);
        End::Lost(reason, scrub(&first, self.secret()))
    }

    async fn run_once(&mut self, got_frames: &mut bool) -> End {
        if matches!(self.shared.state(), StreamState::Idle) {
            self.shared.set_state(StreamState::Connecting);
        }
        let creds =
            self.cfg
                .credentials
                .as_ref()
                .map(|c: &Credentials| retina::client::Credentials {
                    username: c.username.clone(),
                    password: c.password.expose().to_owned(),
                });
        let opts = SessionOptions::default()
            .creds(creds)
            .user_agent(format!("MatThan/{}", env!("CARGO_PKG_VERSION")))
            .session_group(self.group.clone());
        let req = self.t.request;
        let mut session = match tokio::time::timeout(
            req,
            retina::client::Session::describe(self.url.clone(), opts),
        )
        .await
        {
            Err(_) => {
                return End::Lost(
                    LossReason::Unreachable,
                    format!("no answer to DESCRIBE within {} s", req.as_secs_f32()),
                )
            }
            Ok(Err(e)) => return self.lost(&e),
            Ok(Ok(s)) => s,
        };
        let sdp_text = String::from_utf8_lossy(session.sdp()).into_owned();
        let Some(idx) = session.streams().iter().position(|s| s.media() == "video") else {
            return End::Lost(LossReason::UnsupportedCodec, "no video stream".into());
        };
        let enc = session.streams()[idx].encoding_name().to_owned();
        let Some(codec) = Codec::from_encoding_name(&enc) else {
            return End::Lost(
                LossReason::UnsupportedCodec,
                format!("codec {enc} (only H.264/H.265 are decoded)"),
            );
        };
        let transport = rtp_transport(self.cfg.transport);
        let setup = SetupOptions::default()
            .transport(transport)
            .frame_format(retina::codec::FrameFormat::SIMPLE);
        match tokio::time::timeout(req, session.setup(idx, setup)).await {
            Err(_) => return End::Lost(LossReason::Unreachable, "no answer to SETUP".into()),
            Ok(Err(e)) => return self.lost(&e),
            Ok(Ok(())) => {}
        }
        let play =
            PlayOptions::default().initial_seq(retina::client::InitialSequenceNumberPolicy::Ignore);
        let playing = match tokio::time::timeout(req, session.play(play)).await {
            Err(_) => return End::Lost(LossReason::Unreachable, "no answer to PLAY".into()),
            Ok(Err(e)) => return self.lost(&e),
            Ok(Ok(p)) => p,
        };
        let mut demuxed = match playing.demuxed() {
            Ok(d) => d,
            Err(e) => return self.lost(&e),
        };

        // Parameter sets that only the SDP carries, in a form retina's strict parser
        // rejected (e.g. a trailing `;` in a=fmtp): read them leniently ourselves, and put
        // them before keyframes that come without them.
        let sdp_params = if demuxed.streams()[idx].parameters().is_none() {
            let p = crate::sdp::parameter_sets(demuxed_sdp_video_fmtp(&sdp_text, idx), codec);
            if !p.is_empty() {
                tracing::info!(
                    "using the parameter sets of the SDP's a=fmtp line ({} bytes), which retina ignored",
                    p.len()
                );
            }
            p
        } else {
            Vec::new()
        };

        // Receive loop.
        self.session_no += 1;
        let mut dims = (0u32, 0u32);
        let mut clock = crate::clock::SessionClock::new();
        let mut step_watch = crate::clock::StepWatch::default();
        // A step of the workstation's clock not yet told to the recorder (µs).
        let mut pending_step: Option<i64> = None;
        // Why frames are not going to the decoder until the next keyframe, if they are not.
        let mut skipping: Option<Skip> = Some(Skip::Start);
        let mut fresh = true;
        let mut window_start = Instant::now();
        let (mut window_frames, mut window_bytes) = (0u32, 0u64);
        let mut unwanted_since: Option<Instant> = None;
        // The watchdog counts video frames only: RTCP sender reports (and audio) go on while a
        // camera's video has stopped.
        let mut last_video = Instant::now();
        let mut last_key: Option<Instant> = None;
        let mut key_interval = Duration::from_secs(2);
        let mut last_probe: Option<Instant> = None;
        // Frames since a packet loss, up to the next keyframe.
        let mut damaged = false;
        loop {
            let deadline = tokio::time::Instant::from_std(last_video + self.t.no_frame);
            let next = tokio::select! {
                n = tokio::time::timeout_at(deadline, demuxed.next()) => n,
                _ = self.shutdown.changed() => return End::Shutdown,
            };
            let item = match next {
                Err(_) => {
                    return End::Lost(
                        LossReason::Stalled,
                        format!("no video frame for {} s", self.t.no_frame.as_secs_f32()),
                    )
                }
                Ok(None) => {
                    return End::Lost(LossReason::Ended, "the server closed the stream".into())
                }
                Ok(Some(Err(e))) => return self.lost(&e),
                Ok(Some(Ok(item))) => item,
            };
            let vf = match item {
                CodecItem::VideoFrame(vf) => vf,
                CodecItem::Rtcp(rtcp) if rtcp.stream_id() == idx => {
                    // A sender report pairs an RTP timestamp with the camera's clock.
                    if let Some(ts) = rtcp.rtp_timestamp() {
                        for pkt in rtcp.pkts() {
                            if let Ok(Some(sr)) = pkt.as_sender_report() {
                                let cam_us = crate::clock::ntp_to_unix_us(sr.ntp_timestamp().0);
                                clock.sender_report(ts.elapsed(), cam_us);
                                if let Some(off) = clock.camera_clock_offset_us() {
                                    self.shared.with_stats(|s| {
                                        s.camera_clock_offset_ms = Some(off.div_euclid(1000));
                                        s.camera_clock_used = clock.uses_camera_clock();
                                    });
                                }
                            }
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            if vf.stream_id() != idx {
                continue;
            }
            let arrival = Instant::now();
            last_video = arrival;
            if !*got_frames {
                *got_frames = true;
                // Frames arrive; the stream is "live" only once a picture decodes.
                self.shared.set_state(StreamState::Live);
            }
            let rap = vf.is_random_access_point();
            let loss = vf.loss();
            let new_parameters = vf.has_new_parameters();
            if new_parameters || (rap && dims == (0, 0)) {
                if let Some(retina::codec::ParametersRef::Video(v)) =
                    demuxed.streams()[idx].parameters()
                {
                    if new_parameters && dims != (0, 0) && dims != v.pixel_dimensions() {
                        tracing::info!(
                            "new parameters: {}×{} → {}×{}",
                            dims.0,
                            dims.1,
                            v.pixel_dimensions().0,
                            v.pixel_dimensions().1
                        );
                    }
                    dims = v.pixel_dimensions();
                }
            }
            if rap {
                if let Some(k) = last_key {
                    key_interval = arrival.duration_since(k);
                }
                last_key = Some(arrival);
            }
            let pts_90k = vf.timestamp().elapsed();
            let (now, step) = step_watch.now();
            if let Some(step) = step {
                tracing::warn!(
                    "the workstation's clock stepped by {:+.3} s; times start again from the new clock",
                    step as f64 / 1e6
                );
                clock.restart();
                // Kept until a packet carrying it reaches the recorder.
                *pending_step.get_or_insert(0) += step;
            }
            let stamp = clock.observe(pts_90k, now);
            let time_ms = stamp.wall_us.div_euclid(1000);
            let mut data = vf.into_data();
            if rap && !sdp_params.is_empty() && !crate::sdp::has_parameter_sets(&data, codec) {
                let mut d = sdp_params.clone();
                d.extend_from_slice(&data);
                data = d;
            }
            if loss > 0 || new_parameters {
                self.shared.with_stats(|s| {
                    s.packets_lost += loss as u64;
                    s.parameter_changes += new_parameters as u64;
                });
            }
            if let Some(sink) = self.shared.recorder() {
                let pkt = crate::shared::RecPacket {
                    data: data.clone(),
                    keyframe: rap,
                    codec,
                    pts_90k,
                    wall_us: stamp.wall_us,
                    session: self.session_no,
                    width: dims.0,
                    height: dims.1,
                    new_parameters,
                    loss,
                    jumped: stamp.jumped,
                    clock_step_us: pending_step,
                };
                if sink.try_send(crate::shared::RecMsg::Packet(pkt)).is_ok() {
                    pending_step = None;
                } else {
                    self.shared
                        .rec_dropped
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            } else {
                pending_step = None;
            }
            window_frames += 1;
            window_bytes += data.len() as u64;
            let wanted = self.shared.is_wanted();
            self.shared.with_stats(|s| {
                s.frames_received += 1;
                s.last_frame_at = Some(arrival);
                s.codec = codec.label();
            });
            let el = window_start.elapsed();
            if el >= Duration::from_secs(1) {
                let secs = el.as_secs_f32();
                self.shared.with_stats(|s| {
                    s.fps = window_frames as f32 / secs;
                    s.kbps = window_bytes as f32 * 8.0 / 1000.0 / secs;
                });
                window_start = Instant::now();
                window_frames = 0;
                window_bytes = 0;
            }
            if self.on_demand {
                if wanted || self.shared.is_recording() {
                    unwanted_since = None;
                } else if unwanted_since.get_or_insert(arrival).elapsed() > self.t.idle_disconnect {
                    return End::Idle;
                }
            }
            // A lost packet breaks this picture and every one that refers to it up to the next
            // keyframe. libavcodec conceals the damage (the picture goes on moving, smeared
            // where data is missing) and the next keyframe makes it whole again; skipping to
            // the keyframe instead froze the wall for most of every GOP at 2 % loss. The
            // damaged frames are counted, and the recorder marks them on the timeline.
            if loss > 0 {
                damaged = !rap;
            } else if rap {
                damaged = false;
            }
            if damaged {
                self.shared.with_stats(|s| s.frames_damaged += 1);
            }
            if !wanted {
                // Not on screen: only a keyframe now and then, so the stream's state still
                // says whether its pictures decode.
                self.shared.set_live_window_ms(
                    (PROBE_EVERY + 2 * key_interval + Duration::from_secs(1)).as_millis() as u64,
                );
                skipping = Some(Skip::Start);
                let due = last_probe.is_none_or(|t| t.elapsed() >= PROBE_EVERY);
                if !(rap && due) {
                    continue;
                }
                last_probe = Some(arrival);
                fresh = true;
            } else {
                self.shared.set_live_window_ms(3_000);
            }
            if skipping.is_some() && !rap {
                if skipping == Some(Skip::Overload) {
                    self.shared.with_stats(|s| s.frames_dropped += 1);
                }
                continue;
            }
            match self.decoder.try_send(EncodedFrame {
                data,
                codec,
                arrival,
                time_ms,
                // A probe of a stream nobody watches: the decoder must give its picture out
                // now, not hold it for the reordering of pictures that will not follow.
                drain: !wanted,
                fresh: fresh || new_parameters || matches!(skipping, Some(Skip::Start)),
                pixels: dims.0.saturating_mul(dims.1),
            }) {
                Ok(()) => {
                    skipping = None;
                    fresh = false;
                }
                Err(TrySendError::Full(_)) => {
                    // The decoder is behind: skip to the next keyframe instead of queueing.
                    skipping = Some(Skip::Overload);
                    self.shared.with_stats(|s| s.frames_dropped += 1);
                }
                Err(TrySendError::Disconnected(_)) => {
                    return End::Lost(LossReason::Decode, "decoder thread ended".into());
                }
            }
            if !wanted {
                // The probe picture was sent; wait for the next one.
                skipping = Some(Skip::Start);
            }
        }
    }
}

/// How often a stream no view shows has a keyframe decoded (its state stays true, and the
/// map's hover has a recent picture).
const PROBE_EVERY: Duration = Duration::from_secs(4);

/// Why frames are skipped until the next keyframe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Skip {
    /// A new session, a stream just shown again, or a probe: nothing to refer to yet.
    Start,
    /// The decoder was behind.
    Overload,
}

/// The a=fmtp line of the `idx`-th media section of an SDP, if any.
fn demuxed_sdp_video_fmtp(sdp: &str, idx: usize) -> &str {
    sdp.split("\nm=")
        .nth(idx + 1)
        .and_then(|m| m.lines().find_map(|l| l.trim().strip_prefix("a=fmtp:")))
        .unwrap_or("")
}

/// A retina error as the officer's reason and the first line of its message (credential-free
/// as retina writes it; callers scrub the password too).
pub(crate) fn failure(e: &retina::Error) -> (LossReason, String) {
    let msg = e.to_string();
    let first = msg.lines().next().unwrap_or("").to_owned();
    (classify(e.status_code(), &msg), first)
}

/// The camera file's transport as retina's.
pub(crate) fn rtp_transport(t: mt_core::Transport) -> retina::client::Transport {
    match t {
        mt_core::Transport::Tcp => retina::client::Transport::Tcp(Default::default()),
        mt_core::Transport::Udp => retina::client::Transport::Udp(Default::default()),
    }
}

/// Maps an RTSP failure to what the officer is told. retina's error type is opaque apart from
/// the status code, so the rest is read from its (credential-free) message.
pub fn classify(status: Option<u16>, msg: &str) -> LossReason {
    match status {
        Some(401) | Some(403) => return LossReason::Unauthorized,
        Some(404) => return LossReason::NotFound,
        Some(415) | Some(461) => return LossReason::UnsupportedCodec,
        _ => {}
    }
    let m = msg.to_ascii_lowercase();
    if m.contains("unable to connect") {
        if m.contains("refused") {
            LossReason::Refused
        } else {
            LossReason::Unreachable
        }
    } else if m.contains("unsupported") || m.contains("codec") {
        LossReason::UnsupportedCodec
    } else if m.contains("framing")
        || m.contains("parse")
        || m.contains("invalid")
        || m.contains("malformed")
    {
        LossReason::Protocol
    } else if m.contains("eof") || m.contains("closed") || m.contains("reset") {
        LossReason::Ended
    } else {
        LossReason::Protocol
    }
}
