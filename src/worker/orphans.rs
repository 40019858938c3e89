//! The local record of running process groups, so that a worker restarted on the same host
//! can kill what a crashed incarnation left running.
//!
//! Each worker process keeps a file `worker-<pid>-<start time>.pgids` in the state
//! directory with one line per running process group: `<pgid> <start time>` (start times
//! in clock ticks since boot, from /proc, so that a reused pid is never mistaken for ours).
//! The file is rewritten by a background thread shortly after each change, off the task
//! path; that thread also reads each new group's start time (a read of /proc per spawn on
//! the task path was 8 % of a worker's CPU in a fan-out of shell tasks). A group that ends
//! before it is read is never written; one whose leader is gone by then is written with
//! start time 0, which `reap` never mistakes for a live process of ours. At start, files
//! of worker processes that are no longer alive are read, their process groups killed,
//! and the files deleted. Failures to write are logged and never stop a task.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

#[derive(Clone)]
pub struct Registry {
    shared: Arc<(Mutex<State>, Condvar)>,
}

struct State {
    /// Process group -> its leader's start time (`None`: not read yet).
    groups: HashMap<i32, Option<u64>>,
    dirty: bool,
}

impl Registry {
    /// Reap what dead incarnations left in `dir`, then start recording this process.
    pub fn start(dir: &Path) -> Registry {
        if let Err(e) = std::fs::create_dir_all(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot create the state directory");
        }
        let killed = reap(dir);
        if killed > 0 {
            tracing::warn!(
                groups = killed,
                "killed process groups left by a previous worker"
            );
        }
        let file = record_of(dir, std::process::id() as i32);
        let registry = Registry {
            shared: Arc::new((
                Mutex::new(State {
                    groups: HashMap::new(),
                    dirty: false,
                }),
                Condvar::new(),
            )),
        };
        let shared = registry.shared.clone();
        std::thread::Builder::new()
            .name("pgdag-orphans".into())
            .spawn(move || writer(shared, file))
            .map_err(|e| tracing::warn!(error = %e, "cannot start the process-group recorder"))
            .ok();
        registry
    }

    pub fn add(&self, pgid: i32) {
        let (lock, wake) = &*self.shared;
        let mut state = lock.lock().expect("registry lock");
        state.groups.insert(pgid, None);
        state.dirty = true;
        wake.notify_one();
    }

    pub fn remove(&self, pgid: i32) {
        let (lock, wake) = &*self.shared;
        let mut state = lock.lock().expect("registry lock");
        state.groups.remove(&pgid);
        state.dirty = true;
        wake.notify_one();
    }
}

impl crate::tasks::ProcessRegistry for Registry {
    fn add(&self, pgid: i32) {
        Registry::add(self, pgid)
    }
    fn remove(&self, pgid: i32) {
        Registry::remove(self, pgid)
    }
}

fn writer(shared: Arc<(Mutex<State>, Condvar)>, file: PathBuf) {
    let (lock, wake) = &*shared;
    loop {
        let unread: Vec<i32> = {
            let mut state = lock.lock().expect("registry lock");
            while !state.dirty {
                state = wake.wait(state).expect("registry lock");
            }
            state.dirty = false;
            state
                .groups
                .iter()
                .filter(|(_, started)| started.is_none())
                .map(|(pgid, _)| *pgid)
                .collect()
        };
        // Read without the lock: spawns go on meanwhile.
        let read: Vec<(i32, u64)> = unread
            .into_iter()
            .map(|pgid| (pgid, start_time(pgid).unwrap_or(0)))
            .collect();
        let text = {
            let mut state = lock.lock().expect("registry lock");
            for (pgid, started) in read {
                if let Some(entry @ None) = state.groups.get_mut(&pgid) {
                    *entry = Some(started);
                }
            }
            // A group added since is written by the next turn (it set `dirty`).
            state
                .groups
                .iter()
                .filter_map(|(pgid, started)| started.map(|s| format!("{pgid} {s}\n")))
                .collect::<String>()
        };
        let tmp = file.with_extension("tmp");
        let result = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &file));
        if let Err(e) = result {
            tracing::warn!(file = %file.display(), error = %e, "cannot record running process groups");
        }
        // Coalesce bursts of changes into one write.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The file in `dir` where worker process `pid` records its groups (named with its start
/// time, so that a reused pid is not taken for it).
fn record_of(dir: &Path, pid: i32) -> PathBuf {
    dir.join(format!(
        "worker-{pid}-{}.pgids",
        start_time(pid).unwrap_or(0)
    ))
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat).
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Kill the process groups recorded by worker processes that are gone; returns how many.
fn reap(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(parts) = name
            .strip_prefix("worker-")
            .and_then(|n| n.strip_suffix(".pgids"))
        else {
            continue;
        };
        let mut fields = parts.split('-');
        let (Some(Ok(pid)), Some(Ok(started))) = (
            fields.next().map(str::parse::<i32>),
            fields.next().map(str::parse::<u64>),
        ) else {
            continue;
        };
        if start_time(pid) == Some(started) {
            continue; // that worker still runs
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (Some(Ok(pgid)), Some(Ok(group_started))) = (
                it.next().map(str::parse::<i32>),
                it.next().map(str::parse::<u64>),
            ) else {
                continue;
            };
            match start_time(pgid) {
                // The group's leader is still the process we started: kill its group.
                Some(now) if now == group_started => {}
                // A different process now has that pid: not ours.
                Some(_) => continue,
                // The leader is gone; a group with that id can only be ours (a pid is not
                // reused while a process group of that id exists).
                None => {}
            }
            if killpg(Pid::from_raw(pgid), Signal::SIGKILL).is_ok() {
                killed += 1;
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_this_process_is_known_and_stable() {
        let me = std::process::id() as i32;
        let a = start_time(me).unwrap();
        assert_eq!(start_time(me), Some(a));
        assert_eq!(start_time(i32::MAX), None);
    }

    /// A `sleep 30` leading a process group of its own, and the group's id.
    fn sleeping_group() -> (std::process::Child, i32) {
        use std::os::unix::process::CommandExt;
        let child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        (child, pgid)
    }

    /// The recorder writes a running group with its leader's start time (read off the
    /// task path), and drops it once removed.
    #[test]
    fn a_running_group_is_recorded_with_its_start_time_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::start(dir.path());
        let (mut child, pgid) = sleeping_group();
        let line = format!("{pgid} {}\n", start_time(pgid).unwrap());
        let file = record_of(dir.path(), std::process::id() as i32);
        let recorded = |want: bool| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                if text.contains(&line) == want {
                    return;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{text:?}, want {line:?}: {want}"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        };
        registry.add(pgid);
        recorded(true);
        registry.remove(pgid);
        recorded(false);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn reaping_kills_groups_of_a_dead_worker_and_spares_live_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, pgid) = sleeping_group();
        let started = start_time(pgid).unwrap();
        // A live worker (this process): its file must be left alone.
        let live = record_of(dir.path(), std::process::id() as i32);
        std::fs::write(&live, format!("{pgid} {started}\n")).unwrap();
        assert_eq!(reap(dir.path()), 0);
        assert!(live.exists());
        // A dead worker (a pid with a wrong start time): its group is killed.
        std::fs::remove_file(&live).unwrap();
        let dead = dir.path().join("worker-999999-1.pgids");
        std::fs::write(&dead, format!("{pgid} {started}\n")).unwrap();
        assert_eq!(reap(dir.path()), 1);
        assert!(!dead.exists());
        let status = child.wait().unwrap();
        assert!(!status.success(), "the sleep was killed");
    }
}
