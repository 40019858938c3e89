//! What a task's process cost: CPU time (user, system) and peak resident set size, read
//! from the kernel when the child has exited.
//!
//! The child is waited for with `waitid(WEXITED | WNOWAIT)` and a `rusage` (the Linux
//! system call takes one, as `wait4` does): the kernel fills in the same figures `wait4`
//! would — the child's own and those of the descendants it reaped — but leaves the child a
//! zombie, so that tokio's `Child` still reaps it. Nothing else changes hands: `kill_on_drop`,
//! the process group, the user switch and the exit status work as before. The wait is
//! driven by a pidfd in the runtime (no thread per running task); where the kernel has no
//! pidfd (before 5.3) a blocking task waits instead.

use std::os::fd::{FromRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;

/// CPU time and peak RSS of one attempt's process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu_user_ms: i64,
    pub cpu_system_ms: i64,
    /// Largest resident set of the process or of any descendant it waited for.
    pub max_rss_kib: i64,
}

impl Usage {
    fn from_rusage(ru: &libc::rusage) -> Usage {
        // 64-bit Linux: time_t, suseconds_t and long are all i64.
        let ms = |tv: libc::timeval| tv.tv_sec * 1000 + tv.tv_usec / 1000;
        Usage {
            cpu_user_ms: ms(ru.ru_utime),
            cpu_system_ms: ms(ru.ru_stime),
            // Linux reports ru_maxrss in KiB.
            max_rss_kib: ru.ru_maxrss,
        }
    }
}

/// CPU milliseconds for people: `0.042s`, `12.5s`, `3m 20s`; `-` when unknown.
pub fn show_cpu(ms: Option<i64>) -> String {
    match ms {
        None => "-".into(),
        Some(ms) if ms < 10_000 => format!("{:.3}s", ms as f64 / 1000.0),
        Some(ms) if ms < 60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        Some(ms) => format!("{}m {}s", ms / 60_000, ms % 60_000 / 1000),
    }
}

/// KiB for people: `812 KiB`, `64.0 MiB`, `2.50 GiB`; `-` when unknown.
pub fn show_memory(kib: Option<i64>) -> String {
    match kib {
        None => "-".into(),
        Some(k) if k < 1024 => format!("{k} KiB"),
        Some(k) if k < 1024 * 1024 => format!("{:.1} MiB", k as f64 / 1024.0),
        Some(k) => format!("{:.2} GiB", k as f64 / (1024.0 * 1024.0)),
    }
}

/// What `waitid` said about `pid`.
enum Probe {
    Exited(Usage),
    Running,
    /// Not our child any more, or the call is refused: no figures.
    Gone,
}

/// Waits until child `pid` has exited, without reaping it; its usage, or `None` when the
/// kernel gives none. Cancel-safe: dropping the future leaves the child untouched.
pub async fn wait_exited(pid: u32) -> Option<Usage> {
    let pid = pid as libc::pid_t;
    match pidfd(pid) {
        Some(fd) => {
            // SAFETY: the OwnedFd is a valid open descriptor that the AsyncFd owns until it
            // is dropped; nothing else closes or replaces it.
            let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
                .ok()?;
            loop {
                match probe(pid, false) {
                    Probe::Exited(usage) => return Some(usage),
                    Probe::Gone => return None,
                    Probe::Running => {}
                }
                // A pidfd turns readable when its process exits.
                let mut ready = fd.readable().await.ok()?;
                ready.clear_ready();
            }
        }
        None => tokio::task::spawn_blocking(move || match probe(pid, true) {
            Probe::Exited(usage) => Some(usage),
            _ => None,
        })
        .await
        .ok()
        .flatten(),
    }
}

fn pidfd(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the descriptor was just opened and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `waitid(P_PID, pid, WEXITED | WNOWAIT [| WNOHANG])` with a `rusage`.
fn probe(pid: libc::pid_t, block: bool) -> Probe {
    loop {
        // SAFETY: plain C structs for the kernel to fill; zero is a valid bit pattern.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOWAIT | if block { 0 } else { libc::WNOHANG };
        // SAFETY: the raw system call (glibc's waitid has no rusage argument) with pointers
        // to the two structs above, alive for the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_waitid,
                libc::P_PID,
                pid,
                &mut info as *mut libc::siginfo_t,
                flags,
                &mut ru as *mut libc::rusage,
            )
        };
        if r == 0 {
            // SAFETY: filled by the kernel for a waitid that succeeded.
            let exited = unsafe { info.si_pid() } != 0;
            return if exited {
                Probe::Exited(Usage::from_rusage(&ru))
            } else {
                Probe::Running
            };
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return Probe::Gone;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_like_figures() {
        assert_eq!(show_cpu(None), "-");
        assert_eq!(show_cpu(Some(42)), "0.042s");
        assert_eq!(show_cpu(Some(12_500)), "12.5s");
        assert_eq!(show_cpu(Some(200_000)), "3m 20s");
        assert_eq!(show_memory(Some(812)), "812 KiB");
        assert_eq!(show_memory(Some(65_536)), "64.0 MiB");
        assert_eq!(show_memory(Some(2_621_440)), "2.50 GiB");
    }

    #[tokio::test]
    async fn a_busy_child_reports_cpu_and_memory_and_is_still_reaped_by_tokio() {
        // Touches 64 MiB and spins for a while.
        let mut child = tokio::process::Command::new("python3")
            .args([
                "-c",
                "b = bytearray(64 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1\nn = 0\nfor i in range(3_000_000): n += i\n",
            ])
            .spawn()
            .unwrap();
        let usage = wait_exited(child.id().unwrap()).await.unwrap();
        assert!(usage.cpu_user_ms > 0, "{usage:?}");
        assert!(usage.max_rss_kib > 60 * 1024, "{usage:?}");
        // Still a zombie for tokio to reap, with its real exit status.
        assert!(child.wait().await.unwrap().success());
    }
}
