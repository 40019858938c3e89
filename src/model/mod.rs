//! Domain types shared by every layer: states, priorities, durations, relation conditions.
//!
//! No I/O here. Every enum is parsed once at the boundary (YAML, JSON, SQL text) and its
//! `as_str` is the one spelling used in SQL CHECK constraints, JSON, the CLI and the UI.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A value that is not one of an enum's spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {what} (expected one of: {expected})")]
pub struct ParseEnumError {
    pub what: &'static str,
    pub value: String,
    pub expected: String,
}

/// An enum of fixed spellings: `as_str`, `Display`, `FromStr` (with a `ParseEnumError`
/// naming what was expected), serde through the spelling, and — with `default X` — the
/// variant an omitted value means. Used by `model` and by the workflow format in `spec`.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, default $default:ident, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $crate::model::string_enum!($(#[$meta])* $name, $what, { $($variant => $text),+ });
        impl ::std::default::Default for $name {
            fn default() -> Self { $name::$default }
        }
    };
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl ::std::str::FromStr for $name {
            type Err = $crate::model::ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::model::ParseEnumError {
                        what: $what,
                        value: s.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
        impl TryFrom<String> for $name {
            type Error = $crate::model::ParseEnumError;
            fn try_from(s: String) -> Result<Self, Self::Error> { s.parse() }
        }
        impl From<$name> for &'static str {
            fn from(v: $name) -> &'static str { v.as_str() }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// State of a workflow instance. Mirrored by the CHECK constraint on
    /// `pgdag.workflow_instance.state`; transitions are listed in `docs/lifecycle.md`.
    WorkflowState, "workflow instance state", {
    Submitted => "submitted",
    Waiting => "waiting",
    Running => "running",
    Pausing => "pausing",
    Paused => "paused",
    Stopping => "stopping",
    Stopped => "stopped",
    Failed => "failed",
    Succeeded => "succeeded",
});

impl WorkflowState {
    /// An instance in a final state is never evaluated again (until a rerun command).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Paused | Self::Stopped | Self::Failed | Self::Succeeded
        )
    }
}

string_enum!(
    /// State of a task instance. Mirrored by the CHECK constraint on
    /// `pgdag.task_instance.state`; transitions are listed in `docs/lifecycle.md`.
    TaskState, "task instance state", {
    Pending => "pending",
    Queued => "queued",
    Dispatched => "dispatched",
    Running => "running",
    Retrying => "retrying",
    Waiting => "waiting",
    Succeeded => "succeeded",
    Failed => "failed",
    Skipped => "skipped",
    Killed => "killed",
    Paused => "paused",
    ForcedSuccess => "forced_success",
    NeedFailover => "need_failover",
});

impl TaskState {
    /// The task will not change again without a control command.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded
                | Self::Failed
                | Self::Skipped
                | Self::Killed
                | Self::Paused
                | Self::ForcedSuccess
        )
    }
    /// The attempt is in the hands of a worker (or in the queue for one).
    pub fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Dispatched | Self::Running)
    }
    /// Counts as success for `on: success` edges and the instance result.
    pub fn is_success(self) -> bool {
        matches!(self, Self::Succeeded | Self::ForcedSuccess)
    }
}

string_enum!(
    /// Five priority levels; `highest` sorts first. Stored as a smallint (its rank).
    Priority, "priority", default Medium, {
    Highest => "highest",
    High => "high",
    Medium => "medium",
    Low => "low",
    Lowest => "lowest",
});

impl Priority {
    /// Sort key used by the queues: 0 = highest.
    pub fn rank(self) -> i16 {
        self as i16
    }
    pub fn from_rank(rank: i16) -> Priority {
        match rank {
            i16::MIN..=0 => Priority::Highest,
            1 => Priority::High,
            2 => Priority::Medium,
            3 => Priority::Low,
            _ => Priority::Lowest,
        }
    }
}

string_enum!(
    /// What to do when a task fails for good.
    FailureStrategy, "failure strategy", default Continue, {
    Continue => "continue",
    End => "end",
});

string_enum!(
    /// The condition on a relation `pre -> post`.
    Condition, "relation condition", default Success, {
    Success => "success",
    Failure => "failure",
    Always => "always",
});

