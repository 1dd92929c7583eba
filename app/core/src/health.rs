//! The state of one camera stream, as shown on its tile and in the health panel.

use std::fmt;

/// Why a stream is not live. Each maps to a translated message in the UI (`loss-<key>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LossReason {
    /// No answer in time (connect or RTSP request timed out).
    Unreachable,
    /// The host actively refused the TCP connection.
    Refused,
    /// 401: wrong or missing user name/password.
    Unauthorized,
    /// 404: no such stream path on the camera/relay.
    NotFound,
    /// The stream is in a codec Mắt Thần does not decode (only H.264/H.265).
    UnsupportedCodec,
    /// Connected but no frame arrived for the watchdog period.
    Stalled,
    /// The server closed the session.
    Ended,
    /// The peer spoke something that is not valid RTSP/RTP.
    Protocol,
    /// The decoder failed on the stream's data.
    Decode,
}

impl LossReason {
    /// Key of the translated message (`loss-unreachable` …).
    pub fn key(self) -> &'static str {
        match self {
            LossReason::Unreachable => "loss-unreachable",
            LossReason::Refused => "loss-refused",
            LossReason::Unauthorized => "loss-unauthorized",
            LossReason::NotFound => "loss-not-found",
            LossReason::UnsupportedCodec => "loss-unsupported-codec",
            LossReason::Stalled => "loss-stalled",
            LossReason::Ended => "loss-ended",
            LossReason::Protocol => "loss-protocol",
            LossReason::Decode => "loss-decode",
        }
    }
}

/// Why pictures cannot be decoded. Each maps to a translated message (`undecodable-<key>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UndecodableReason {
    /// A pixel format the decoder does not put out for display (10-bit, 4:2:2, …).
    Format,
    /// Frames arrive but no picture comes out (corrupt data, broken references).
    Failing,
    /// No decoder for the codec in this FFmpeg build.
    NoDecoder,
}

impl UndecodableReason {
    pub fn key(self) -> &'static str {
        match self {
            UndecodableReason::Format => "undecodable-format",
            UndecodableReason::Failing => "undecodable-failing",
            UndecodableReason::NoDecoder => "undecodable-no-decoder",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamState {
    /// Not wanted by any view: not connected.
    Idle,
    /// Connected, or connecting, but no picture decoded yet (or not lately).
    Connecting,
    /// Pictures are being decoded: one was decoded in the last seconds.
    Live,
    /// Frames arrive but cannot be shown: the decoder does not handle their format (e.g.
    /// 10-bit HEVC) or fails on every frame; the detail names the format or the error.
    Undecodable {
        reason: UndecodableReason,
        detail: String,
    },
    /// Lost, with the reason and a short (credential-free) detail; a reconnect is scheduled.
    Lost { reason: LossReason, detail: String },
}

impl StreamState {
    pub fn is_live(&self) -> bool {
        matches!(self, StreamState::Live)
    }
    pub fn key(&self) -> &'static str {
        match self {
            StreamState::Idle => "state-idle",
            StreamState::Connecting => "state-connecting",
            StreamState::Live => "state-live",
            StreamState::Lost { .. } => "state-lost",
            StreamState::Undecodable { .. } => "state-undecodable",
        }
    }
}

impl fmt::Display for LossReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}
