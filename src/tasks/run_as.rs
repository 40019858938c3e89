//! Running a process task as its tenant's OS user.
//!
//! The master puts the workflow's tenant into the payload (`tenant: {name, os_user}`). The
//! worker looks the user up on its own host (uid, primary gid, supplementary groups, home,
//! shell) before it forks, and the child switches to it between fork and exec: supplementary
//! groups first, then the gid, then the uid (in that order: after `setuid` the others are no
//! longer allowed). Only a worker running as root can switch; any other worker runs tasks
//! only as its own user, and a task for another user fails there without a retry (a
//! retry on the same kind of worker would fail the same way).
//!
//! The task keeps its own process group, so the worker (root) still kills the whole group
//! and a restarted worker still reaps what a crashed one left, whoever the group's user is.

use std::ffi::CString;
use std::path::PathBuf;

/// The OS user a task runs as, as resolved on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Every group of the user (its primary group included).
    pub groups: Vec<u32>,
    pub home: PathBuf,
    pub shell: PathBuf,
}

/// The tenant named by a task's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRef {
    pub name: String,
    pub os_user: String,
}

impl TenantRef {
    pub fn from_payload(payload: &serde_json::Value) -> Option<TenantRef> {
        let t = payload.get("tenant")?;
        Some(TenantRef {
            name: t.get("name")?.as_str()?.to_string(),
            os_user: t.get("os_user")?.as_str()?.to_string(),
        })
    }
}

/// How a task's process is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub user: OsUser,
    /// Change user between fork and exec (the worker is root and the user is another).
    pub switch: bool,
}

/// The decision, without I/O: `found` is the tenant's user as looked up on this host (None:
/// no such user), `euid` the worker's effective uid, `worker` its server name. An `Err` is
/// the task's failure, final (not retried).
pub fn decide(
    tenant: &TenantRef,
    found: Option<OsUser>,
    euid: u32,
    worker: &str,
) -> Result<Plan, String> {
    let Some(user) = found else {
        return Err(format!(
            "tenant {}: OS user {} does not exist on the host of worker {worker}",
            tenant.name, tenant.os_user
        ));
    };
    if user.uid == euid {
        return Ok(Plan {
            user,
            switch: false,
        });
    }
    if euid != 0 {
        return Err(format!(
            "tenant {} runs as OS user {} (uid {}), but worker {worker} runs as uid {euid}, not root: it can run tasks only as its own user (not retried)",
            tenant.name, tenant.os_user, user.uid
        ));
    }
    Ok(Plan { user, switch: true })
}

/// Looks `name` up in the host's user database (blocking: NSS may ask a directory server).
pub fn lookup(name: &str) -> Result<Option<OsUser>, String> {
    use nix::unistd::{User, getgrouplist};
    let Some(user) =
        User::from_name(name).map_err(|e| format!("looking up OS user {name}: {e}"))?
    else {
        return Ok(None);
    };
    let cname = CString::new(name).map_err(|_| format!("OS user name {name:?} holds a NUL"))?;
    let groups = getgrouplist(&cname, user.gid)
        .map_err(|e| format!("groups of OS user {name}: {e}"))?
        .into_iter()
        .map(|g| g.as_raw())
        .collect();
    Ok(Some(OsUser {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups,
        home: user.dir,
        shell: user.shell,
    }))
}

/// The tenant's plan on this worker: looked up off the async threads, then [`decide`]d.
pub async fn plan(tenant: &TenantRef, worker: &str) -> Result<Plan, String> {
    let name = tenant.os_user.clone();
    let found = tokio::task::spawn_blocking(move || lookup(&name))
        .await
        .map_err(|e| e.to_string())??;
    decide(tenant, found, nix::unistd::geteuid().as_raw(), worker)
}

/// What the child runs between fork and exec to become `user`: only async-signal-safe
/// system calls on data prepared before the fork.
pub fn switch_user(user: &OsUser) -> impl FnMut() -> std::io::Result<()> + Send + Sync + 'static {
    let (uid, gid) = (user.uid, user.gid);
    let groups: Vec<libc::gid_t> = user.groups.clone();
    move || {
        // SAFETY: plain system calls on memory owned by the closure.
        unsafe {
            if libc::setgroups(groups.len() as _, groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// The variables that say who the process is: the user's, not the worker's.
pub fn identity_env(user: &OsUser) -> [(&'static str, std::ffi::OsString); 4] {
    [
        ("HOME", user.home.clone().into_os_string()),
        ("USER", user.name.clone().into()),
        ("LOGNAME", user.name.clone().into()),
        ("SHELL", user.shell.clone().into_os_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantRef {
        TenantRef {
            name: "analysts".into(),
            os_user: "ana".into(),
        }
    }

    fn user(uid: u32) -> OsUser {
        OsUser {
            name: "ana".into(),
            uid,
            gid: uid,
            groups: vec![uid, 100],
            home: "/home/ana".into(),
            shell: "/bin/bash".into(),
        }
    }

    #[test]
    fn root_switches_to_another_user_and_nobody_switches_to_itself() {
        assert!(
            decide(&tenant(), Some(user(1500)), 0, "w:1")
                .unwrap()
                .switch
        );
        assert!(
            !decide(&tenant(), Some(user(1500)), 1500, "w:1")
                .unwrap()
                .switch
        );
        assert!(!decide(&tenant(), Some(user(0)), 0, "w:1").unwrap().switch);
    }

    #[test]
    fn a_worker_that_is_not_root_refuses_another_users_task_naming_tenant_and_worker() {
        let err = decide(&tenant(), Some(user(1500)), 1000, "host-a:42").unwrap_err();
        for part in [
            "tenant analysts",
            "OS user ana",
            "worker host-a:42",
            "not root",
            "not retried",
        ] {
            assert!(err.contains(part), "{part} not in {err}");
        }
    }

    #[test]
    fn a_user_missing_on_the_host_is_the_reason() {
        let err = decide(&tenant(), None, 0, "host-a:42").unwrap_err();
        assert_eq!(
            err,
            "tenant analysts: OS user ana does not exist on the host of worker host-a:42"
        );
    }

    #[test]
    fn the_payload_names_the_tenant() {
        let payload = serde_json::json!({"tenant": {"name": "analysts", "os_user": "ana"}});
        assert_eq!(TenantRef::from_payload(&payload), Some(tenant()));
        assert_eq!(TenantRef::from_payload(&serde_json::json!({})), None);
    }

    #[test]
    fn root_is_found_with_its_home() {
        let root = lookup("root").unwrap().unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        assert_eq!(lookup("no-such-user-pgdag").unwrap(), None);
    }
}
