//! Where a picture sits on the workstation's timeline.
//!
//! RTSP carries presentation times (RTP timestamps, 90 kHz) that are exact *between* pictures
//! of one session but say nothing about the wall clock. The workstation's clock is the
//! reference (it is NTP-disciplined; household cameras' clocks often are not): a picture's
//! time is `anchor + (pts − pts0)`, where the anchor is the earliest arrival seen relative to
//! the presentation times, `min(arrival − (pts − pts0))`. That bound is what the picture's
//! capture time plus the smallest encoder and network delay can be; with B-frames the
//! keyframe that opens a session arrives several frame intervals after its capture (the
//! encoder holds it until the B-frames are decided) while the next P-frame arrives right
//! after its own, so taking the first arrival alone would place every picture frames late.
//!
//! A camera's RTCP sender reports pair an RTP timestamp with the camera's own clock (the
//! time its pictures are captured). When that clock agrees with the workstation's — the
//! pictures arrive between 0 and [`MAX_SR_LATENCY_US`] after the capture time it reports — the
//! sender report's mapping is used: it takes out the camera's encoder delay, which arrival
//! times cannot. A camera whose clock is off (many household cameras have no NTP) keeps the
//! arrival-based times, and how far off it is, is reported ([`SessionClock::camera_clock_offset_us`]).
//!
//! The anchor then follows the workstation clock slowly: every [`WINDOW_US`] the smallest
//! lateness seen in the window is taken back, at most [`MAX_SLEW_PPM`] of the window (camera
//! clocks drift by tens of ppm); a picture that arrives *before* its computed time moves the
//! anchor back at once (a picture cannot arrive before it was taken). A presentation-time step
//! that disagrees with the arrival step by more than [`JUMP_US`] is a timestamp jump: the clock
//! starts again from that picture and says so, and the recorder starts a new run.
//!
//! The workstation's own clock can step too (NTP correcting it after a boot, someone setting
//! it): [`StepWatch`] compares each reading with the monotonic clock; a step restarts the
//! session clock on the new time, and the recorder ends the run with the step's size
//! (`clock-step`), so footage on the old and the new clock are never one run.

/// Presentation-time steps and arrival steps that disagree by more than this are a jump.
pub const JUMP_US: i64 = 2_000_000;
/// Lateness is taken back once per window of this length.
pub const WINDOW_US: i64 = 10_000_000;
/// At most this much of a window (in parts per million) per correction: 5 ms per 10 s.
pub const MAX_SLEW_PPM: i64 = 500;
/// A camera clock whose pictures arrive later than this after their reported capture time
/// (or before it) is not trusted: more than a plausible encoder + network delay means the
/// clock itself is off, and a picture is never moved further than this from its arrival.
pub const MAX_SR_LATENCY_US: i64 = 300_000;

#[derive(Clone, Debug)]
pub struct SessionClock {
    pts0: i64,
    /// Wall-clock µs of `pts0`.
    anchor_us: i64,
    prev: Option<(i64, i64)>,
    window_start_us: i64,
    window_min_late_us: i64,
    started: bool,
    /// The latest sender report: (RTP timestamp, camera wall-clock µs).
    sr: Option<(i64, i64)>,
    /// Arrival-based time minus the camera's time, at the last sender report.
    sr_offset_us: Option<i64>,
}

/// A picture's place on the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Unix µs of the picture (its capture, as well as the workstation can tell).
    pub wall_us: i64,
    /// The presentation times jumped just before this picture: a new run starts here.
    pub jumped: bool,
}

impl Default for SessionClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionClock {
    pub fn new() -> Self {
        SessionClock {
            pts0: 0,
            anchor_us: 0,
            prev: None,
            window_start_us: 0,
            window_min_late_us: i64::MAX,
            started: false,
            sr: None,
            sr_offset_us: None,
        }
    }

    /// Takes an RTCP sender report: `rtp_90k` (extended like the frames' timestamps) was
    /// `camera_us` on the camera's clock (Unix µs).
    pub fn sender_report(&mut self, rtp_90k: i64, camera_us: i64) {
        if !self.started {
            self.sr = Some((rtp_90k, camera_us));
            return;
        }
        let arrival_based = self.arrival_wall_us(rtp_90k);
        self.sr_offset_us = Some(arrival_based - camera_us);
        self.sr = Some((rtp_90k, camera_us));
    }

    /// How far the arrival-based time is ahead of the camera's own clock (its encoder and
    /// network delay when the clock is right; seconds or more when it is wrong), once known.
    pub fn camera_clock_offset_us(&self) -> Option<i64> {
        self.sr_offset_us
    }

