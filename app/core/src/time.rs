//! One clock for everything an officer reads: the workstation's zone (Asia/Ho_Chi_Minh
//! unless a supervisor sets another in the log), never the operating system's. What is shown
//! is `dd/MM/yyyy HH:mm:ss`; what is written to files (CSV, incident JSON, manifests) is
//! ISO 8601 with the offset (`2026-12-01T18:07:44.120+07:00`).
//!
//! The zone is process-wide (set at start-up from the log's setting, and again when a
//! supervisor changes it or an officer signs in): every
//! formatter reads it, so no caller can forget it and fall back to the OS zone.

use std::sync::RwLock;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The default zone: Vietnam (UTC+7 all year, no daylight saving since 1975).
pub const DEFAULT_ZONE: Tz = chrono_tz::Asia::Ho_Chi_Minh;

static ZONE: RwLock<Tz> = RwLock::new(DEFAULT_ZONE);

/// The workstation's zone.
pub fn zone() -> Tz {
    *ZONE.read().unwrap_or_else(|e| e.into_inner())
}

/// Sets the workstation's zone (from the log's `time_zone` setting).
pub fn set_zone(tz: Tz) {
    *ZONE.write().unwrap_or_else(|e| e.into_inner()) = tz;
}

/// Reads an IANA zone name ("Asia/Ho_Chi_Minh"), or says what is wrong.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| format!("{name:?} is not a time zone name (e.g. Asia/Ho_Chi_Minh)"))
}

fn at(ms: i64) -> Option<DateTime<Tz>> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.with_timezone(&zone()))
}

/// Formats a Unix-ms time in the workstation's zone with a chrono format string.
pub fn format(ms: i64, fmt: &str) -> String {
    at(ms)
        .map(|t| t.format(fmt).to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// `01/12/2026 18:07:44`: how every time is shown.
pub fn show(ms: i64) -> String {
    format(ms, "%d/%m/%Y %H:%M:%S")
}

/// `18:07:44`: a time of day on a timeline or a clock.
pub fn show_time(ms: i64) -> String {
    format(ms, "%H:%M:%S")
}

/// ISO 8601 with milliseconds and the offset: `2026-12-01T18:07:44.120+07:00`.
pub fn iso(ms: i64) -> String {
    format(ms, "%Y-%m-%dT%H:%M:%S%.3f%:z")
}

/// `20261201-180744`: a time in a file name.
pub fn file_stamp(ms: i64) -> String {
    format(ms, "%Y%m%d-%H%M%S")
}

/// Now, Unix ms.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Reads a wall-clock time typed in the workstation's zone: `dd/MM/yyyy HH:mm[:ss]` or
/// `yyyy-MM-dd HH:mm[:ss]` (or with a `T`). None if it is not one of those or does not exist in the zone.
pub fn parse_local(s: &str) -> Option<i64> {
    let s = s.trim();
    let naive = [
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())?;
    zone()
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hanoi_is_seven_hours_ahead_whatever_the_os_says() {
        // 2026-12-01 11:07:44.120 UTC
        let ms = 1_796_123_264_120;
        assert_eq!(iso(ms), "2026-12-01T18:07:44.120+07:00");
        assert_eq!(show(ms), "01/12/2026 18:07:44");
        assert_eq!(parse_local("01/12/2026 18:07:44"), Some(ms - 120));
        assert_eq!(parse_local("2026-12-01 18:07"), Some(ms - 120 - 44_000));
    }
}
