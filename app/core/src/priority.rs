//! CPU priority of the threads that are not the UI. On a control-room machine with few
//! cores, dozens of decoder and player threads compete with the UI thread for the CPU: with
//! every thread at the same priority, a UI frame that needs 2 ms of CPU waited 100–300 ms
//! for its turn behind 16 players decoding a seek storm (`matthan-bench stress`). So the UI
//! thread keeps the normal priority (with the threads whose work is short and waited for:
//! upload, the receive tasks, the store, and the live decoders, whose pictures the wall is
//! for: at nice 2 they fell behind at 64 tiles); players and recorders run one step below
//! it, and work that can wait (opening an archive, an export, basemap tiles, a search)
//! further below. An unprivileged process may only lower a
//! thread's priority, never raise it, so this is the way that works for an officer's account.

/// Nice value of the players (playback, replay) and recorders.
pub const VIDEO: i32 = 2;
/// Nice value of service threads (archive open, export, tiles, coverage, stills, timeline
/// reads): a third of a normal thread's share when the CPU is full, all of it when not.
pub const SERVICE: i32 = 5;
/// Nice value of searches (deep scans decode hours of footage).
pub const SEARCH: i32 = 10;

/// Lowers the calling thread's CPU priority to `nice`. Never raises it: a thread already
/// lower (it inherits its starter's) stays so, even where the process could raise it. A
/// failure leaves the priority as it was.
pub fn lower_this_thread(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        // getpriority may return -1 as a value: errno tells an error apart.
        *libc::__errno_location() = 0;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        if *libc::__errno_location() == 0 && now >= nice {
            return;
        }
        libc::setpriority(libc::PRIO_PROCESS, tid, nice);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}
