//! What the recorder thread gets from a stream: every received access unit, and the end of
//! each RTSP session.

/// One received access unit, as the recorder gets it (a copy of what goes to the decoder;
/// nothing is re-encoded).
#[derive(Clone, Debug)]
pub struct RecPacket {
    /// Annex B, with SPS/PPS (VPS) before every keyframe.
    pub data: Vec<u8>,
    pub keyframe: bool,
    pub codec: crate::Codec,
    /// Presentation time in 1/90,000 s since the RTSP session started (RTP timestamps).
    pub pts_90k: i64,
    /// The picture's place on the timeline, Unix µs (`mt_capture::clock::SessionClock`).
    pub wall_us: i64,
    /// Increments with each new RTSP session (timestamps restart).
    pub session: u64,
    /// Picture size, when the stream's parameters are known.
    pub width: u32,
    pub height: u32,
    /// The stream's parameters (SPS/PPS/VPS) changed at this keyframe (e.g. a new resolution).
    pub new_parameters: bool,
    /// RTP packets lost just before this frame (the picture may be broken).
    pub loss: u16,
    /// The presentation times jumped just before this frame.
    pub jumped: bool,
    /// The workstation's clock stepped by this much (µs) just before this frame.
    pub clock_step_us: Option<i64>,
}

/// What the recorder thread is told about a stream.
#[derive(Clone, Debug)]
pub enum RecMsg {
    Packet(RecPacket),
    /// The RTSP session `session` ended: the run of footage ends here.
    Ended {
        session: u64,
        /// Why, as a gap reason key (`camera-lost`, `stalled`, …) and in words.
        reason: &'static str,
        detail: String,
    },
}

/// Where a stream's packets go for recording: a bounded channel to the recorder thread.
pub type RecSink = std::sync::mpsc::SyncSender<RecMsg>;
