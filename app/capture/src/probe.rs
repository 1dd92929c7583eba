//! "Kiểm tra kết nối": one look at a stream before it becomes a camera. DESCRIBE lists the
//! streams (codec, audio), then the video stream is played for a moment: its size comes from
//! the parameters, its frame rate from the RTP times of the frames received, and the first
//! keyframe is decoded into a still. Every step has a timeout; a failure is one
//! [`LossReason`] (the same words the wall uses) and a detail with the password scrubbed.
//!
//! Used by the camera form (on the capture runtime, never the UI thread) and `matthan probe`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use mt_core::{secret::scrub, Credentials, LossReason, Transport};
use retina::client::{PlayOptions, SessionOptions, SetupOptions};
use retina::codec::{CodecItem, ParametersRef};

use crate::decode::{Codec, Decoder};
use mt_media::DecodedFrame;

/// What one media section of the stream's SDP says.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaInfo {
    /// `video`, `audio`, `application`.
    pub media: String,
    /// RTP encoding name as the camera gives it (`H264`, `H265`, `PCMA`, `MPEG4-GENERIC`, `JPEG`).
    pub encoding: String,
    pub clock_rate_hz: u32,
    pub channels: Option<u16>,
}

/// What the look at a stream found.
#[derive(Clone, Debug)]
pub struct ProbeReport {
    pub media: Vec<MediaInfo>,
    pub codec: Codec,
    /// Picture size from the stream's parameters.
    pub width: u32,
    pub height: u32,
    /// Frames per second from the RTP times of the frames received (None: too few frames).
    pub fps: Option<f64>,
    /// Frames received while measuring.
    pub frames: u32,
    /// The first keyframe, decoded (None: it did not decode; `still_error` says why).
    pub still: Option<Arc<DecodedFrame>>,
    pub still_error: Option<String>,
    /// Time from the first request to the report.
    pub took: Duration,
}

impl ProbeReport {
    /// The audio tracks, as `PCMA 8000 Hz ×1`.
    pub fn audio(&self) -> Vec<String> {
        self.media
            .iter()
            .filter(|m| m.media == "audio")
            .map(|m| match m.channels {
                Some(c) => format!("{} {} Hz ×{c}", m.encoding, m.clock_rate_hz),
                None => format!("{} {} Hz", m.encoding, m.clock_rate_hz),
            })
            .collect()
    }
}

/// Why a stream could not be looked at: the wall's reason and a detail fit to show (no
/// password, no user-info).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}: {detail}", reason.key())]
pub struct ProbeError {
    pub reason: LossReason,
    pub detail: String,
}

/// How long each step may take, and how long the frame rate is measured.
#[derive(Clone, Copy, Debug)]
pub struct ProbeLimits {
    pub request: Duration,
    /// Frames are counted for this long after the first keyframe (or until `max_frames`).
    pub measure: Duration,
    pub max_frames: u32,
    /// The whole look, from DESCRIBE to the report.
    pub total: Duration,
}

impl Default for ProbeLimits {
    fn default() -> Self {
        ProbeLimits {
            request: Duration::from_secs(3),
            measure: Duration::from_millis(1500),
            max_frames: 40,
            total: Duration::from_secs(6),
        }
    }
}

/// Looks at one stream. `url` carries no user-info (credentials go separately, as in the
/// camera file).
pub async fn probe(
    url: url::Url,
    credentials: Option<Credentials>,
    transport: Transport,
    limits: ProbeLimits,
) -> Result<ProbeReport, ProbeError> {
    let secret = credentials.as_ref().map(|c| c.password.clone());
    let fail = |reason: LossReason, detail: String| ProbeError {
        reason,
        detail: scrub(&detail, secret.as_ref()),
    };
    let playing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let look = look(url, credentials, transport, limits, playing.clone());
    match tokio::time::timeout(limits.total, look).await {
        // Connected and playing, but no keyframe in time (a long GOP, a stalled camera).
        Err(_) if playing.load(std::sync::atomic::Ordering::SeqCst) => Err(fail(
            LossReason::Stalled,
            format!(
                "connected, but no keyframe within {} s",
                limits.total.as_secs_f32().round() as u32
            ),
        )),
        Err(_) => Err(fail(
            LossReason::Unreachable,
            format!(
                "no answer within {} s",
                limits.total.as_secs_f32().round() as u32
            ),
        )),
        Ok(Err((reason, detail))) => Err(fail(reason, detail)),
        Ok(Ok(r)) => Ok(r),
    }
}

type Failure = (LossReason, String);

async fn step<T>(
    what: &str,
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, retina::Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(limit, f).await {
        Err(_) => Err((
            LossReason::Unreachable,
            format!(
                "no answer to {what} within {} s",
                limit.as_secs_f32().round() as u32
            ),
        )),
        Ok(Err(e)) => Err(crate::stream::failure(&e)),
        Ok(Ok(v)) => Ok(v),
    }
}