    /// Whether times come from the camera's sender reports (its clock agrees with ours).
    pub fn uses_camera_clock(&self) -> bool {
        self.sr.is_some()
            && self
                .sr_offset_us
                .is_some_and(|o| (0..=MAX_SR_LATENCY_US).contains(&o))
    }

    fn arrival_wall_us(&self, pts_90k: i64) -> i64 {
        self.anchor_us + self.offset_us(pts_90k)
    }

    fn offset_us(&self, pts_90k: i64) -> i64 {
        (pts_90k - self.pts0) * 100 / 9
    }

    /// The timeline time of a picture with presentation time `pts_90k` (no update).
    pub fn wall_us(&self, pts_90k: i64) -> i64 {
        match self.sr {
            Some((rtp, cam_us)) if self.uses_camera_clock() => cam_us + (pts_90k - rtp) * 100 / 9,
            _ => self.arrival_wall_us(pts_90k),
        }
    }

    /// Starts again from the next picture (after a step of the workstation's clock: the
    /// times before and after it are not on one line).
    pub fn restart(&mut self) {
        self.started = false;
        self.prev = None;
    }

    /// Takes one received picture (`arrival_us`: Unix µs when its last packet arrived).
    pub fn observe(&mut self, pts_90k: i64, arrival_us: i64) -> Stamp {
        let mut jumped = false;
        if let Some((ppts, parr)) = self.prev {
            let media = (pts_90k - ppts) * 100 / 9;
            let wall = arrival_us - parr;
            // Pictures arrive in decode order: with B-frames the media step may be negative by
            // a few frame intervals. A jump is a step of the presentation times alone: back by
            // seconds, or forward by seconds more than the time that passed (a network stall
            // delivers late pictures in a burst: the wall step is large, the media step not).
            if media < -JUMP_US / 2 || media - wall.max(0) > JUMP_US {
                jumped = true;
                self.started = false;
            }
        }
        self.prev = Some((pts_90k, arrival_us));
        if !self.started {
            self.started = true;
            self.pts0 = pts_90k;
            self.anchor_us = arrival_us;
            self.window_start_us = arrival_us;
            self.window_min_late_us = i64::MAX;
            self.sr = None;
            self.sr_offset_us = None;
            return Stamp {
                wall_us: arrival_us,
                jumped,
            };
        }
        let predicted = self.arrival_wall_us(pts_90k);
        let late = arrival_us - predicted;
        if late < 0 {
            // Arrived before the time we gave it: the anchor was late by that much.
            self.anchor_us += late;
        } else {
            self.window_min_late_us = self.window_min_late_us.min(late);
        }
        if arrival_us - self.window_start_us >= WINDOW_US {
            if self.window_min_late_us != i64::MAX {
                let span = arrival_us - self.window_start_us;
                let max = span * MAX_SLEW_PPM / 1_000_000;
                self.anchor_us += self.window_min_late_us.min(max);
            }
            self.window_start_us = arrival_us;
            self.window_min_late_us = i64::MAX;
        }
        Stamp {
            wall_us: self.wall_us(pts_90k),
            jumped,
        }
    }
}

/// Unix µs now (the workstation's clock).
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
        + TEST_STEP_US.load(std::sync::atomic::Ordering::Relaxed)
}

/// A wall-clock move between two readings larger than this, beyond what the monotonic clock
/// saw pass, is a step of the workstation's clock (NTP stepping it — ntpd steps corrections
/// above 128 ms, chrony above 1 s by default — or someone setting it), not the slow slewing
/// NTP does (at most 500 ppm: 20 µs between two pictures).
pub const CLOCK_STEP_US: i64 = 100_000;

/// A reading whose two monotonic reads around the wall-clock read are further apart than
/// this (the thread was pre-empted in between) is not used to look for a step.
const READ_SPAN_US: i64 = 5_000;

static TEST_STEP_US: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Moves [`now_us`] by `delta_us`, as a step of the workstation's clock would: the seam the
/// tests use (setting the real clock would disturb the whole machine).
#[doc(hidden)]
pub fn step_clock_for_test(delta_us: i64) {
    TEST_STEP_US.fetch_add(delta_us, std::sync::atomic::Ordering::Relaxed);
}

/// µs on a clock that never steps and goes on while the machine sleeps (CLOCK_BOOTTIME:
/// `Instant` stops during a suspend, and the wake-up would look like a step).
fn boot_us() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec * 1_000_000 + ts.tv_nsec / 1_000
}

/// Watches the workstation's clock against one that never steps, reading by reading.
#[derive(Debug)]
pub struct StepWatch {
    /// (boot µs, wall µs) of the last good reading.
    last: (i64, i64),
}

impl Default for StepWatch {
    fn default() -> Self {
        StepWatch {
            last: (boot_us(), now_us()),
        }
    }
}

