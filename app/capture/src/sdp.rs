//! Parameter sets from an SDP's `a=fmtp` line, read leniently.
//!
//! Some cameras and relays put the parameter sets (SPS/PPS, and VPS for H.265) only in the
//! SDP and never repeat them in band. retina parses `a=fmtp` strictly: one parameter without a
//! value — a trailing `;`, as some servers write — makes it ignore the whole line, and such a
//! stream would never decode. This reads the same line the way FFmpeg does (empty and
//! value-less parameters skipped) so the stream still plays. Hand-written because retina keeps
//! its parser private and the format is three base64 fields.

use base64::Engine as _;

use crate::decode::Codec;

/// Annex B parameter sets (each with a start code) from an `a=fmtp:` line's value
/// (`96 packetization-mode=1;sprop-parameter-sets=Z0Ia…,aM4…;`); empty when there are none.
pub fn parameter_sets(fmtp: &str, codec: Codec) -> Vec<u8> {
    // "96 key=value;key=value": the payload type comes first.
    let params = fmtp.split_once(' ').map_or(fmtp, |(_, rest)| rest);
    let mut by_key: Vec<(String, &str)> = Vec::new();
    for p in params.split(';') {
        let p = p.trim();
        if let Some((k, v)) = p.split_once('=') {
            by_key.push((k.trim().to_ascii_lowercase(), v.trim()));
        }
    }
    let get = |k: &str| by_key.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
    let fields: Vec<&str> = match codec {
        Codec::H264 => get("sprop-parameter-sets")
            .map(|v| v.split(',').collect())
            .unwrap_or_default(),
        Codec::H265 => ["sprop-vps", "sprop-sps", "sprop-pps"]
            .iter()
            .filter_map(|k| get(k))
            .flat_map(|v| v.split(','))
            .collect(),
    };
    let mut out = Vec::new();
    for f in fields {
        let f = f.trim();
        if f.is_empty() {
            continue;
        }
        let Ok(nal) = base64::engine::general_purpose::STANDARD
            .decode(f)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(f))
        else {
            continue;
        };
        if nal.is_empty() {
            continue;
        }
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(&nal);
    }
    out
}

/// Whether an Annex B access unit carries its own SPS (H.264) or VPS/SPS (H.265).
pub fn has_parameter_sets(au: &[u8], codec: Codec) -> bool {
    let mut i = 0;
    while i + 3 < au.len() {
        if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
            let h = au[i + 3];
            let is_ps = match codec {
                Codec::H264 => h & 0x1f == 7,
                Codec::H265 => matches!((h >> 1) & 0x3f, 32 | 33),
            };
            if is_ps {
                return true;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_semicolon_and_a_key_without_value_do_not_lose_the_parameter_sets() {
        let line = "96 packetization-mode=1;profile-level-id=42e01e;sprop-parameter-sets=Z0IAHpWoKA9puAgICBA=,aM48gA==;";
        let ps = parameter_sets(line, Codec::H264);
        assert_eq!(&ps[..5], &[0, 0, 0, 1, 0x67]);
        assert!(has_parameter_sets(&ps, Codec::H264));
        let h265 = "96 sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwBdlZgJ;sprop-sps=QgEBAWAAAAMAkAAAAwAAAwBdoAKAgC0WWVmkkyvAEAAAAwAQAAADAeCA;sprop-pps=RAHBcrRiQA==; ;x";
        let ps = parameter_sets(h265, Codec::H265);
        assert_eq!(ps.windows(4).filter(|w| *w == [0, 0, 0, 1]).count(), 3);
        assert!(has_parameter_sets(&ps, Codec::H265));
        assert!(parameter_sets("96 packetization-mode=1;", Codec::H264).is_empty());
    }
}
