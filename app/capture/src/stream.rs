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
    shutdown: watch::Sender<bool>,
}

/// A camera's streams as the UI sees them.
pub struct CameraHandle {
    pub config: Arc<CameraConfig>,
    pub main: Arc<StreamShared>,
    pub sub: Option<Arc<StreamShared>>,
}

impl CameraHandle {
    /// The stream that tells the camera's health: the sub stream when there is one (it is
    /// always connected), else the main stream.
    pub fn health_stream(&self) -> &Arc<StreamShared> {
        self.sub.as_ref().unwrap_or(&self.main)
    }
}

impl Capture {
    pub fn new(timeouts: Timeouts) -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rtsp-io")
            .enable_all()
            .build()?;
        let (shutdown, _) = watch::channel(false);
        Ok(Capture {
            rt,
            group: Arc::new(SessionGroup::default()),
            timeouts,
            shutdown,
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
        self.spawn_stream(
            config.clone(),
            config.main_url.clone(),
            main.clone(),
            on_demand_main,
        )?;
        if let (Some(s), Some(u)) = (&sub, &config.sub_url) {
            self.spawn_stream(config.clone(), u.clone(), s.clone(), false)?;
        }
        Ok(CameraHandle { config, main, sub })
    }

    fn spawn_stream(
        &self,
        cfg: Arc<CameraConfig>,
        url: url::Url,
        shared: Arc<StreamShared>,
        on_demand: bool,
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
            shutdown: self.shutdown.subscribe(),
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
        let _ = self.shutdown.send(true);
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
        let msg = e.to_string();
        let first = msg.lines().next().unwrap_or("").to_owned();
        let reason = classify(e.status_code(), &msg);
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
        let transport = match self.cfg.transport {
            mt_core::Transport::Tcp => retina::client::Transport::Tcp(Default::default()),
            mt_core::Transport::Udp => retina::client::Transport::Udp(Default::default()),
        };
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

        // Receive loop.
        self.session_no += 1;
        let mut dims = (0u32, 0u32);
        let mut need_keyframe = true;
        let mut fresh = true;
        let mut window_start = Instant::now();
        let (mut window_frames, mut window_bytes) = (0u32, 0u64);
        let mut unwanted_since: Option<Instant> = None;
        loop {
            let next = tokio::select! {
                n = tokio::time::timeout(self.t.no_frame, demuxed.next()) => n,
                _ = self.shutdown.changed() => return End::Shutdown,
            };
            let item = match next {
                Err(_) => {
                    return End::Lost(
                        LossReason::Stalled,
                        format!("no frame for {} s", self.t.no_frame.as_secs_f32()),
                    )
                }
                Ok(None) => {
                    return End::Lost(LossReason::Ended, "the server closed the stream".into())
                }
                Ok(Some(Err(e))) => return self.lost(&e),
                Ok(Some(Ok(item))) => item,
            };
            let CodecItem::VideoFrame(vf) = item else {
                continue;
            };
            let arrival = Instant::now();
            if !*got_frames {
                *got_frames = true;
                if !matches!(self.shared.state(), StreamState::Connecting) {
                    tracing::info!("stream live again");
                }
                self.shared.set_state(StreamState::Live);
            }
            let rap = vf.is_random_access_point();
            let pts_90k = vf.timestamp().elapsed();
            let data = vf.into_data();
            if let Some(sink) = self.shared.recorder() {
                if rap {
                    if let Some(retina::codec::ParametersRef::Video(v)) =
                        demuxed.streams()[idx].parameters()
                    {
                        dims = v.pixel_dimensions();
                    }
                }
                let wall_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                let pkt = crate::shared::RecPacket {
                    data: data.clone(),
                    keyframe: rap,
                    codec,
                    pts_90k,
                    wall_ms,
                    session: self.session_no,
                    width: dims.0,
                    height: dims.1,
                };
                if sink.try_send(pkt).is_err() {
                    self.shared
                        .rec_dropped
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
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
            // Decode only what a view shows; restart at a keyframe when it shows again.
            if !wanted {
                need_keyframe = true;
                continue;
            }
            if need_keyframe && !rap {
                continue;
            }
            match self.decoder.try_send(EncodedFrame {
                data,
                codec,
                arrival,
                fresh,
            }) {
                Ok(()) => {
                    need_keyframe = false;
                    fresh = false;
                }
                Err(TrySendError::Full(_)) => {
                    // The decoder is behind: skip to the next keyframe instead of queueing.
                    need_keyframe = true;
                    self.shared.with_stats(|s| s.frames_dropped += 1);
                }
                Err(TrySendError::Disconnected(_)) => {
                    return End::Lost(LossReason::Decode, "decoder thread ended".into());
                }
            }
        }
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