string_enum!(
    /// How instances of one workflow run side by side.
    ExecutionType, "execution type", default Parallel, {
    Parallel => "parallel",
    SerialWait => "serial_wait",
    SerialDiscard => "serial_discard",
    SerialPriority => "serial_priority",
});

string_enum!(
    /// Whether a workflow may be started and scheduled.
    Release, "release state", default Online, {
    Online => "online",
    Offline => "offline",
});

string_enum!(
    /// What happens to an attempt whose worker died.
    OnWorkerLoss, "on_worker_loss", default Retry, {
    Retry => "retry",
    Fail => "fail",
});

string_enum!(
    /// Kinds of rows in `pgdag.command`.
    CommandType, "command type", {
    Start => "start",
    Pause => "pause",
    Resume => "resume",
    Stop => "stop",
    Rerun => "rerun",
    StartFailed => "start_failed",
    Backfill => "backfill",
    Schedule => "schedule",
    ForceSuccess => "force_success",
    RetryTask => "retry_task",
    Hold => "hold",
    Release => "release",
});

impl CommandType {
    /// A control action as written in `pgdag ctl ACTION` and `POST /instances/{id}/ACTION`.
    pub fn from_action(action: &str) -> Option<CommandType> {
        Some(match action {
            "pause" => CommandType::Pause,
            "resume" => CommandType::Resume,
            "stop" => CommandType::Stop,
            "rerun" => CommandType::Rerun,
            "start-failed" => CommandType::StartFailed,
            _ => return None,
        })
    }

    /// A task action as written in `pgdag ctl ACTION TASK_INSTANCE_ID`; its command names
    /// the task in `options.task_instance_id`.
    pub fn from_task_action(action: &str) -> Option<CommandType> {
        Some(match action {
            "retry-task" => CommandType::RetryTask,
            "force-success" => CommandType::ForceSuccess,
            "hold" => CommandType::Hold,
            "release" => CommandType::Release,
            _ => return None,
        })
    }
}

/// Why a task instance cannot be retried in place now, or None when it can: the task must
/// be final (`succeeded`, `failed`, `skipped`, `killed` or `forced_success`) and its
/// instance neither being paused or stopped nor not started yet. The master decides; the
/// CLI, REST and UI ask first so that people get the reason at once.
pub fn retry_task_refusal(instance: WorkflowState, task: TaskState) -> Option<String> {
    use TaskState as T;
    use WorkflowState as W;
    match instance {
        W::Pausing | W::Stopping => {
            return Some(format!("its instance is being stopped ({instance})"));
        }
        W::Submitted | W::Waiting => {
            return Some(format!("its instance has not started ({instance})"));
        }
        _ => {}
    }
    match task {
        T::Succeeded | T::Failed | T::Skipped | T::Killed | T::ForcedSuccess => None,
        T::Pending => Some("the task has not run yet (pending)".into()),
        other => Some(format!("the task is still running ({other})")),
    }
}

/// Why a task instance cannot be held now, or None when it can: only a task that has not
/// started (`pending`, `waiting`, `retrying`) of an instance that has not ended, and not
/// twice. Like [`retry_task_refusal`], asked first by the CLI, REST and UI and again by the
/// master under the instance's lock.
pub fn hold_refusal(instance: WorkflowState, task: TaskState, held: bool) -> Option<String> {
    use TaskState as T;
    if instance.is_final() {
        return Some(format!("its instance has ended ({instance})"));
    }
    if held {
        return Some("the task is already held".into());
    }
    match task {
        T::Pending | T::Waiting | T::Retrying => None,
        other if other.is_final() => Some(format!("the task has ended ({other})")),
        other => Some(format!("the task has already started ({other})")),
    }
}

/// Why a task instance cannot be released now, or None when it can: it must be held.
pub fn release_refusal(held: bool) -> Option<String> {
    (!held).then(|| "the task is not held".to_string())
}

string_enum!(
    /// How the wait between a task's attempts grows: `fixed` (every retry waits
    /// `retry_interval`) or `exponential` (see [`retry_delay_ms`]).
    RetryBackoff, "retry_backoff", default Fixed, {
    Fixed => "fixed",
    Exponential => "exponential",
});

