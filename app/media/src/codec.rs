//! The video codecs a camera may send.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    H264,
    H265,
}

impl Codec {
    /// From an SDP `rtpmap` encoding name (`H264`, `H265`, `hevc`), any case.
    pub fn from_encoding_name(name: &str) -> Option<Codec> {
        match name.to_ascii_lowercase().as_str() {
            "h264" => Some(Codec::H264),
            "h265" | "hevc" => Some(Codec::H265),
            _ => None,
        }
    }
    /// As an officer reads it: "H.264" / "H.265".
    pub fn label(self) -> &'static str {
        match self {
            Codec::H264 => "H.264",
            Codec::H265 => "H.265",
        }
    }
}
