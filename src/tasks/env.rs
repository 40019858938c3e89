//! The environment a task's process starts with: empty, plus an allow-list.
//!
//! A worker's own environment holds what makes it the scheduler (`PGDAG_DATABASE_URL`,
//! `PGDAG_SECRET_KEY`, `PGDAG_ADMIN_PASSWORD`...). A task gets none of it: its process
//! starts from an empty environment and receives only
//! - the [`BASE`] variables (`PATH`, `HOME`, `LANG`, `LC_*`, `TZ`, `USER`, `LOGNAME`, `SHELL`,
//!   `TMPDIR`) and, for `spark` and `mr` tasks, the [`JOB_TOOLS`] homes their launchers need;
//! - what the operator lists in `PGDAG_TASK_ENV_PASSTHROUGH` (names, or prefixes ending in
//!   `*`), which may never name a `PGDAG_` variable;
//! - the task's own variables, set by the runner: `PGDAG_TASK_INSTANCE_ID`,
//!   `PGDAG_WORKFLOW_INSTANCE_ID`, `PGDAG_ATTEMPT`, `PGDAG_PARAM_*` and declared `env:`
//!   entries.
//!
//! Whatever the list says, no variable of the worker whose name starts with `PGDAG_` is
//! passed on. A datasource's `password_env` may name only a variable that
//! [`Passthrough::allows`] (so a writer cannot ship any worker variable to a host of theirs).

use std::ffi::OsString;

/// Variables every task gets from the worker's environment, when set.
pub const BASE: &[&str] = &[
    "PATH", "HOME", "LANG", "TZ", "USER", "LOGNAME", "SHELL", "TMPDIR",
];
/// Prefixes every task gets (`LC_ALL`, `LC_CTYPE`...).
pub const BASE_PREFIXES: &[&str] = &["LC_"];
/// Homes that `spark-submit` and `hadoop` need, passed to `spark` and `mr` tasks only.
pub const JOB_TOOLS: &[&str] = &[
    "JAVA_HOME",
    "SPARK_HOME",
    "SPARK_CONF_DIR",
    "HADOOP_HOME",
    "HADOOP_CONF_DIR",
    "YARN_CONF_DIR",
];
/// No worker variable with this prefix ever reaches a task.
pub const RESERVED_PREFIX: &str = "PGDAG_";
/// The setting that lists what else the operator lets through.
pub const PASSTHROUGH_VAR: &str = "PGDAG_TASK_ENV_PASSTHROUGH";

/// Whether `name` can be an environment variable's name: letters, digits and `_` (a param
/// `trigger.rows` or `system.biz.date` is not exported as `PGDAG_PARAM_*`).
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One entry of `PGDAG_TASK_ENV_PASSTHROUGH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Name(String),
    Prefix(String),
}

/// The operator's passthrough list, checked once at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Passthrough(pub Vec<Pattern>);

impl Passthrough {
    /// `NAME,OTHER,PREFIX_*`: names or prefixes (a trailing `*`), comma or space separated.
    pub fn parse(text: &str) -> Result<Passthrough, String> {
        let mut out = Vec::new();
        for item in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            let (name, prefix) = match item.strip_suffix('*') {
                Some(p) => (p, true),
                None => (item, false),
            };
            if name.is_empty() {
                return Err("`*` alone would pass the whole environment: name a prefix".into());
            }
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("{item:?} is not a variable name or prefix"));
            }
            if name.to_ascii_uppercase().starts_with(RESERVED_PREFIX)
                || RESERVED_PREFIX.starts_with(&name.to_ascii_uppercase())
            {
                return Err(format!(
                    "{item:?}: no {RESERVED_PREFIX} variable of the process may reach a task"
                ));
            }
            out.push(if prefix {
                Pattern::Prefix(name.to_string())
            } else {
                Pattern::Name(name.to_string())
            });
        }
        Ok(Passthrough(out))
    }

    /// Whether the operator lets the worker's variable `name` through.
    pub fn allows(&self, name: &str) -> bool {
        !name.starts_with(RESERVED_PREFIX)
            && self.0.iter().any(|p| match p {
                Pattern::Name(n) => n == name,
                Pattern::Prefix(p) => name.starts_with(p.as_str()),
            })
    }
}

/// Whether a task of this kind gets the worker's variable `name`.
pub fn passes(name: &str, passthrough: &Passthrough, job_tools: bool) -> bool {
    if name.starts_with(RESERVED_PREFIX) {
        return false;
    }
    BASE.contains(&name)
        || BASE_PREFIXES.iter().any(|p| name.starts_with(p))
        || (job_tools && JOB_TOOLS.contains(&name))
        || passthrough.allows(name)
}

/// The part of the worker's environment `worker` that a task gets.
pub fn inherited(
    worker: impl IntoIterator<Item = (OsString, OsString)>,
    passthrough: &Passthrough,
    job_tools: bool,
) -> Vec<(OsString, OsString)> {
    worker
        .into_iter()
        .filter(|(name, _)| {
            name.to_str()
                .is_some_and(|n| passes(n, passthrough, job_tools))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn names(v: &[(OsString, OsString)]) -> Vec<String> {
        v.iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn only_the_allow_list_passes_and_never_a_pgdag_setting() {
        let worker = env(&[
            ("PATH", "/bin"),
            ("HOME", "/root"),
            ("LC_ALL", "C"),
            ("PGDAG_DATABASE_URL", "postgres://x"),
            ("PGDAG_SECRET_KEY", "k"),
            ("PGDAG_ADMIN_PASSWORD", "pw"),
            ("PGDAG_SESSION_DATABASE_URL", "postgres://y"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("COMPANY_PROXY", "p"),
            ("TEAM_A", "a"),
            ("JAVA_HOME", "/jdk"),
        ]);
        let pass = Passthrough::parse("COMPANY_PROXY, TEAM_*").unwrap();
        assert_eq!(
            names(&inherited(worker.clone(), &pass, false)),
            ["PATH", "HOME", "LC_ALL", "COMPANY_PROXY", "TEAM_A"]
        );
        assert!(names(&inherited(worker, &pass, true)).contains(&"JAVA_HOME".to_string()));
    }

    #[test]
    fn passthrough_refuses_pgdag_names_and_bare_stars() {
        for bad in ["PGDAG_SECRET_KEY", "PGDAG_*", "PG*", "*", "A-B", "pgdag_x"] {
            assert!(Passthrough::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Passthrough::parse("").unwrap(), Passthrough::default());
        let p = Passthrough::parse("SMTP_PASSWORD WH_*").unwrap();
        assert!(p.allows("SMTP_PASSWORD") && p.allows("WH_PW") && !p.allows("HOME"));
    }
}