/// The wait before retry `k` (1 for the first retry, after attempt 1 failed), in
/// milliseconds. `fixed`: `interval`. `exponential`: `min(interval * 2^(k-1), max)` with
/// "equal jitter": the delay `d` becomes `d/2 + jitter * d/2` for `jitter` in `[0, 1)`, so
/// runs retrying together spread out, and retry `k+1` never waits less than retry `k`
/// until the cap is reached. `max: None` caps at `interval * 2^20`.
pub fn retry_delay_ms(
    backoff: RetryBackoff,
    interval_ms: u64,
    max_ms: Option<u64>,
    k: u32,
    jitter: f64,
) -> u64 {
    match backoff {
        RetryBackoff::Fixed => interval_ms,
        RetryBackoff::Exponential => {
            let grown = interval_ms.saturating_mul(1u64 << k.saturating_sub(1).min(20));
            let delay = max_ms.map_or(grown, |max| grown.min(max));
            let half = delay / 2;
            let jitter = if jitter.is_finite() {
                jitter.clamp(0.0, 1.0)
            } else {
                0.0
            };
            let spread = (((half as f64) * jitter) as u64).min(half);
            (delay - half).saturating_add(spread)
        }
    }
}

string_enum!(
    /// Task types of the workflow format. Each is a plugin in `crate::tasks`.
    TaskType, "task type", {
    Shell => "shell",
    Python => "python",
    Sql => "sql",
    Procedure => "procedure",
    Http => "http",
    SubProcess => "sub_process",
    Dependent => "dependent",
    Conditions => "conditions",
    Switch => "switch",
    Spark => "spark",
    Mr => "mr",
    Empty => "empty",
});

impl TaskType {
    /// Types the master completes itself, never dispatched to a worker.
    pub fn runs_on_master(self) -> bool {
        matches!(
            self,
            Self::Empty | Self::SubProcess | Self::Dependent | Self::Conditions | Self::Switch
        )
    }

    /// Types a worker runs inside its own process (a statement, a request): they take one
    /// of its in-process slots (`PGDAG_MAX_ASYNC_TASKS`), not a process slot.
    pub fn runs_in_process(self) -> bool {
        matches!(self, Self::Sql | Self::Procedure | Self::Http)
    }

    /// Every type that runs in process, as the queue records them.
    pub fn in_process_names() -> Vec<&'static str> {
        [Self::Sql, Self::Procedure, Self::Http]
            .into_iter()
            .map(|t| t.as_str())
            .collect()
    }
}

/// A duration written `500ms`, `30s`, `10m`, `2h` or `1d` (DESIGN §6). Several parts may be
/// concatenated (`1h30m`). Stored as whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    pub millis: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a duration (write e.g. 500ms, 30s, 10m, 2h, 1d)")]
pub struct ParseDurationError(pub String);

impl Duration {
    pub const ZERO: Duration = Duration { millis: 0 };
    pub fn from_millis(millis: u64) -> Self {
        Duration { millis }
    }
    pub fn from_secs(secs: u64) -> Self {
        Duration {
            millis: secs * 1000,
        }
    }
    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.millis)
    }
    pub fn as_chrono(self) -> chrono::Duration {
        chrono::Duration::milliseconds(self.millis as i64)
    }
}

impl FromStr for Duration {
    type Err = ParseDurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseDurationError(s.to_string());
        let text = s.trim();
        if text.is_empty() {
            return Err(err());
        }
        let mut total: u64 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return Err(err());
            }
            let number: u64 = rest[..digits].parse().map_err(|_| err())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
            let factor: u64 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(err()),
            };
            rest = &rest[unit_len..];
            total = number
                .checked_mul(factor)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(err)?;
        }
        Ok(Duration { millis: total })
    }
}

