//! A decoded picture: three tightly packed 8-bit planes (Y full size, U and V half size).

use std::time::Instant;

/// Which YUV→RGB matrix the stream's VUI asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorMatrix {
    #[default]
    Bt601,
    Bt709,
}

#[derive(Clone, Debug)]
pub struct DecodedFrame {
    pub width: u32,
    pub height: u32,
    /// `width × height` bytes.
    pub y: Vec<u8>,
    /// `⌈width/2⌉ × ⌈height/2⌉` bytes each.
    pub u: Vec<u8>,
    pub v: Vec<u8>,
    pub matrix: ColorMatrix,
    /// true: full range (0–255); false: limited/"TV" range (16–235 luma).
    pub full_range: bool,
    /// When the last RTP packet of this frame arrived (for arrival → upload latency).
    pub arrival: Instant,
    /// Increments with every frame the stream decodes.
    pub seq: u64,
    /// Where this picture sits on the timeline (Unix ms): live, its capture time as the
    /// workstation measures it (`mt_capture::clock`); in playback and replay, its recorded time.
    pub time_ms: i64,
    /// "H.264" / "H.265".
    pub codec: &'static str,
}

impl DecodedFrame {
    pub fn chroma_size(&self) -> (u32, u32) {
        (self.width.div_ceil(2), self.height.div_ceil(2))
    }

    /// A solid-colour frame (used by tests and by the renderer's colour-bar check).
    pub fn solid(width: u32, height: u32, y: u8, u: u8, v: u8) -> Self {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        DecodedFrame {
            width,
            height,
            y: vec![y; (width * height) as usize],
            u: vec![u; (cw * ch) as usize],
            v: vec![v; (cw * ch) as usize],
            matrix: ColorMatrix::Bt601,
            full_range: false,
            arrival: Instant::now(),
            seq: 0,
            time_ms: 0,
            codec: "",
        }
    }
}
