//! Gives back the pages of pgdag's own executable that only start-up needed.
//!
//! An idle server's resident memory is mostly code: start-up (migrations, the example
//! workflows, the first round of every service, TLS set-up) touches megabytes of the
//! executable that the idle loops never run again, and those pages stay counted in the
//! process's RSS (about 20 of an idle standalone's 24 MiB, against 4 MiB of heap). Once
//! the services run, [`release_startup_pages`] drops this process's mappings of the
//! executable's unmodified pages (`MADV_DONTNEED`): they stay in the page cache, and a
//! page used again is mapped back by a minor fault. Only mappings of the executable with
//! no private (relocated or written) page are touched, so nothing but clean file pages is
//! ever dropped.

use std::time::Duration;

/// How long after start the pages are released: start-up work is over by then.
pub const STARTUP_SETTLE: Duration = Duration::from_secs(10);

/// One mapping of /proc/self/smaps.
#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    writable: bool,
    path: String,
    /// Pages of the mapping that are no longer the file's (written or relocated), in kB.
    private_kb: u64,
}

/// The mappings listed in an smaps text.
fn mappings(smaps: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            let perms = fields.next().unwrap_or_default();
            let path = fields.nth(3).unwrap_or_default().to_string();
            out.push(Mapping {
                start,
                end,
                writable: perms.contains('w'),
                path,
                private_kb: 0,
            });
            continue;
        }
        if matches!(first, "Anonymous:" | "Private_Dirty:")
            && let Some(last) = out.last_mut()
        {
            last.private_kb += fields
                .next()
                .and_then(|kb| kb.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    out
}

/// The read-only mappings of `exe` whose pages are all the file's own.
fn clean_mappings_of<'a>(all: &'a [Mapping], exe: &str) -> Vec<&'a Mapping> {
    all.iter()
        .filter(|m| m.path == exe && !m.writable && m.private_kb == 0)
        .collect()
}

/// Drop this process's clean mappings of its executable's pages; the bytes released from
/// the mappings (what was resident is less). Errors (no /proc) release nothing.
pub fn release_startup_pages() -> usize {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return 0;
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let all = mappings(&smaps);
    let mut released = 0;
    for m in clean_mappings_of(&all, &exe.to_string_lossy()) {
        let len = m.end - m.start;
        // SAFETY: the range is a whole private, read-only mapping of the executable file
        // with no page of its own (no relocation, no write): MADV_DONTNEED only unmaps
        // pages that the next access maps again, unchanged, from the file.
        let result =
            unsafe { libc::madvise(m.start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        if result == 0 {
            released += len;
        }
    }
    released
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55ee2c4d0000-55ee2cc4f000 r--p 00000000 fe:00 10027405                   /opt/pgdag
Rss:                3584 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
55ee2cc4f000-55ee2de21000 r-xp 0077e000 fe:00 10027405                   /opt/pgdag
Rss:               14360 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
55ee2de21000-55ee2dfd5000 r--p 0194f000 fe:00 10027405                   /opt/pgdag
Rss:                1728 kB
Private_Dirty:      1700 kB
Anonymous:          1700 kB
55ee2dfd5000-55ee2dfda000 rw-p 01b02000 fe:00 10027405                   /opt/pgdag
Anonymous:            20 kB
7f43c123e000-7f43c1394000 r-xp 00026000 fe:00 11                         /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f43c0d93000-7f43c0df1000 rw-p 00000000 00:00 0
Anonymous:           376 kB
";

    #[test]
    fn only_clean_read_only_mappings_of_the_executable_are_released() {
        let all = mappings(SMAPS);
        assert_eq!(all.len(), 6);
        assert_eq!(all[5].path, "");
        let clean = clean_mappings_of(&all, "/opt/pgdag");
        let starts: Vec<usize> = clean.iter().map(|m| m.start).collect();
        // Not the relocated (RELRO) mapping, not the writable data, not libc.
        assert_eq!(starts, vec![0x55ee2c4d0000, 0x55ee2cc4f000]);
    }

    #[test]
    fn releasing_keeps_the_process_running() {
        release_startup_pages();
        // Code and constants of this process are mapped back on use.
        let all = mappings(SMAPS);
        assert!(clean_mappings_of(&all, "/nowhere").is_empty());
    }
}