impl fmt::Display for Duration {
    /// The shortest exact spelling, so that export round-trips.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.millis;
        for (factor, unit) in [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
        ] {
            if ms != 0 && ms.is_multiple_of(factor) {
                return write!(f, "{}{}", ms / factor, unit);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a start may change for one run (the run dialog's execution options, REST
/// `priority`, `failure_strategy`, `worker_group`): read from the command's options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOverrides {
    pub priority: Option<Priority>,
    pub failure_strategy: Option<FailureStrategy>,
    /// Replaces the workflow's worker group; tasks that name their own keep it.
    pub worker_group: Option<String>,
}

impl RunOverrides {
    pub fn from_options(options: &serde_json::Value) -> Result<RunOverrides, String> {
        let text = |key: &str| -> Result<Option<&str>, String> {
            match options.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.as_str())),
                Some(other) => Err(format!("options.{key} {other} is not a string")),
            }
        };
        let parse = |key: &str, e: ParseEnumError| format!("options.{key}: {e}");
        let worker_group = text("worker_group")?.map(str::to_string);
        if worker_group.as_deref().is_some_and(|g| g.trim().is_empty()) {
            return Err("options.worker_group is empty".into());
        }
        Ok(RunOverrides {
            priority: text("priority")?
                .map(|p| p.parse().map_err(|e| parse("priority", e)))
                .transpose()?,
            failure_strategy: text("failure_strategy")?
                .map(|f| f.parse().map_err(|e| parse("failure_strategy", e)))
                .transpose()?,
            worker_group,
        })
    }