impl StepWatch {
    /// Now (Unix µs), and by how much the clock stepped since the last reading, if it did.
    pub fn now(&mut self) -> (i64, Option<i64>) {
        let b0 = boot_us();
        let wall = now_us();
        let b1 = boot_us();
        if b1 - b0 > READ_SPAN_US {
            return (wall, None);
        }
        let expected = self.last.1 + (b0 - self.last.0);
        self.last = (b0, wall);
        let step = wall - expected;
        (wall, (step.abs() > CLOCK_STEP_US).then_some(step))
    }
}

/// Unix µs of an NTP timestamp (32.32 fixed point, seconds since 1900).
pub fn ntp_to_unix_us(ntp: u64) -> i64 {
    const UNIX_FROM_NTP_S: i64 = 2_208_988_800;
    let secs = (ntp >> 32) as i64 - UNIX_FROM_NTP_S;
    let frac_us = ((ntp & 0xffff_ffff) * 1_000_000) >> 32;
    secs * 1_000_000 + frac_us as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_camera_clock_that_agrees_removes_the_encoder_delay_and_one_that_is_off_is_not_used() {
        // Pictures arrive 120 ms after capture (a slow encoder).
        let t0 = 10_000_000_000i64;
        let mut c = SessionClock::new();
        for n in 0..25 {
            c.observe(n * 3600, t0 + n * 40_000 + 120_000);
        }
        assert_eq!(c.wall_us(0), t0 + 120_000, "arrival-based before a report");
        c.sender_report(10 * 3600, t0 + 10 * 40_000);
        assert!(c.uses_camera_clock());
        assert_eq!(c.camera_clock_offset_us(), Some(120_000));
        assert_eq!(c.wall_us(20 * 3600), t0 + 20 * 40_000);
        // A camera whose clock is 3 minutes slow: reported, not used.
        let mut c = SessionClock::new();
        for n in 0..25 {
            c.observe(n * 3600, t0 + n * 40_000 + 20_000);
        }
        c.sender_report(0, t0 - 180_000_000);
        assert!(!c.uses_camera_clock());
        assert_eq!(c.camera_clock_offset_us(), Some(180_020_000));
        assert_eq!(c.wall_us(0), t0 + 20_000);
    }

    /// I0 P3 B1 B2 … at 25 fps: the encoder sends I0 two frames after its capture, each P at
    /// its capture, B-frames right after the P they follow.
    #[test]
    fn b_frames_are_placed_at_their_capture_time_not_the_keyframes_arrival() {
        let mut c = SessionClock::new();
        let t0 = 1_000_000_000_000i64;
        let frame = 40_000i64; // µs
        let order = [0i64, 3, 1, 2, 6, 4, 5, 9, 7, 8];
        let mut last = 0;
        for (k, &n) in order.iter().enumerate() {
            let sent = match k {
                0 => t0 + 2 * frame,
                _ if n % 3 == 0 => t0 + n * frame + 1_000,
                _ => last + 500,
            };
            last = sent;
            c.observe(n * 3600, sent);
        }
        assert!((c.wall_us(0) - t0).abs() <= 1_000, "{}", c.wall_us(0) - t0);
        assert!((c.wall_us(8 * 3600) - (t0 + 8 * frame)).abs() <= 1_000);
    }

    #[test]
    fn a_jump_in_presentation_times_restarts_the_clock() {
        let mut c = SessionClock::new();
        let t0 = 5_000_000i64;
        for n in 0..10 {
            assert!(!c.observe(n * 3600, t0 + n * 40_000).jumped);
        }
        let s = c.observe(90_000 * 3600, t0 + 10 * 40_000);
        assert!(s.jumped);
        assert_eq!(s.wall_us, t0 + 10 * 40_000);
        assert!(!c.observe(90_000 * 3600 + 3600, t0 + 11 * 40_000).jumped);
        // A network stall of 2.4 s delivers the next pictures in a burst: not a jump.
        let base = 90_000 * 3600 + 3600;
        let late = t0 + 11 * 40_000 + 2_400_000;
        for k in 1..5 {
            assert!(
                !c.observe(base + k * 3600, late + k * 1_000).jumped,
                "picture {k}"
            );
        }
    }

    #[test]
    fn the_anchor_follows_a_drifting_camera_clock_at_a_bounded_rate() {
        // The camera's clock runs 200 ppm slow: its second is 1.0002 of ours.
        let mut c = SessionClock::new();
        let t0 = 0i64;
        let mut max_err = 0;
        for n in 0..(25 * 600) {
            let arrival = t0 + n * 40_008;
            let s = c.observe(n * 3600, arrival);
            if n > 25 * 120 {
                max_err = max_err.max((arrival - s.wall_us).abs());
            }
        }
        assert!(max_err < 15_000, "{max_err} µs behind after 10 minutes");
    }
}