async fn look(
    url: url::Url,
    credentials: Option<Credentials>,
    transport: Transport,
    limits: ProbeLimits,
    playing: Arc<std::sync::atomic::AtomicBool>,
) -> Result<ProbeReport, Failure> {
    let t0 = Instant::now();
    let creds = credentials.map(|c| retina::client::Credentials {
        username: c.username,
        password: c.password.expose().to_owned(),
    });
    let opts = SessionOptions::default()
        .creds(creds)
        .user_agent(format!("MatThan/{} probe", env!("CARGO_PKG_VERSION")));
    let mut session = step(
        "DESCRIBE",
        limits.request,
        retina::client::Session::describe(url, opts),
    )
    .await?;
    let media: Vec<MediaInfo> = session
        .streams()
        .iter()
        .map(|s| MediaInfo {
            media: s.media().to_owned(),
            encoding: s.encoding_name().to_ascii_uppercase(),
            clock_rate_hz: s.clock_rate_hz(),
            channels: s.channels().map(|c| c.get()),
        })
        .collect();
    let Some(idx) = media.iter().position(|m| m.media == "video") else {
        return Err((
            LossReason::UnsupportedCodec,
            "the stream has no video".into(),
        ));
    };
    let Some(codec) = Codec::from_encoding_name(&media[idx].encoding) else {
        return Err((
            LossReason::UnsupportedCodec,
            format!(
                "video codec {} (only H.264/H.265 are decoded)",
                media[idx].encoding
            ),
        ));
    };
    let setup = SetupOptions::default()
        .transport(crate::stream::rtp_transport(transport))
        .frame_format(retina::codec::FrameFormat::SIMPLE);
    step("SETUP", limits.request, session.setup(idx, setup)).await?;
    let play =
        PlayOptions::default().initial_seq(retina::client::InitialSequenceNumberPolicy::Ignore);
    let session = step("PLAY", limits.request, session.play(play)).await?;
    playing.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut demuxed = session.demuxed().map_err(|e| crate::stream::failure(&e))?;

    let mut dims = (0u32, 0u32);
    let mut times: Vec<f64> = Vec::new();
    let mut key: Option<Vec<u8>> = None;
    let mut measuring_since: Option<Instant> = None;
    loop {
        if let Some(s) = measuring_since {
            if s.elapsed() >= limits.measure || times.len() as u32 >= limits.max_frames {
                break;
            }
        }
        // Until the first keyframe the whole look may be waited for (a camera, or a busy
        // relay, can take seconds to send a new session's first picture); the outer timeout
        // then says "no keyframe within N s". After it, a pause of a request's time ends it.
        let left = match measuring_since {
            None => limits.total,
            Some(_) => limits.measure.max(limits.request),
        };
        let item = match tokio::time::timeout(left, demuxed.next()).await {
            Err(_) => break,
            Ok(None) => return Err((LossReason::Ended, "the server ended the stream".into())),
            Ok(Some(Err(e))) => return Err(crate::stream::failure(&e)),
            Ok(Some(Ok(i))) => i,
        };
        let CodecItem::VideoFrame(vf) = item else {
            continue;
        };
        if vf.stream_id() != idx {
            continue;
        }
        if let Some(ParametersRef::Video(v)) = demuxed.streams()[idx].parameters() {
            dims = v.pixel_dimensions();
        }
        let rap = vf.is_random_access_point();
        if measuring_since.is_none() && !rap {
            continue; // count from the first keyframe: the frames before it may be a tail
        }
        measuring_since.get_or_insert_with(Instant::now);
        times.push(vf.timestamp().elapsed_secs());
        if rap && key.is_none() {
            key = Some(vf.into_data());
        }
    }
    if times.is_empty() {
        return Err((
            LossReason::Stalled,
            "connected, but no keyframe arrived".into(),
        ));
    }
    // Decoding is CPU work: on a blocking thread, not on the runtime the cameras share.
    let (still, still_error) = match key {
        None => (None, Some("no keyframe".to_owned())),
        Some(data) => tokio::task::spawn_blocking(move || decode_still(codec, &data))
            .await
            .unwrap_or_else(|e| (None, Some(format!("decoder thread failed: {e}")))),
    };
    if dims == (0, 0) {
        if let Some(f) = &still {
            dims = (f.width, f.height);
        }
    }
    Ok(ProbeReport {
        media,
        codec,
        width: dims.0,
        height: dims.1,
        fps: fps_of(&times),
        frames: times.len() as u32,
        still,
        still_error,
        took: t0.elapsed(),
    })
}

/// Decodes one keyframe (Annex B with its parameter sets) into a still, or says why not.
fn decode_still(codec: Codec, data: &[u8]) -> (Option<Arc<DecodedFrame>>, Option<String>) {
    let mut dec = match Decoder::new(codec) {
        Ok(d) => d,
        Err(e) => return (None, Some(e.to_string())),
    };
    let mut got = None;
    let r = dec
        .decode(data, 0, Instant::now(), |f| got = Some(f))
        .and_then(|()| dec.drain_now(0, Instant::now(), |f| got = Some(f)));
    match (r, got) {
        (_, Some(f)) => (Some(f), None),
        (Err(e), None) => (None, Some(e.to_string())),
        (Ok(()), None) => (None, Some("the keyframe gave no picture".into())),
    }
}

/// Frames per second from the presentation times of the frames received (any order: with
/// B-frames they come in decode order, and the window's last B-frames may be missing): one
/// over the median step between sorted times. Needs three frames.
fn fps_of(times: &[f64]) -> Option<f64> {
    if times.len() < 3 {
        return None;
    }
    let mut t = times.to_vec();
    t.sort_by(f64::total_cmp);
    let mut steps: Vec<f64> = t
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .collect();
    if steps.is_empty() {
        return None;
    }
    steps.sort_by(f64::total_cmp);
    Some(1.0 / steps[steps.len() / 2])
}

#[cfg(test)]
mod tests {
    #[test]
    fn fps_from_reordered_times() {
        // 15 fps with B-frames: decode order 0, 3, 1, 2, 6, 4, 5, 9 (7 and 8 not yet in).
        let t: Vec<f64> = [0, 3, 1, 2, 6, 4, 5, 9]
            .iter()
            .map(|i| *i as f64 / 15.0)
            .collect();
        let f = super::fps_of(&t).unwrap();
        assert!((f - 15.0).abs() < 1e-9, "{f}");
        assert_eq!(super::fps_of(&t[..2]), None);
    }
}