    /// The overrides as command options (only those set).
    pub fn to_options(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        if let Some(p) = self.priority {
            map.insert("priority".into(), p.as_str().into());
        }
        if let Some(f) = self.failure_strategy {
            map.insert("failure_strategy".into(), f.as_str().into());
        }
        if let Some(g) = &self.worker_group {
            map.insert("worker_group".into(), g.clone().into());
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_backoff_always_waits_the_interval() {
        for k in [1, 2, 10, 100] {
            assert_eq!(
                retry_delay_ms(RetryBackoff::Fixed, 30_000, Some(1), k, 0.7),
                30_000
            );
        }
    }

    #[test]
    fn exponential_backoff_doubles_within_jitter_up_to_the_cap() {
        let e = RetryBackoff::Exponential;
        // No jitter: the lower half-bound d/2; full jitter approaches d.
        assert_eq!(retry_delay_ms(e, 10_000, None, 1, 0.0), 5_000);
        assert_eq!(retry_delay_ms(e, 10_000, None, 1, 0.999_999), 9_999);
        assert_eq!(retry_delay_ms(e, 10_000, None, 2, 0.0), 10_000);
        assert_eq!(retry_delay_ms(e, 10_000, None, 3, 0.5), 30_000);
        // Capped at retry_max_interval.
        assert_eq!(retry_delay_ms(e, 10_000, Some(25_000), 3, 0.0), 12_500);
        assert_eq!(retry_delay_ms(e, 10_000, Some(25_000), 50, 0.0), 12_500);
        // Huge attempt numbers and intervals saturate instead of overflowing.
        assert!(retry_delay_ms(e, u64::MAX / 2, None, 100, 1.0) > 0);
        // A jitter out of range (or NaN) is clamped.
        assert_eq!(retry_delay_ms(e, 10_000, None, 1, f64::NAN), 5_000);
        assert_eq!(retry_delay_ms(e, 10_000, None, 1, 7.0), 10_000);
    }

    #[test]
    fn each_exponential_retry_waits_at_least_as_long_as_the_one_before() {
        let e = RetryBackoff::Exponential;
        for (a, b) in [(0.0, 0.0), (0.99, 0.0), (0.5, 0.5), (0.0, 0.99)] {
            for k in 1..30 {
                let now = retry_delay_ms(e, 1_000, Some(3_600_000), k, a);
                let next = retry_delay_ms(e, 1_000, Some(3_600_000), k + 1, b);
                assert!(next >= now || now > 1_800_000, "k={k}: {now} then {next}");
            }
        }
    }

    #[test]
    fn only_a_task_that_has_not_started_can_be_held() {
        use TaskState as T;
        use WorkflowState as W;
        for t in [T::Pending, T::Waiting, T::Retrying] {
            assert_eq!(hold_refusal(W::Running, t, false), None, "{t}");
            assert!(
                hold_refusal(W::Running, t, true)
                    .unwrap()
                    .contains("already held")
            );
        }
        for t in [T::Queued, T::Dispatched, T::Running] {
            assert!(
                hold_refusal(W::Running, t, false)
                    .unwrap()
                    .contains("started")
            );
        }
        for t in [T::Succeeded, T::Failed, T::Killed, T::Skipped] {
            assert!(
                hold_refusal(W::Running, t, false)
                    .unwrap()
                    .contains("ended")
            );
        }
        assert!(hold_refusal(W::Succeeded, T::Pending, false).is_some());
        assert_eq!(release_refusal(true), None);
        assert!(release_refusal(false).is_some());
    }

    #[test]
    fn durations_parse_every_unit_and_round_trip() {
        for (text, ms) in [
            ("500ms", 500),
            ("30s", 30_000),
            ("10m", 600_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("1h30m", 5_400_000),
            ("0s", 0),
        ] {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.millis, ms, "{text}");
            let again: Duration = d.to_string().parse().unwrap();
            assert_eq!(again, d);
        }
    }

    #[test]
    fn durations_reject_garbage() {
        for text in ["", "10", "s", "10x", "-5s", "1.5h", "10 m"] {
            assert!(
                text.parse::<Duration>().is_err(),
                "{text} should be rejected"
            );
        }
    }

    #[test]
    fn every_state_spelling_round_trips() {
        for s in TaskState::ALL {
            assert_eq!(s.as_str().parse::<TaskState>().unwrap(), *s);
        }
        for s in WorkflowState::ALL {
            assert_eq!(s.as_str().parse::<WorkflowState>().unwrap(), *s);
        }
        assert!("done".parse::<TaskState>().is_err());
    }

    #[test]
    fn a_task_is_retried_only_when_final_in_an_instance_not_being_stopped() {
        use TaskState as T;
        use WorkflowState as W;
        for task in [
            T::Succeeded,
            T::Failed,
            T::Skipped,
            T::Killed,
            T::ForcedSuccess,
        ] {
            for instance in [W::Running, W::Failed, W::Succeeded, W::Stopped, W::Paused] {
                assert_eq!(
                    retry_task_refusal(instance, task),
                    None,
                    "{instance} {task}"
                );
            }
            for instance in [W::Pausing, W::Stopping] {
                let why = retry_task_refusal(instance, task).unwrap();
                assert!(why.contains("being stopped"), "{why}");
            }
        }
        for task in [
            T::Queued,
            T::Dispatched,
            T::Running,
            T::Retrying,
            T::Waiting,
        ] {
            let why = retry_task_refusal(W::Running, task).unwrap();
            assert!(why.contains("still running"), "{why}");
        }
        assert!(retry_task_refusal(W::Running, T::Pending).is_some());
    }

    #[test]
    fn priority_rank_orders_highest_first() {
        let ranks: Vec<i16> = Priority::ALL.iter().map(|p| p.rank()).collect();
        assert_eq!(ranks, vec![0, 1, 2, 3, 4]);
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), *p);
        }
    }
}

#[cfg(test)]
mod run_override_tests {
    use super::*;

    #[test]
    fn overrides_round_trip_through_command_options() {
        let o = RunOverrides {
            priority: Some(Priority::High),
            failure_strategy: Some(FailureStrategy::End),
            worker_group: Some("gpu".into()),
        };
        let options = serde_json::Value::Object(o.to_options());
        assert_eq!(RunOverrides::from_options(&options).unwrap(), o);
        assert_eq!(
            RunOverrides::from_options(&serde_json::json!({})).unwrap(),
            RunOverrides::default()
        );
    }

    #[test]
    fn bad_overrides_say_which_key() {
        let e = RunOverrides::from_options(&serde_json::json!({"priority": "urgent"})).unwrap_err();
        assert!(e.starts_with("options.priority:"), "{e}");
        let e =
            RunOverrides::from_options(&serde_json::json!({"failure_strategy": 3})).unwrap_err();
        assert!(e.contains("not a string"), "{e}");
        let e = RunOverrides::from_options(&serde_json::json!({"worker_group": " "})).unwrap_err();
        assert!(e.contains("empty"), "{e}");
    }
}
