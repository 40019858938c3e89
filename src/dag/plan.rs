//! `plan`: from one instance's DAG and task states, the actions the master must take now.
//!
//! Pure: no I/O, no clock (`now` is an argument), no hidden state, so the same input always
//! gives the same plan. The master applies the returned actions in the transaction that
//! loaded the states, so a plan is never applied twice.
//!
//! # Vocabulary
//!
//! - *Final* task states ([`TaskState::is_final`]): `succeeded, failed, skipped, killed,
//!   paused, forced_success`. *Active* ones ([`TaskState::is_active`]): `queued, dispatched,
//!   running`. The worker decides between `retrying` and `failed`, so `failed` is for good.
//! - A task is *ready* when every predecessor (every edge `pre -> task`) is final; a task
//!   without predecessors is ready at once.
//! - An edge `pre -> post` is *satisfied* when, by its condition:
//!   `success`: `pre` *passed*; `failure`: `pre` is `failed`; `always`: `pre` is final.
//! - A task *passed* when it is `succeeded` or `forced_success`, or when it is a `run: false`
//!   task in state `skipped` that is ready with every incoming edge satisfied (a
//!   *pass-through*). This is computed over the graph, not read from the state: a `run: false`
//!   task skipped because a condition did not hold does not pass.
//! - A failure is *handled* when the failed task has at least one outgoing `on: failure` edge.
//! - To *start* a task is `Queue` for worker-side types, `CompleteOnMaster` for `empty`,
//!   `Branch` for `conditions` (decided here), `Decide` for `switch` (its expression needs
//!   parameters: the master decides and plans again with the decision in the task's view),
//!   and `StartOnMaster` for `sub_process` and `dependent` (the master starts the child or
//!   checks the dependencies). A started `Decide`/`StartOnMaster` task counts as active.
//! - *Branching* tasks (`conditions`, `switch`) end `succeeded` with the list of successors
//!   they *took*. A `success` edge from a branching task to one of its branch targets is
//!   satisfied only when the target was taken; edges to other successors work as usual.
//! - Edges into a `conditions` task are judged as `always`: it runs once its predecessors are
//!   final, takes its `failure` targets when a predecessor failed or was killed and its
//!   `success` targets otherwise (a skipped predecessor, e.g. an untaken branch, is no failure). A failed task with a `conditions` successor counts as handled.
//!
//! # Rules, instance `running` (failure strategy `continue`, or `end` without an unhandled
//! failure)
//!
//! 1. A `pending` task that is ready: if some incoming edge is not satisfied, `Skip` (it does
//!    not pass). Otherwise a `run: false` task is `Skip`ped and passes. Otherwise, when the
//!    latest `pre.ended_at + delay` over the edges with a non-zero delay is in the future,
//!    `Wait { task, until }` (and wake then); else start it. A predecessor without `ended_at`
//!    counts as ended `now`.
//! 2. A `waiting` task starts when `wait_until` is absent or `<= now`, else wake at
//!    `wait_until`. A `retrying` task likewise with `retry_at`. A `need_failover` task starts
//!    again at once. A *held* task is left as it is (neither started nor skipped) until it
//!    is released; being unfinished, it keeps the instance from finishing.
//! 3. Decisions propagate within one call: every `Skip` and `CompleteOnMaster` is applied to a
//!    local copy of the states (ended `now`) before the successors are judged, so a chain of
//!    skips or `empty` tasks resolves in one call and the instance can finish in that same
//!    call. A queued task counts as active afterwards, a waiting one as waiting. Tasks are
//!    judged in topological order, which reaches the same fixpoint as repeating until nothing
//!    changes.
//! 4. When every task is final (after propagation): `Finish(Succeeded)` if no task is
//!    `failed` without a handler and none is `killed` or `paused`; else `Finish(Failed)`.
//!
//! # Rules, other instance states
//!
//! - `running` with failure strategy `end` and at least one unhandled `failed` task: `Kill`
//!   every active task whose kill was not requested yet, `Skip` every `pending`, `waiting`,
//!   `retrying` and `need_failover` task, start nothing; once no task is active,
//!   `Finish(Failed)`.
//! - `pausing`: start nothing (no `Queue`, `CompleteOnMaster` or `Wait`, no wake-up); the
//!   skips of rule 1 still happen. Once no task is active, `Finish(Paused)`, whatever the
//!   other tasks' states (`waiting`, `retrying` and `pending` tasks are left as they are for
//!   resume).
//! - `stopping`: `Kill` every active task whose kill was not requested yet, start and skip
//!   nothing; once no task is active, `Finish(Stopped)`.
//! - `submitted`, `waiting`, and the final states: nothing to do, an empty plan.
//!
//! # Shape of a plan
//!
//! At most one action per task, in task-index order, then at most one of `Finish` (last) or
//! `WakeAt` (the earliest due time, never together with `Finish`). The only task with two
//! actions' worth of effect is a `Wait`, whose time is folded into the single `WakeAt`.
//!
//! The DAG is assumed acyclic (`apply` rejects cycles with [`super::find_cycle`]); tasks on
//! or behind a cycle are never judged. Edges naming a task out of range are ignored. `tasks`
//! must be index-aligned with `dag.tasks`; a length mismatch is a bug in the caller and gives
//! an empty plan (and panics in debug builds).

use chrono::{DateTime, Utc};

use crate::model::{Condition, Duration, FailureStrategy, TaskState, TaskType, WorkflowState};

/// One task of the DAG, as far as evaluation cares.
#[derive(Debug, Clone)]
pub struct DagTask {
    pub name: String,
    pub task_type: TaskType,
    /// `run: false`: the task is skipped but counts as passed for its successors.
    pub run: bool,
    /// The successors a branching task chooses among.
    pub branch: Branch,
}

/// The branch targets of a `conditions` or `switch` task (indexes into `Dag::tasks`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Branch {
    #[default]
    None,
    Conditions {
        success: Vec<usize>,
        failure: Vec<usize>,
    },
    /// Every task named by a case or the default.
    Switch { targets: Vec<usize> },
}

impl Branch {
    /// Whether `task` is one of the targets.
    pub fn targets(&self, task: usize) -> bool {
        match self {
            Branch::None => false,
            Branch::Conditions { success, failure } => {
                success.contains(&task) || failure.contains(&task)
            }
            Branch::Switch { targets } => targets.contains(&task),
        }
    }
}

/// A relation `pre -> post` (indexes into `Dag::tasks`).
#[derive(Debug, Clone)]
pub struct DagEdge {
    pub pre: usize,
    pub post: usize,
    pub condition: Condition,
    pub delay: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct Dag {
    pub tasks: Vec<DagTask>,
    pub edges: Vec<DagEdge>,
}

impl Dag {
    /// The tasks reachable from `roots` along the edges, the roots included (Airflow's
    /// "downstream"): what a run from chosen nodes runs, and what retrying a task reruns.
    pub fn downstream(&self, roots: &[usize]) -> Vec<bool> {
        let mut selected = vec![false; self.tasks.len()];
        let mut stack: Vec<usize> = roots
            .iter()
            .copied()
            .filter(|&i| i < self.tasks.len())
            .collect();
        while let Some(i) = stack.pop() {
            if !selected[i] {
                selected[i] = true;
                stack.extend(self.edges.iter().filter(|e| e.pre == i).map(|e| e.post));
            }
        }
        selected
    }
}

/// The current state of one task instance (index-aligned with `Dag::tasks`).
#[derive(Debug, Clone)]
pub struct TaskView {
    pub state: TaskState,
    pub ended_at: Option<DateTime<Utc>>,
    /// For `retrying`: when the next attempt may be queued.
    pub retry_at: Option<DateTime<Utc>>,
    /// For `waiting` (a relation delay): when the task may be queued.
    pub wait_until: Option<DateTime<Utc>>,
    /// A kill was already requested for this attempt; do not ask again.
    pub kill_requested: bool,
    /// Held (`pgdag ctl hold`): a `pending`, `waiting` or `retrying` task is neither
    /// started nor skipped until it is released, so the instance cannot finish in the
    /// meantime (except `stopped`, or `failed` after an unhandled failure under `end`).
    pub held: bool,
    /// For a decided branching task: the successors it took.
    pub taken: Option<Vec<usize>>,
}

#[derive(Debug, Clone)]
pub struct InstanceView {
    pub state: WorkflowState,
    pub failure_strategy: FailureStrategy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Hand the task to a worker: state `queued`, attempt + 1.
    Queue(usize),
    /// A master-side task (`empty`) is done: state `succeeded`.
    CompleteOnMaster(usize),
    /// A `conditions` task is done: state `succeeded`, taking these successors.
    Branch { task: usize, taken: Vec<usize> },
    /// A `switch` task must be decided by the master (then planned again).
    Decide(usize),
    /// The master starts a `sub_process` or checks a `dependent` task.
    StartOnMaster(usize),
    /// The task will not run: state `skipped`.
    Skip(usize),
    /// A relation delay holds the task: state `waiting` until the given time.
    Wait { task: usize, until: DateTime<Utc> },
    /// Stop the task's attempt (queued: removed from the queue; dispatched/running: the
    /// worker kills the process group and reports `killed`).
    Kill(usize),
    /// The instance reached this state (`succeeded`, `failed`, `stopped` or `paused`).
    Finish(WorkflowState),
    /// Evaluate the instance again at this time (retry interval, relation delay).
    WakeAt(DateTime<Utc>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub actions: Vec<Action>,
}

impl Plan {
    /// Keep at most `limit` of the `Queue` actions that `rank` counts (`None`: not counted,
    /// e.g. a mapped task's parent), the first in the queue's order (rank, then task
    /// order); the others are dropped, their tasks stay pending, and the plan asks to be
    /// evaluated again `now`. The next plan queues them, as nothing else changed for them.
    /// True when some were left for then.
    pub fn queue_at_most(
        &mut self,
        limit: usize,
        rank: impl Fn(usize) -> Option<i16>,
        now: DateTime<Utc>,
    ) -> bool {
        let mut queued: Vec<(i16, usize)> = self
            .actions
            .iter()
            .filter_map(|a| match *a {
                Action::Queue(i) => rank(i).map(|r| (r, i)),
                _ => None,
            })
            .collect();
        if queued.len() <= limit {
            return false;
        }
        queued.sort_unstable();
        let later: std::collections::HashSet<usize> =
            queued[limit..].iter().map(|&(_, i)| i).collect();
        self.actions
            .retain(|a| !matches!(*a, Action::Queue(i) if later.contains(&i)));
        self.actions.push(Action::WakeAt(now));
        true
    }
}

/// Decide what to do now. The rules are in this module's documentation.
pub fn plan(dag: &Dag, tasks: &[TaskView], instance: &InstanceView, now: DateTime<Utc>) -> Plan {
    debug_assert_eq!(
        tasks.len(),
        dag.tasks.len(),
        "task views must be index-aligned with the DAG's tasks"
    );
    if tasks.len() != dag.tasks.len() {
        return Plan::default();
    }
    let graph = Graph::new(dag);
    match instance.state {
        WorkflowState::Running => {
            let unhandled_failure = tasks
                .iter()
                .enumerate()
                .any(|(i, t)| t.state == TaskState::Failed && !graph.handles_failure[i]);
            if instance.failure_strategy == FailureStrategy::End && unhandled_failure {
                end_after_failure(tasks)
            } else {
                evaluate(dag, &graph, tasks, Mode::Running, now)
            }
        }
        WorkflowState::Pausing => evaluate(dag, &graph, tasks, Mode::Pausing, now),
        WorkflowState::Stopping => stop(tasks),
        WorkflowState::Submitted
        | WorkflowState::Waiting
        | WorkflowState::Paused
        | WorkflowState::Stopped
        | WorkflowState::Failed
        | WorkflowState::Succeeded => Plan::default(),
    }
}

/// Whether [`plan`] applies the failure strategy `end` now: the instance is `running` with
/// `end` and some `failed` task has no failure handler. The master uses it to end the
/// items of mapped tasks the same way.
pub fn ends_after_failure(dag: &Dag, tasks: &[TaskView], instance: &InstanceView) -> bool {
    if instance.state != WorkflowState::Running
        || instance.failure_strategy != FailureStrategy::End
        || tasks.len() != dag.tasks.len()
    {
        return false;
    }
    let graph = Graph::new(dag);
    tasks
        .iter()
        .enumerate()
        .any(|(i, t)| t.state == TaskState::Failed && !graph.handles_failure[i])
}

/// The DAG's adjacency, built once per call.
struct Graph<'a> {
    /// The edges `pre -> i`, for each task `i`.
    incoming: Vec<Vec<&'a DagEdge>>,
    /// The task has an outgoing `on: failure` edge, so its failure is handled.
    handles_failure: Vec<bool>,
    /// Every task not on or behind a cycle, predecessors first.
    order: Vec<usize>,
}

impl<'a> Graph<'a> {
    fn new(dag: &'a Dag) -> Self {
        let n = dag.tasks.len();
        let mut incoming: Vec<Vec<&DagEdge>> = vec![Vec::new(); n];
        let mut successors: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut handles_failure = vec![false; n];
        for edge in dag.edges.iter().filter(|e| e.pre < n && e.post < n) {
            incoming[edge.post].push(edge);
            successors[edge.pre].push(edge.post);
            if edge.condition == Condition::Failure
                || dag.tasks[edge.post].task_type == TaskType::Conditions
            {
                handles_failure[edge.pre] = true;
            }
        }
        // Kahn's algorithm; one entry per edge, so duplicate edges count twice both ways.
        let mut unmet: Vec<usize> = incoming.iter().map(Vec::len).collect();
        let mut order: Vec<usize> = (0..n).filter(|&i| unmet[i] == 0).collect();
        let mut next = 0;
        while let Some(&task) = order.get(next) {
            next += 1;
            for &post in &successors[task] {
                unmet[post] -= 1;
                if unmet[post] == 0 {
                    order.push(post);
                }
            }
        }
        Graph {
            incoming,
            handles_failure,
            order,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Start what is due and finish with the outcome.
    Running,
    /// Start nothing; finish `paused` once nothing is active.
    Pausing,
}

/// The planner's local copy of one task: the input state with this call's decisions applied.
struct Slot {
    state: TaskState,
    ended_at: Option<DateTime<Utc>>,
    passed: bool,
    taken: Option<Vec<usize>>,
    action: Option<Action>,
}

impl Slot {
    fn skip(&mut self, task: usize, now: DateTime<Utc>) {
        self.state = TaskState::Skipped;
        self.ended_at = Some(now);
        self.action = Some(Action::Skip(task));
    }

    /// Starts a task that is not a `conditions` task (see [`Slot::branch`]).
    fn start(&mut self, task: usize, task_type: TaskType, now: DateTime<Utc>) {
        match task_type {
            TaskType::Empty => {
                self.state = TaskState::Succeeded;
                self.ended_at = Some(now);
                self.action = Some(Action::CompleteOnMaster(task));
            }
            TaskType::Switch => {
                self.state = TaskState::Running;
                self.action = Some(Action::Decide(task));
            }
            TaskType::SubProcess | TaskType::Dependent => {
                self.state = TaskState::Running;
                self.action = Some(Action::StartOnMaster(task));
            }
            _ => {
                self.state = TaskState::Queued;
                self.action = Some(Action::Queue(task));
            }
        }
    }

    fn branch(&mut self, task: usize, taken: Vec<usize>, now: DateTime<Utc>) {
        self.state = TaskState::Succeeded;
        self.ended_at = Some(now);
        self.taken = Some(taken.clone());
        self.action = Some(Action::Branch { task, taken });
    }
}

/// Rules for `running` (without an unhandled failure under `end`) and `pausing`.
fn evaluate(
    dag: &Dag,
    graph: &Graph<'_>,
    tasks: &[TaskView],
    mode: Mode,
    now: DateTime<Utc>,
) -> Plan {
    let may_start = mode == Mode::Running;
    let mut slots: Vec<Slot> = tasks
        .iter()
        .map(|t| Slot {
            state: t.state,
            ended_at: t.ended_at,
            passed: false,
            taken: t.taken.clone(),
            action: None,
        })
        .collect();
    let mut wake: Option<DateTime<Utc>> = None;

    // Predecessors come first, so each task sees its predecessors' final local state.
    for &i in &graph.order {
        let incoming = &graph.incoming[i];
        let ready = incoming.iter().all(|e| slots[e.pre].state.is_final());
        let is_conditions = dag.tasks[i].task_type == TaskType::Conditions;
        let satisfied =
            ready && (is_conditions || incoming.iter().all(|e| edge_satisfied(dag, e, &slots)));
        // What a conditions task decides once it starts.
        let conditions_taken = match &dag.tasks[i].branch {
            Branch::Conditions { success, failure } if is_conditions => {
                let upstream_failed = incoming
                    .iter()
                    .any(|e| matches!(slots[e.pre].state, TaskState::Failed | TaskState::Killed));
                if upstream_failed {
                    failure.clone()
                } else {
                    success.clone()
                }
            }
            _ => Vec::new(),
        };
        // The relation delays run from the predecessors' ends (`now` for those ended here).
        let delayed_until = incoming
            .iter()
            .filter(|e| e.delay != Duration::ZERO)
            .map(|e| add_delay(slots[e.pre].ended_at.unwrap_or(now), e.delay))
            .max();
        let task = &dag.tasks[i];
        let view = &tasks[i];
        let slot = &mut slots[i];
        match slot.state {
            _ if view.held => {}
            TaskState::Pending if ready => {
                if !satisfied || !task.run {
                    slot.skip(i, now);
                } else if may_start {
                    match delayed_until {
                        Some(until) if until > now => {
                            slot.state = TaskState::Waiting;
                            slot.action = Some(Action::Wait { task: i, until });
                            wake = earliest(wake, until);
                        }
                        _ if is_conditions => slot.branch(i, conditions_taken.clone(), now),
                        _ => slot.start(i, task.task_type, now),
                    }
                }
            }
            TaskState::Waiting | TaskState::Retrying if may_start => {
                let due = if slot.state == TaskState::Waiting {
                    view.wait_until
                } else {
                    view.retry_at
                };
                match due {
                    Some(due) if due > now => wake = earliest(wake, due),
                    _ if is_conditions => slot.branch(i, conditions_taken, now),
                    _ => slot.start(i, task.task_type, now),
                }
            }
            TaskState::NeedFailover if may_start => slot.start(i, task.task_type, now),
            _ => {}
        }
        let slot = &mut slots[i];
        let pass_through = slot.state == TaskState::Skipped && !task.run && satisfied;
        slot.passed = slot.state.is_success() || pass_through;
    }

    let mut actions: Vec<Action> = slots.iter_mut().filter_map(|s| s.action.take()).collect();
    let finish = if slots.iter().any(|s| s.state.is_active()) {
        None
    } else {
        match mode {
            Mode::Pausing => Some(WorkflowState::Paused),
            Mode::Running if slots.iter().all(|s| s.state.is_final()) => {
                let clean = slots.iter().enumerate().all(|(i, s)| match s.state {
                    TaskState::Failed => graph.handles_failure[i],
                    TaskState::Killed | TaskState::Paused => false,
                    _ => true,
                });
                Some(if clean {
                    WorkflowState::Succeeded
                } else {
                    WorkflowState::Failed
                })
            }
            Mode::Running => None,
        }
    };
    match (finish, wake) {
        (Some(state), _) => actions.push(Action::Finish(state)),
        (None, Some(at)) if may_start => actions.push(Action::WakeAt(at)),
        (None, _) => {}
    }
    Plan { actions }
}

fn edge_satisfied(dag: &Dag, edge: &DagEdge, slots: &[Slot]) -> bool {
    let pre = &slots[edge.pre];
    match edge.condition {
        // A branch target runs only when its branching task took it.
        Condition::Success if dag.tasks[edge.pre].branch.targets(edge.post) => {
            pre.passed
                && pre
                    .taken
                    .as_ref()
                    .is_some_and(|taken| taken.contains(&edge.post))
        }
        Condition::Success => pre.passed,
        Condition::Failure => pre.state == TaskState::Failed,
        Condition::Always => pre.state.is_final(),
    }
}

/// `at + delay`, saturating at the latest representable time.
fn add_delay(at: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    i64::try_from(delay.millis)
        .ok()
        .and_then(chrono::TimeDelta::try_milliseconds)
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn earliest(current: Option<DateTime<Utc>>, candidate: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(current.map_or(candidate, |c| c.min(candidate)))
}

/// Failure strategy `end` after an unhandled failure.
fn end_after_failure(tasks: &[TaskView]) -> Plan {
    let mut actions = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        match t.state {
            // Active tasks whose kill is already requested fall through to `_`.
            state if state.is_active() && !t.kill_requested => actions.push(Action::Kill(i)),
            TaskState::Pending
            | TaskState::Waiting
            | TaskState::Retrying
            | TaskState::NeedFailover => actions.push(Action::Skip(i)),
            _ => {}
        }
    }
    if !tasks.iter().any(|t| t.state.is_active()) {
        actions.push(Action::Finish(WorkflowState::Failed));
    }
    Plan { actions }
}

/// Instance `stopping`.
fn stop(tasks: &[TaskView]) -> Plan {
    let mut actions: Vec<Action> = tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.state.is_active() && !t.kill_requested)
        .map(|(i, _)| Action::Kill(i))
        .collect();
    if !tasks.iter().any(|t| t.state.is_active()) {
        actions.push(Action::Finish(WorkflowState::Stopped));
    }
    Plan { actions }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    use Action::{CompleteOnMaster, Finish, Kill, Queue, Skip, WakeAt};
    use Condition::{Always, Failure, Success};
    use TaskState::{
        Dispatched, Failed, ForcedSuccess, Killed, NeedFailover, Pending, Queued, Retrying,
        Running, Skipped, Succeeded, Waiting,
    };

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn secs(s: i64) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(s)
    }

    fn task(name: &str, task_type: TaskType, run: bool) -> DagTask {
        DagTask {
            name: name.to_string(),
            task_type,
            run,
            branch: Branch::None,
        }
    }

    fn shell(name: &str) -> DagTask {
        task(name, TaskType::Shell, true)
    }

    fn empty(name: &str) -> DagTask {
        task(name, TaskType::Empty, true)
    }

    fn off(name: &str) -> DagTask {
        task(name, TaskType::Shell, false)
    }

    fn edge(pre: usize, post: usize, condition: Condition) -> DagEdge {
        DagEdge {
            pre,
            post,
            condition,
            delay: Duration::ZERO,
        }
    }

    fn dag(tasks: Vec<DagTask>, edges: &[(usize, usize, Condition)]) -> Dag {
        Dag {
            tasks,
            edges: edges.iter().map(|&(a, b, c)| edge(a, b, c)).collect(),
        }
    }

    fn shells(n: usize, edges: &[(usize, usize, Condition)]) -> Dag {
        dag((0..n).map(|i| shell(&format!("t{i}"))).collect(), edges)
    }

    fn view(state: TaskState) -> TaskView {
        TaskView {
            state,
            ended_at: state.is_final().then(|| now() - secs(60)),
            retry_at: None,
            wait_until: None,
            kill_requested: false,
            held: false,
            taken: None,
        }
    }

    fn views(states: &[TaskState]) -> Vec<TaskView> {
        states.iter().map(|&s| view(s)).collect()
    }

    fn instance(state: WorkflowState, failure_strategy: FailureStrategy) -> InstanceView {
        InstanceView {
            state,
            failure_strategy,
        }
    }

    fn running() -> InstanceView {
        instance(WorkflowState::Running, FailureStrategy::Continue)
    }

    fn running_end() -> InstanceView {
        instance(WorkflowState::Running, FailureStrategy::End)
    }

    /// Plans with `running` / `continue` at `now()`.
    fn run(dag: &Dag, states: &[TaskState]) -> Vec<Action> {
        plan(dag, &views(states), &running(), now()).actions
    }

    fn act(dag: &Dag, tasks: &[TaskView], inst: &InstanceView) -> Vec<Action> {
        plan(dag, tasks, inst, now()).actions
    }

    // ---- retrying a task in place ----

    #[test]
    fn ends_after_failure_only_for_an_unhandled_failure_under_end() {
        let plain = shells(2, &[(0, 1, Success)]);
        let handled = shells(2, &[(0, 1, Failure)]);
        let states = views(&[Failed, Pending]);
        assert!(ends_after_failure(&plain, &states, &running_end()));
        assert!(!ends_after_failure(&handled, &states, &running_end()));
        assert!(!ends_after_failure(&plain, &states, &running()));
        assert!(!ends_after_failure(
            &plain,
            &states,
            &instance(WorkflowState::Stopping, FailureStrategy::End)
        ));
        assert!(!ends_after_failure(
            &plain,
            &views(&[Succeeded, Pending]),
            &running_end()
        ));
        assert!(
            !ends_after_failure(&plain, &views(&[Failed]), &running_end()),
            "misaligned"
        );
    }

    #[test]
    fn downstream_is_the_roots_and_everything_reachable_from_them() {
        // t0 -> t1 -> t2, t0 -> t3, t4 alone
        let d = shells(5, &[(0, 1, Success), (1, 2, Failure), (0, 3, Always)]);
        assert_eq!(d.downstream(&[1]), vec![false, true, true, false, false]);
        assert_eq!(d.downstream(&[0]), vec![true, true, true, true, false]);
        assert_eq!(
            d.downstream(&[4, 9]),
            vec![false, false, false, false, true]
        );
        assert_eq!(d.downstream(&[]), vec![false; 5]);
    }

    #[test]
    fn a_retried_task_runs_again_and_only_its_downstream_waits_for_it() {
        // t0 -> t1 -> t2, t0 -> t3: t1 failed, t2 was skipped, t3 succeeded. Retrying t1
        // puts t1 and t2 back to pending; t0 and t3 keep their results.
        let d = shells(4, &[(0, 1, Success), (1, 2, Success), (0, 3, Success)]);
        let retried = d.downstream(&[1]);
        let states: Vec<TaskState> = [Succeeded, Failed, Skipped, Succeeded]
            .iter()
            .zip(&retried)
            .map(|(&s, &again)| if again { Pending } else { s })
            .collect();
        assert_eq!(states, vec![Succeeded, Pending, Pending, Succeeded]);
        assert_eq!(run(&d, &states), vec![Queue(1)]);
        assert_eq!(
            run(&d, &[Succeeded, Succeeded, Succeeded, Succeeded]),
            vec![Finish(WorkflowState::Succeeded)]
        );
    }

    // ---- master-side types ----

    /// check -> decide(conditions: success [ok], failure [fix]) -> ok, fix
    fn conditions_dag() -> Dag {
        let mut decide = task("decide", TaskType::Conditions, true);
        decide.branch = Branch::Conditions {
            success: vec![2],
            failure: vec![3],
        };
        dag(
            vec![shell("check"), decide, shell("ok"), shell("fix")],
            &[(0, 1, Success), (1, 2, Success), (1, 3, Success)],
        )
    }

    #[test]
    fn conditions_takes_the_failure_branch_after_a_failure_and_handles_it() {
        let d = conditions_dag();
        let actions = run(&d, &[Failed, Pending, Pending, Pending]);
        assert_eq!(
            actions,
            vec![
                Action::Branch {
                    task: 1,
                    taken: vec![3]
                },
                Skip(2),
                Queue(3)
            ]
        );
        // Once the repair succeeded the instance succeeds: the failure was handled.
        let mut tasks = views(&[Failed, Succeeded, Skipped, Succeeded]);
        tasks[1].taken = Some(vec![3]);
        assert_eq!(
            act(&d, &tasks, &running()),
            vec![Finish(WorkflowState::Succeeded)]
        );
    }

    #[test]
    fn conditions_takes_the_success_branch_when_nothing_upstream_failed() {
        let d = conditions_dag();
        assert_eq!(
            run(&d, &[Succeeded, Pending, Pending, Pending]),
            vec![
                Action::Branch {
                    task: 1,
                    taken: vec![2]
                },
                Queue(2),
                Skip(3)
            ]
        );
        // A skipped predecessor (an untaken branch upstream) is no failure.
        assert_eq!(
            run(&d, &[Skipped, Pending, Pending, Pending])[0],
            Action::Branch {
                task: 1,
                taken: vec![2]
            }
        );
    }

    #[test]
    fn conditions_waits_for_every_predecessor_whatever_the_edge() {
        let mut decide = task("decide", TaskType::Conditions, true);
        decide.branch = Branch::Conditions {
            success: vec![3],
            failure: vec![],
        };
        let d = dag(
            vec![shell("a"), shell("b"), decide, shell("next")],
            &[(0, 2, Success), (1, 2, Success), (2, 3, Success)],
        );
        assert_eq!(run(&d, &[Failed, Running, Pending, Pending]), vec![]);
        assert_eq!(
            run(&d, &[Failed, Succeeded, Pending, Pending]),
            vec![
                Action::Branch {
                    task: 2,
                    taken: vec![]
                },
                Skip(3),
                Finish(WorkflowState::Succeeded)
            ]
        );
    }

    /// route(switch: [a, b]) -> a, b; c after route is no branch target
    fn switch_dag() -> Dag {
        let mut route = task("route", TaskType::Switch, true);
        route.branch = Branch::Switch {
            targets: vec![1, 2],
        };
        dag(
            vec![route, shell("a"), shell("b"), shell("c")],
            &[(0, 1, Success), (0, 2, Success), (0, 3, Success)],
        )
    }

    #[test]
    fn switch_asks_for_a_decision_and_holds_its_successors() {
        let d = switch_dag();
        assert_eq!(
            run(&d, &[Pending, Pending, Pending, Pending]),
            vec![Action::Decide(0)]
        );
    }

    #[test]
    fn a_decided_switch_runs_the_taken_branch_and_skips_the_others() {
        let d = switch_dag();
        let mut tasks = views(&[Succeeded, Pending, Pending, Pending]);
        tasks[0].taken = Some(vec![2]);
        assert_eq!(
            act(&d, &tasks, &running()),
            vec![Skip(1), Queue(2), Queue(3)]
        );
        // No branch taken: every target is skipped, the other successor still runs.
        tasks[0].taken = Some(vec![]);
        assert_eq!(
            act(&d, &tasks, &running()),
            vec![Skip(1), Skip(2), Queue(3)]
        );
    }

    #[test]
    fn sub_process_and_dependent_start_on_the_master_and_count_as_active() {
        let d = dag(
            vec![
                task("child", TaskType::SubProcess, true),
                task("wait", TaskType::Dependent, true),
                shell("after"),
            ],
            &[(0, 2, Success), (1, 2, Success)],
        );
        assert_eq!(
            run(&d, &[Pending, Pending, Pending]),
            vec![Action::StartOnMaster(0), Action::StartOnMaster(1)]
        );
        // A dependent that waits is started again when its check is due.
        let mut tasks = views(&[Running, Waiting, Pending]);
        tasks[1].wait_until = Some(now() - secs(1));
        assert_eq!(act(&d, &tasks, &running()), vec![Action::StartOnMaster(1)]);
        tasks[1].wait_until = Some(now() + secs(5));
        assert_eq!(act(&d, &tasks, &running()), vec![WakeAt(now() + secs(5))]);
        // Stopping kills a running sub_process like any active task.
        assert_eq!(
            act(
                &d,
                &views(&[Running, Succeeded, Pending]),
                &instance(WorkflowState::Stopping, FailureStrategy::Continue)
            ),
            vec![Kill(0)]
        );
    }

    // ---- rule 1: readiness; linear chains and diamonds ----

    #[test]
    fn tasks_without_predecessors_are_queued_at_once() {
        let d = shells(3, &[]);
        assert_eq!(run(&d, &[Pending; 3]), vec![Queue(0), Queue(1), Queue(2)]);
    }

    #[test]
    fn linear_chain_runs_one_task_after_the_other() {
        let d = shells(3, &[(0, 1, Success), (1, 2, Success)]);
        assert_eq!(run(&d, &[Pending, Pending, Pending]), vec![Queue(0)]);
        assert_eq!(run(&d, &[Queued, Pending, Pending]), vec![]);
        assert_eq!(run(&d, &[Dispatched, Pending, Pending]), vec![]);
        assert_eq!(run(&d, &[Running, Pending, Pending]), vec![]);
        assert_eq!(run(&d, &[Succeeded, Pending, Pending]), vec![Queue(1)]);
        assert_eq!(run(&d, &[Succeeded, Running, Pending]), vec![]);
        assert_eq!(run(&d, &[Succeeded, Succeeded, Pending]), vec![Queue(2)]);
        assert_eq!(
            run(&d, &[Succeeded, Succeeded, Succeeded]),
            vec![Finish(WorkflowState::Succeeded)]
        );
    }

    #[test]
    fn diamond_joins_only_when_both_branches_are_final() {
        let d = shells(
            4,
            &[
                (0, 1, Success),
                (0, 2, Success),
                (1, 3, Success),
                (2, 3, Success),
            ],
        );
        assert_eq!(run(&d, &[Pending; 4]), vec![Queue(0)]);
        assert_eq!(
            run(&d, &[Succeeded, Pending, Pending, Pending]),
            vec![Queue(1), Queue(2)]
        );
        assert_eq!(run(&d, &[Succeeded, Succeeded, Running, Pending]), vec![]);
        assert_eq!(
            run(&d, &[Succeeded, Succeeded, Succeeded, Pending]),
            vec![Queue(3)]
        );
        // One branch failed: the join is skipped and the instance fails.
        assert_eq!(
            run(&d, &[Succeeded, Succeeded, Failed, Pending]),
            vec![Skip(3), Finish(WorkflowState::Failed)]
        );
    }

    #[test]
    fn a_retrying_or_failing_over_predecessor_is_not_final() {
        let d = shells(2, &[(0, 1, Always)]);
        let mut tasks = views(&[Retrying, Pending]);
        tasks[0].retry_at = Some(now() + secs(5));
        assert_eq!(act(&d, &tasks, &running()), vec![WakeAt(now() + secs(5))]);
        assert_eq!(run(&d, &[Waiting, Pending]), vec![Queue(0)]);
        assert_eq!(run(&d, &[NeedFailover, Pending]), vec![Queue(0)]);
    }

    #[test]
    fn forced_success_passes_like_success() {
        let d = shells(2, &[(0, 1, Success)]);
        assert_eq!(run(&d, &[ForcedSuccess, Pending]), vec![Queue(1)]);
        assert_eq!(
            run(&d, &[ForcedSuccess, Succeeded]),
            vec![Finish(WorkflowState::Succeeded)]
        );
    }

    // ---- rule 2: conditions ----

    #[test]
    fn failure_edge_runs_the_handler_and_the_instance_succeeds() {
        // 0 -success-> 1, 0 -failure-> 2
        let d = shells(3, &[(0, 1, Success), (0, 2, Failure)]);
        assert_eq!(
            run(&d, &[Failed, Pending, Pending]),
            vec![Skip(1), Queue(2)]
        );
        assert_eq!(run(&d, &[Failed, Skipped, Running]), vec![]);
        assert_eq!(
            run(&d, &[Failed, Skipped, Succeeded]),
            vec![Finish(WorkflowState::Succeeded)]
        );
        // A failing handler fails the instance.
        assert_eq!(
            run(&d, &[Failed, Skipped, Failed]),
            vec![Finish(WorkflowState::Failed)]
        );
    }

    #[test]
    fn failure_edge_is_skipped_when_the_predecessor_succeeds() {
        let d = shells(3, &[(0, 1, Success), (0, 2, Failure)]);
        assert_eq!(
            run(&d, &[Succeeded, Pending, Pending]),
            vec![Queue(1), Skip(2)]
        );
        assert_eq!(
            run(&d, &[Succeeded, Succeeded, Skipped]),
            vec![Finish(WorkflowState::Succeeded)]
        );
    }

    #[test]
    fn failure_edge_is_not_satisfied_by_killed_or_skipped() {
        let d = shells(2, &[(0, 1, Failure)]);
        assert_eq!(
            run(&d, &[Killed, Pending]),
            vec![Skip(1), Finish(WorkflowState::Failed)]
        );
        assert_eq!(
            run(&d, &[Skipped, Pending]),
            vec![Skip(1), Finish(WorkflowState::Succeeded)]
        );
    }

    #[test]
    fn always_edge_runs_after_any_final_state() {
        let d = shells(2, &[(0, 1, Always)]);
        for pre in [
            Succeeded,
            Failed,
            Skipped,
            Killed,
            ForcedSuccess,
            TaskState::Paused,
        ] {
            assert_eq!(run(&d, &[pre, Pending]), vec![Queue(1)], "after {pre}");
        }
        // `always` does not handle a failure.
        assert_eq!(
            run(&d, &[Failed, Succeeded]),
            vec![Finish(WorkflowState::Failed)]
        );
    }

    #[test]
    fn every_incoming_edge_must_hold() {
        // 0 -success-> 2, 1 -failure-> 2
        let d = shells(3, &[(0, 2, Success), (1, 2, Failure)]);
        assert_eq!(run(&d, &[Succeeded, Failed, Pending]), vec![Queue(2)]);
        assert_eq!(
            run(&d, &[Succeeded, Succeeded, Pending]),
            vec![Skip(2), Finish(WorkflowState::Succeeded)]
        );
        assert_eq!(
            run(&d, &[Failed, Failed, Pending]),
            vec![Skip(2), Finish(WorkflowState::Failed)]
        );
        assert_eq!(run(&d, &[Succeeded, Running, Pending]), vec![]);
    }

    #[test]
    fn skips_propagate_down_a_chain_in_one_call() {
        let d = shells(4, &[(0, 1, Success), (1, 2, Success), (2, 3, Always)]);
        // The `always` edge from a skipped task holds: 3 runs.
        assert_eq!(
            run(&d, &[Failed, Pending, Pending, Pending]),
            vec![Skip(1), Skip(2), Queue(3)]
        );
        let d = shells(4, &[(0, 1, Success), (1, 2, Success), (2, 3, Success)]);
        assert_eq!(
            run(&d, &[Failed, Pending, Pending, Pending]),
            vec![Skip(1), Skip(2), Skip(3), Finish(WorkflowState::Failed)]
        );
    }

    // ---- run: false ----

    #[test]
    fn run_false_is_skipped_and_its_successors_run() {
        let d = dag(
            vec![shell("a"), off("b"), shell("c")],
            &[(0, 1, Success), (1, 2, Success)],
        );
        assert_eq!(
            run(&d, &[Succeeded, Pending, Pending]),
            vec![Skip(1), Queue(2)]
        );
        // Next call: the pass-through is recomputed from the graph, not from `skipped`.
        assert_eq!(run(&d, &[Succeeded, Skipped, Pending]), vec![Queue(2)]);
        assert_eq!(
            run(&d, &[Succeeded, Skipped, Succeeded]),
            vec![Finish(WorkflowState::Succeeded)]
        );
    }

    #[test]
    fn run_false_skipped_by_condition_does_not_pass() {
        let d = dag(
            vec![shell("a"), off("b"), shell("c")],
            &[(0, 1, Success), (1, 2, Success)],
        );
        assert_eq!(
            run(&d, &[Failed, Pending, Pending]),
            vec![Skip(1), Skip(2), Finish(WorkflowState::Failed)]
        );
        assert_eq!(
            run(&d, &[Failed, Skipped, Pending]),
            vec![Skip(2), Finish(WorkflowState::Failed)]
        );
    }

    #[test]
    fn run_false_roots_and_chains_pass_through() {
        let d = dag(
            vec![off("a"), off("b"), shell("c")],
            &[(0, 1, Success), (1, 2, Success)],
        );
        assert_eq!(run(&d, &[Pending; 3]), vec![Skip(0), Skip(1), Queue(2)]);
        assert_eq!(run(&d, &[Skipped, Skipped, Pending]), vec![Queue(2)]);
    }

    #[test]
    fn run_false_on_a_failure_edge_passes_and_handles_the_failure() {
        let d = dag(
            vec![shell("a"), off("b"), shell("c")],
            &[(0, 1, Failure), (1, 2, Success)],
        );
        assert_eq!(
            run(&d, &[Failed, Pending, Pending]),
            vec![Skip(1), Queue(2)]
        );
        assert_eq!(
            run(&d, &[Failed, Skipped, Succeeded]),
            vec![Finish(WorkflowState::Succeeded)]
        );
        // a succeeded: b's failure edge fails, b does not pass, c is skipped.
        assert_eq!(
            run(&d, &[Succeeded, Pending, Pending]),
            vec![Skip(1), Skip(2), Finish(WorkflowState::Succeeded)]
        );
    }

    #[test]
    fn a_plainly_skipped_task_does_not_pass() {
        let d = shells(2, &[(0, 1, Success)]);
        assert_eq!(
            run(&d, &[Skipped, Pending]),
            vec![Skip(1), Finish(WorkflowState::Succeeded)]
        );
    }

    // ---- delays: Wait + WakeAt, then Queue ----

    fn delayed(delays: &[(usize, usize, u64)], n: usize) -> Dag {
        Dag {
            tasks: (0..n).map(|i| shell(&format!("t{i}"))).collect(),
            edges: delays
                .iter()
                .map(|&(pre, post, s)| DagEdge {
                    delay: Duration::from_secs(s),
                    ..edge(pre, post, Success)
                })
                .collect(),
        }
    }

    #[test]
    fn a_relation_delay_waits_then_queues() {
        let d = delayed(&[(0, 1, 300)], 2);
        let mut tasks = views(&[Succeeded, Pending]);
        tasks[0].ended_at = Some(now() - secs(60));
        let until = now() + secs(240);
        assert_eq!(
            act(&d, &tasks, &running()),
            vec![Action::Wait { task: 1, until }, WakeAt(until)]
        );
        // The master stored it; before the time only a wake-up, after it the queue.
        tasks[1].state = Waiting;
        tasks[1].wait_until = Some(until);
        assert_eq!(act(&d, &tasks, &running()), vec![WakeAt(until)]);
        assert_eq!(plan(&d, &tasks, &running(), until).actions, vec![Queue(1)]);
        assert_eq!(
            plan(&d, &tasks, &running(), until + secs(1)).actions,
            vec![Queue(1)]
        );
        // A waiting task without a time is due.
        tasks[1].wait_until = None;
        assert_eq!(act(&d, &tasks, &running()), vec![Queue(1)]);
    }

    #[test]
    fn an_elapsed_delay_queues_at_once() {
        let d = delayed(&[(0, 1, 30)], 2);
        let mut tasks = views(&[Succeeded, Pending]);
        tasks[0].ended_at = Some(now() - secs(30));
        assert_eq!(act(&d, &tasks, &running()), vec![Queue(1)]);
    }

    #[test]
    fn the_latest_delay_wins_and_zero_delays_do_not_count() {
        let d = delayed(&[(0, 2, 100), (1, 2, 50), (0, 3, 0)], 4);
        let mut tasks = views(&[Succeeded, Succeeded, Pending, Pending]);
        tasks[0].ended_at = Some(now() - secs(90)); // + 100 = now + 10
        tasks[1].ended_at = Some(now() - secs(20)); // + 50 = now + 30
        let until = now() + secs(30);
        assert_eq!(
            act(&d, &tasks, &running()),
            vec![Action::Wait { task: 2, until }, Queue(3), WakeAt(until)]
        );
    }

    #[test]
    fn a_delay_after_a_task_completed_in_this_call_runs_from_now() {
        let d = Dag {
            tasks: vec![empty("a"), shell("b")],
            edges: vec![DagEdge {
                delay: Duration::from_secs(10),
                ..edge(0, 1, Success)
            }],
        };
        let until = now() + secs(10);
        assert_eq!(
            run(&d, &[Pending, Pending]),
            vec![
                CompleteOnMaster(0),
                Action::Wait { task: 1, until },
                WakeAt(until)
            ]
        );
    }

    #[test]
    fn run_false_ignores_the_delay() {
        let mut d = delayed(&[(0, 1, 300), (1, 2, 0)], 3);
        d.tasks[1].run = false;
        assert_eq!(
            run(&d, &[Succeeded, Pending, Pending]),
            vec![Skip(1), Queue(2)]
        );
    }

    #[test]
    fn only_the_earliest_wake_up_is_emitted() {
        let d = shells(3, &[]);
        let mut tasks = views(&[Retrying, Waiting, Retrying]);
        tasks[0].retry_at = Some(now() + secs(50));
        tasks[1].wait_until = Some(now() + secs(20));
        tasks[2].retry_at = Some(now() + secs(30));
        assert_eq!(act(&d, &tasks, &running()), vec![WakeAt(now() + secs(20))]);
    }

    // ---- held tasks ----

    #[test]
    fn a_held_task_is_not_started_the_rest_goes_on_and_the_instance_does_not_finish() {
        // t0 -> t1, t2 alone; t1 held.
        let d = shells(3, &[(0, 1, Condition::Success)]);
        let mut tasks = views(&[Succeeded, Pending, Pending]);
        tasks[1].held = true;
        assert_eq!(act(&d, &tasks, &running()), vec![Queue(2)]);
        // Everything else done: no Finish while t1 is held, not even a skip.
        tasks[2] = view(Succeeded);
        assert_eq!(act(&d, &tasks, &running()), Vec::<Action>::new());
        // A held retrying or waiting task is not started when due either.
        for state in [Retrying, Waiting] {
            tasks[1] = view(state);
            tasks[1].held = true;
            assert_eq!(act(&d, &tasks, &running()), Vec::<Action>::new(), "{state}");
        }
        // Released: it starts.
        tasks[1].held = false;
        assert_eq!(act(&d, &tasks, &running()), vec![Queue(1)]);
    }

    #[test]
    fn a_held_task_whose_upstream_failed_stays_unfinished() {
        let d = shells(2, &[(0, 1, Condition::Success)]);
        let mut tasks = views(&[Failed, Pending]);
        tasks[1].held = true;
        assert_eq!(act(&d, &tasks, &running()), Vec::<Action>::new());
        tasks[1].held = false;
        assert_eq!(
            run(&d, &[Failed, Pending]),
            vec![Skip(1), Finish(WorkflowState::Failed)]
        );
    }

    // ---- retries and failover ----

    #[test]
    fn retrying_waits_for_retry_at() {
        let d = shells(1, &[]);
        let mut tasks = views(&[Retrying]);
        tasks[0].retry_at = Some(now() + secs(30));
        assert_eq!(act(&d, &tasks, &running()), vec![WakeAt(now() + secs(30))]);
        tasks[0].retry_at = Some(now());
        assert_eq!(act(&d, &tasks, &running()), vec![Queue(0)]);
        tasks[0].retry_at = Some(now() - secs(1));
        assert_eq!(act(&d, &tasks, &running()), vec![Queue(0)]);
        tasks[0].retry_at = None;
        assert_eq!(act(&d, &tasks, &running()), vec![Queue(0)]);
    }

    #[test]
    fn need_failover_is_queued_again() {
        let d = shells(2, &[(0, 1, Success)]);
        assert_eq!(run(&d, &[NeedFailover, Pending]), vec![Queue(0)]);
        assert_eq!(run(&d, &[Succeeded, NeedFailover]), vec![Queue(1)]);
    }

    // ---- empty tasks ----

    #[test]
    fn empty_tasks_complete_on_the_master_and_successors_follow() {
        let d = dag(vec![empty("a"), shell("b")], &[(0, 1, Success)]);
        assert_eq!(
            run(&d, &[Pending, Pending]),
            vec![CompleteOnMaster(0), Queue(1)]
        );
    }

    #[test]
    fn a_dag_of_empty_tasks_finishes_in_one_call() {
        let d = dag(
            vec![empty("a"), empty("b"), empty("c"), empty("d")],
            &[
                (0, 1, Success),
                (0, 2, Success),
                (1, 3, Success),
                (2, 3, Always),
            ],
        );
        assert_eq!(
            run(&d, &[Pending; 4]),
            vec![
                CompleteOnMaster(0),
                CompleteOnMaster(1),
                CompleteOnMaster(2),
                CompleteOnMaster(3),
                Finish(WorkflowState::Succeeded),
            ]
        );
    }

    #[test]
    fn a_delayed_empty_task_waits_then_completes() {
        let d = Dag {
            tasks: vec![shell("a"), empty("b")],
            edges: vec![DagEdge {
                delay: Duration::from_secs(60),
                ..edge(0, 1, Success)
            }],
        };
        let mut tasks = views(&[Succeeded, Pending]);
        tasks[0].ended_at = Some(now());
        let until = now() + secs(60);
        assert_eq!(
            act(&d, &tasks, &running()),
            vec![Action::Wait { task: 1, until }, WakeAt(until)]
        );
        tasks[1].state = Waiting;
        tasks[1].wait_until = Some(until);
        assert_eq!(
            plan(&d, &tasks, &running(), until).actions,
            vec![CompleteOnMaster(1), Finish(WorkflowState::Succeeded)]
        );
    }

    #[test]
    fn actions_come_in_task_index_order() {
        // The DAG runs from high to low indexes: 2 -> 1 -> 0.
        let d = dag(
            vec![shell("c"), empty("b"), empty("a")],
            &[(2, 1, Success), (1, 0, Success)],
        );
        assert_eq!(
            run(&d, &[Pending; 3]),
            vec![Queue(0), CompleteOnMaster(1), CompleteOnMaster(2)]
        );
    }

    // ---- finishing ----

    #[test]
    fn an_empty_dag_succeeds() {
        assert_eq!(
            run(&Dag::default(), &[]),
            vec![Finish(WorkflowState::Succeeded)]
        );
    }

    #[test]
    fn killed_or_paused_tasks_fail_a_running_instance() {
        let d = shells(2, &[]);
        assert_eq!(
            run(&d, &[Succeeded, Killed]),
            vec![Finish(WorkflowState::Failed)]
        );
        assert_eq!(
            run(&d, &[TaskState::Paused, Succeeded]),
            vec![Finish(WorkflowState::Failed)]
        );
    }

    #[test]
    fn continue_lets_independent_branches_go_on_and_ends_failed() {
        // 0 -> 1 and 2 -> 3, independent.
        let d = shells(4, &[(0, 1, Success), (2, 3, Success)]);
        assert_eq!(run(&d, &[Failed, Pending, Running, Pending]), vec![Skip(1)]);
        assert_eq!(
            run(&d, &[Failed, Skipped, Succeeded, Pending]),
            vec![Queue(3)]
        );
        assert_eq!(run(&d, &[Failed, Skipped, Succeeded, Running]), vec![]);
        assert_eq!(
            run(&d, &[Failed, Skipped, Succeeded, Succeeded]),
            vec![Finish(WorkflowState::Failed)]
        );
    }

    // ---- failure strategy end ----

    #[test]
    fn end_kills_active_siblings_and_skips_the_rest() {
        let d = shells(7, &[(0, 6, Success)]);
        let mut tasks = views(&[
            Failed, Running, Queued, Dispatched, Waiting, Retrying, Pending,
        ]);
        tasks[2].kill_requested = true;
        assert_eq!(
            act(&d, &tasks, &running_end()),
            vec![Kill(1), Kill(3), Skip(4), Skip(5), Skip(6)]
        );
        // Applied: kills requested, nothing new; then the workers report.
        for t in &mut tasks {
            if t.state.is_active() {
                t.kill_requested = true;
            } else if !t.state.is_final() {
                t.state = Skipped;
            }
        }
        assert_eq!(act(&d, &tasks, &running_end()), vec![]);
        tasks[1].state = Killed;
        tasks[2].state = Killed;
        assert_eq!(act(&d, &tasks, &running_end()), vec![]);
        tasks[3].state = Succeeded;
        assert_eq!(
            act(&d, &tasks, &running_end()),
            vec![Finish(WorkflowState::Failed)]
        );
    }

    #[test]
    fn end_skips_a_need_failover_task_and_finishes_at_once_when_nothing_is_active() {
        let d = shells(3, &[]);
        assert_eq!(
            act(
                &d,
                &views(&[Failed, NeedFailover, Succeeded]),
                &running_end()
            ),
            vec![Skip(1), Finish(WorkflowState::Failed)]
        );
    }

    #[test]
    fn end_with_a_handled_failure_goes_on() {
        let d = shells(3, &[(0, 1, Failure)]);
        assert_eq!(
            act(&d, &views(&[Failed, Pending, Running]), &running_end()),
            vec![Queue(1)]
        );
        assert_eq!(
            act(&d, &views(&[Failed, Succeeded, Succeeded]), &running_end()),
            vec![Finish(WorkflowState::Succeeded)]
        );
    }

    #[test]
    fn end_does_not_trigger_on_a_killed_task() {
        // Only `failed` triggers the strategy; a killed task still fails the instance.
        let d = shells(3, &[(0, 1, Success)]);
        assert_eq!(
            act(&d, &views(&[Killed, Pending, Running]), &running_end()),
            vec![Skip(1)]
        );
    }

    // ---- pausing ----

    #[test]
    fn pausing_starts_nothing_and_pauses_when_nothing_is_active() {
        let pausing = instance(WorkflowState::Pausing, FailureStrategy::Continue);
        let d = dag(
            vec![shell("a"), shell("b"), shell("c"), empty("d")],
            &[(0, 1, Success)],
        );
        assert_eq!(
            act(
                &d,
                &views(&[Succeeded, Pending, Running, Pending]),
                &pausing
            ),
            vec![]
        );
        assert_eq!(
            act(
                &d,
                &views(&[Succeeded, Pending, Succeeded, Pending]),
                &pausing
            ),
            vec![Finish(WorkflowState::Paused)]
        );
    }

    #[test]
    fn pausing_still_skips_and_ignores_due_times() {
        let pausing = instance(WorkflowState::Pausing, FailureStrategy::Continue);
        let d = shells(4, &[(0, 1, Success)]);
        let mut tasks = views(&[Failed, Pending, Retrying, Waiting]);
        tasks[2].retry_at = Some(now() + secs(10));
        tasks[3].wait_until = Some(now() - secs(10));
        assert_eq!(
            act(&d, &tasks, &pausing),
            vec![Skip(1), Finish(WorkflowState::Paused)]
        );
        // Even with a delay pending, no Wait.
        let d = delayed(&[(0, 1, 100)], 2);
        assert_eq!(
            act(&d, &views(&[Succeeded, Pending]), &pausing),
            vec![Finish(WorkflowState::Paused)]
        );
        // Pausing with failure strategy end kills nothing.
        let pausing_end = instance(WorkflowState::Pausing, FailureStrategy::End);
        let d = shells(2, &[]);
        assert_eq!(act(&d, &views(&[Failed, Running]), &pausing_end), vec![]);
    }

    // ---- stopping ----

    #[test]
    fn stopping_kills_active_tasks_once_and_then_stops() {
        let stopping = instance(WorkflowState::Stopping, FailureStrategy::Continue);
        let d = shells(5, &[(0, 4, Success)]);
        let mut tasks = views(&[Succeeded, Running, Queued, Dispatched, Pending]);
        tasks[3].kill_requested = true;
        assert_eq!(act(&d, &tasks, &stopping), vec![Kill(1), Kill(2)]);
        tasks[1].kill_requested = true;
        tasks[2].kill_requested = true;
        assert_eq!(act(&d, &tasks, &stopping), vec![]);
        tasks[1].state = Killed;
        tasks[2].state = Killed;
        tasks[3].state = Killed;
        assert_eq!(
            act(&d, &tasks, &stopping),
            vec![Finish(WorkflowState::Stopped)]
        );
    }

    #[test]
    fn stopping_neither_starts_nor_wakes() {
        let stopping = instance(WorkflowState::Stopping, FailureStrategy::End);
        let d = shells(3, &[]);
        let mut tasks = views(&[Retrying, NeedFailover, Failed]);
        tasks[0].retry_at = Some(now() + secs(5));
        assert_eq!(
            act(&d, &tasks, &stopping),
            vec![Finish(WorkflowState::Stopped)]
        );
    }

    // ---- other instance states ----

    #[test]
    fn other_instance_states_give_an_empty_plan() {
        let d = shells(2, &[(0, 1, Success)]);
        for state in [
            WorkflowState::Submitted,
            WorkflowState::Waiting,
            WorkflowState::Paused,
            WorkflowState::Stopped,
            WorkflowState::Failed,
            WorkflowState::Succeeded,
        ] {
            for strategy in [FailureStrategy::Continue, FailureStrategy::End] {
                let inst = instance(state, strategy);
                for states in [[Pending, Pending], [Failed, Pending], [Running, Pending]] {
                    assert_eq!(act(&d, &views(&states), &inst), vec![], "{state}");
                }
            }
        }
    }

    // ---- robustness ----

    #[test]
    fn out_of_range_edges_are_ignored() {
        let d = shells(2, &[(0, 1, Success), (0, 9, Success), (9, 1, Failure)]);
        assert_eq!(run(&d, &[Succeeded, Pending]), vec![Queue(1)]);
    }

    #[test]
    fn tasks_on_a_cycle_are_never_started() {
        let d = shells(3, &[(0, 1, Success), (1, 0, Success)]);
        assert_eq!(run(&d, &[Pending; 3]), vec![Queue(2)]);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "index-aligned")]
    fn mismatched_task_views_are_a_bug() {
        let _ = run(&shells(2, &[]), &[Pending]);
    }

    #[test]
    fn a_huge_delay_saturates() {
        let mut d = delayed(&[(0, 1, 1)], 2);
        d.edges[0].delay = Duration::from_millis(u64::MAX);
        let until = DateTime::<Utc>::MAX_UTC;
        assert_eq!(
            run(&d, &[Succeeded, Pending]),
            vec![Action::Wait { task: 1, until }, WakeAt(until)]
        );
    }

    // ---- property tests: random DAGs through a simulated master and workers ----

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// A random DAG and the dice for one simulated run.
        #[derive(Debug, Clone)]
        struct Case {
            dag: Dag,
            strategy: FailureStrategy,
            /// Attempts after the first that the worker may still make, per task.
            retries: Vec<u32>,
            seed: u64,
        }

        fn condition(code: u8) -> Condition {
            match code % 4 {
                0 | 1 => Success,
                2 => Failure,
                _ => Always,
            }
        }

        fn arb_case() -> impl Strategy<Value = Case> {
            (1usize..30)
                .prop_flat_map(|n| {
                    (
                        prop::collection::vec(
                            (
                                prop::bool::weighted(0.8),
                                prop::bool::weighted(0.3),
                                0u32..3,
                            ),
                            n,
                        ),
                        prop::collection::vec(
                            (0..n, 0..n, any::<u8>(), prop::bool::weighted(0.15)),
                            0..=2 * n,
                        ),
                        any::<bool>(),
                        any::<u64>(),
                    )
                })
                .prop_map(|(task_flags, edges, end, seed)| {
                    let tasks = task_flags
                        .iter()
                        .enumerate()
                        .map(|(i, &(run, is_empty, _))| {
                            let task_type = if is_empty {
                                TaskType::Empty
                            } else {
                                TaskType::Shell
                            };
                            task(&format!("t{i}"), task_type, run)
                        })
                        .collect();
                    let edges = edges
                        .into_iter()
                        .filter(|&(a, b, _, _)| a != b)
                        .map(|(a, b, code, delayed)| DagEdge {
                            pre: a.min(b),
                            post: a.max(b),
                            condition: condition(code),
                            delay: Duration::from_secs(if delayed {
                                u64::from(code % 50)
                            } else {
                                0
                            }),
                        })
                        .collect();
                    Case {
                        dag: Dag { tasks, edges },
                        strategy: if end {
                            FailureStrategy::End
                        } else {
                            FailureStrategy::Continue
                        },
                        retries: task_flags.iter().map(|f| f.2).collect(),
                        seed,
                    }
                })
        }

        /// splitmix64: the simulator's dice, seeded by proptest.
        struct Dice(u64);

        impl Dice {
            fn next(&mut self) -> u64 {
                self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = self.0;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            }
            fn below(&mut self, n: u64) -> u64 {
                self.next() % n
            }
            fn pick<T: Copy>(&mut self, items: &[T]) -> T {
                items[self.below(items.len() as u64) as usize]
            }
        }

        /// The task an action is about, if any.
        fn subject(action: &Action) -> Option<usize> {
            match *action {
                Queue(i)
                | CompleteOnMaster(i)
                | Skip(i)
                | Kill(i)
                | Action::Decide(i)
                | Action::StartOnMaster(i) => Some(i),
                Action::Branch { task, .. } => Some(task),
                Action::Wait { task, .. } => Some(task),
                Finish(_) | WakeAt(_) => None,
            }
        }

        /// Shape rules that hold for every plan, whatever the input.
        fn check_shape(p: &Plan, n: usize) -> Result<(), TestCaseError> {
            let subjects: Vec<usize> = p.actions.iter().filter_map(subject).collect();
            prop_assert!(subjects.iter().all(|&i| i < n), "task out of range: {p:?}");
            prop_assert!(
                subjects.windows(2).all(|w| w[0] < w[1]),
                "one action per task, by index: {p:?}"
            );
            let tail: Vec<&Action> = p.actions.iter().filter(|a| subject(a).is_none()).collect();
            prop_assert!(tail.len() <= 1, "at most one Finish or WakeAt: {p:?}");
            if let Some(last) = tail.first() {
                prop_assert_eq!(p.actions.last(), Some(*last), "Finish/WakeAt comes last");
            }
            let waits: Vec<DateTime<Utc>> = p
                .actions
                .iter()
                .filter_map(|a| match a {
                    Action::Wait { until, .. } => Some(*until),
                    _ => None,
                })
                .collect();
            if let Some(first) = waits.iter().min() {
                let wake = p.actions.iter().find_map(|a| match a {
                    WakeAt(t) => Some(*t),
                    _ => None,
                });
                prop_assert!(
                    wake.is_some_and(|w| w <= *first),
                    "a Wait comes with a WakeAt: {p:?}"
                );
            }
            Ok(())
        }

        /// The test's own reading of "passed", written recursively (the planner uses one
        /// topological pass).
        fn passes(dag: &Dag, tasks: &[TaskView], i: usize) -> bool {
            let state = tasks[i].state;
            state.is_success()
                || (state == Skipped
                    && !dag.tasks[i].run
                    && edges_hold(dag, tasks, i) == Some(true))
        }

        /// `None`: not ready; else whether every incoming edge holds.
        fn edges_hold(dag: &Dag, tasks: &[TaskView], i: usize) -> Option<bool> {
            let incoming: Vec<&DagEdge> = dag.edges.iter().filter(|e| e.post == i).collect();
            if !incoming.iter().all(|e| tasks[e.pre].state.is_final()) {
                return None;
            }
            Some(incoming.iter().all(|e| match e.condition {
                Success => passes(dag, tasks, e.pre),
                Failure => tasks[e.pre].state == Failed,
                Always => true,
            }))
        }

        fn handles_failure(dag: &Dag) -> Vec<bool> {
            let mut handled = vec![false; dag.tasks.len()];
            for e in dag.edges.iter().filter(|e| e.condition == Failure) {
                handled[e.pre] = true;
            }
            handled
        }

        /// Runs one instance to its end through plan, a master that applies the actions
        /// and workers that finish tasks at random; checks the properties on the way.
        fn simulate(case: &Case) -> Result<(), TestCaseError> {
            let dag = &case.dag;
            let n = dag.tasks.len();
            let handled = handles_failure(dag);
            let mut dice = Dice(case.seed);
            let mut tasks: Vec<TaskView> = (0..n).map(|_| view(Pending)).collect();
            let mut retries = case.retries.clone();
            let mut failovers = vec![1u32; n];
            let mut inst = instance(WorkflowState::Running, case.strategy);
            let mut now = now();
            let (mut unhandled_failure, mut kill_happened) = (false, false);
            let bound = 40 * n + 100;

            for _ in 0..bound {
                let p = plan(dag, &tasks, &inst, now);
                // (e) idempotent: same input, same output.
                prop_assert_eq!(&p, &plan(dag, &tasks, &inst, now));
                check_shape(&p, n)?;

                let starts =
                    |a: &Action| matches!(a, Queue(_) | CompleteOnMaster(_) | Action::Wait { .. });
                if inst.state != WorkflowState::Running {
                    prop_assert!(
                        !p.actions.iter().any(starts),
                        "{} starts nothing: {p:?}",
                        inst.state
                    );
                }
                if inst.state == WorkflowState::Running
                    && case.strategy == FailureStrategy::End
                    && unhandled_failure
                {
                    // (c) after an unhandled failure under `end`: nothing new, every active
                    // task is killed (once).
                    prop_assert!(
                        !p.actions.iter().any(starts),
                        "end: nothing new after failure: {p:?}"
                    );
                    for (i, t) in tasks.iter().enumerate() {
                        if t.state.is_active() && !t.kill_requested {
                            prop_assert!(
                                p.actions.contains(&Kill(i)),
                                "end: {i} must be killed: {p:?}"
                            );
                        }
                    }
                }
                if inst.state == WorkflowState::Running
                    && case.strategy == FailureStrategy::Continue
                {
                    prop_assert!(
                        !p.actions.iter().any(|a| matches!(a, Kill(_))),
                        "continue never kills"
                    );
                }

                // Apply, like the master, in one go.
                let mut wake = None;
                let mut finished = None;
                let mut changed = false;
                for a in &p.actions {
                    match *a {
                        Queue(i) => {
                            prop_assert!(
                                !tasks[i].state.is_final() && !tasks[i].state.is_active(),
                                "queue {i} from {}",
                                tasks[i].state
                            );
                            tasks[i].state = Queued;
                            tasks[i].kill_requested = false;
                        }
                        CompleteOnMaster(i) => {
                            prop_assert_eq!(dag.tasks[i].task_type, TaskType::Empty);
                            tasks[i].state = Succeeded;
                            tasks[i].ended_at = Some(now);
                        }
                        Skip(i) => {
                            prop_assert!(
                                !tasks[i].state.is_final() && !tasks[i].state.is_active(),
                                "skip {i} from {}",
                                tasks[i].state
                            );
                            tasks[i].state = Skipped;
                            tasks[i].ended_at = Some(now);
                        }
                        Action::Wait { task, until } => {
                            prop_assert_eq!(tasks[task].state, Pending);
                            prop_assert!(until > now);
                            tasks[task].state = Waiting;
                            tasks[task].wait_until = Some(until);
                        }
                        Kill(i) => {
                            prop_assert!(
                                tasks[i].state.is_active() && !tasks[i].kill_requested,
                                "kill {i}"
                            );
                            tasks[i].kill_requested = true;
                        }
                        Finish(state) => finished = Some(state),
                        WakeAt(t) => {
                            prop_assert!(t > now, "wake in the past");
                            wake = Some(t);
                        }
                        Action::Branch { .. } | Action::Decide(_) | Action::StartOnMaster(_) => {
                            prop_assert!(false, "random DAGs have no master-side types but empty")
                        }
                    }
                    changed |= subject(a).is_some();
                }
                // (b) nothing starts before all its predecessors are final and its edges
                // hold; skips are justified; and (running) nothing ready is left behind.
                let evaluating =
                    matches!(inst.state, WorkflowState::Running | WorkflowState::Pausing)
                        && !(case.strategy == FailureStrategy::End && unhandled_failure);
                for a in &p.actions {
                    if let Queue(i) | CompleteOnMaster(i) | Action::Wait { task: i, .. } = *a {
                        prop_assert!(dag.tasks[i].run, "run: false task {i} started");
                        prop_assert_eq!(
                            edges_hold(dag, &tasks, i),
                            Some(true),
                            "{} started early",
                            i
                        );
                    }
                    if let (Skip(i), true) = (a, evaluating) {
                        let hold = edges_hold(dag, &tasks, *i);
                        prop_assert!(hold.is_some(), "{} skipped before it was ready", i);
                        prop_assert!(
                            hold == Some(false) || !dag.tasks[*i].run,
                            "{} skipped for no reason",
                            i
                        );
                    }
                }
                if evaluating {
                    for i in (0..n).filter(|&i| tasks[i].state == Pending) {
                        let hold = edges_hold(dag, &tasks, i);
                        let left = hold.is_some()
                            && (inst.state == WorkflowState::Running
                                || hold == Some(false)
                                || !dag.tasks[i].run);
                        prop_assert!(!left, "{} is ready but was left pending: {:?}", i, p);
                    }
                }

                if let Some(state) = finished {
                    prop_assert!(
                        !tasks.iter().any(|t| t.state.is_active()),
                        "finished with active tasks"
                    );
                    match inst.state {
                        WorkflowState::Running => {
                            prop_assert!(
                                tasks.iter().all(|t| t.state.is_final()),
                                "finished with open tasks: {tasks:?}"
                            );
                            // (d) succeeded iff no unhandled failure and no kill.
                            let clean = !unhandled_failure && !kill_happened;
                            prop_assert_eq!(
                                state,
                                if clean {
                                    WorkflowState::Succeeded
                                } else {
                                    WorkflowState::Failed
                                }
                            );
                        }
                        WorkflowState::Pausing => prop_assert_eq!(state, WorkflowState::Paused),
                        WorkflowState::Stopping => prop_assert_eq!(state, WorkflowState::Stopped),
                        other => prop_assert!(false, "finished from {other}"),
                    }
                    return Ok(());
                }

                // A control command, now and then.
                if inst.state == WorkflowState::Running && dice.below(60) == 0 {
                    inst.state = dice.pick(&[WorkflowState::Pausing, WorkflowState::Stopping]);
                    continue;
                }

                // A worker reports, or time passes.
                let active: Vec<usize> = (0..n).filter(|&i| tasks[i].state.is_active()).collect();
                if active.is_empty() {
                    match wake {
                        Some(t) => now = t,
                        None => prop_assert!(
                            changed,
                            "stuck: nothing active, nothing to wait for: {tasks:?} {p:?}"
                        ),
                    }
                    continue;
                }
                now += secs(dice.below(20) as i64);
                let i = dice.pick(&active);
                let t = &mut tasks[i];
                let outcome = match t.state {
                    Queued if t.kill_requested => Killed,
                    Queued => dice.pick(&[Dispatched, Running]),
                    Dispatched => Running,
                    _ if t.kill_requested && dice.below(4) != 0 => Killed,
                    _ => match dice.below(40) {
                        0 => Killed, // an operator killed the process
                        1..=20 => Succeeded,
                        21..=30 => Failed,
                        31..=37 if retries[i] > 0 => {
                            retries[i] -= 1;
                            Retrying
                        }
                        38..=39 if failovers[i] > 0 => {
                            failovers[i] -= 1;
                            NeedFailover
                        }
                        _ => Succeeded,
                    },
                };
                t.state = outcome;
                t.kill_requested &= outcome.is_active();
                if outcome.is_final() {
                    t.ended_at = Some(now);
                }
                if outcome == Retrying {
                    t.retry_at =
                        [None, Some(now + secs(dice.below(30) as i64))][dice.below(2) as usize];
                }
                unhandled_failure |= outcome == Failed && !handled[i];
                kill_happened |= outcome == Killed;
            }
            prop_assert!(false, "no Finish within {bound} steps: {tasks:?}");
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn every_random_dag_finishes_and_keeps_the_rules(case in arb_case()) {
                simulate(&case)?;
            }

            /// Whatever the states (even ones a real run cannot reach), a plan is
            /// deterministic, well-shaped and never starts a task early.
            #[test]
            fn plans_for_arbitrary_states_are_well_shaped(
                case in arb_case(),
                states in prop::collection::vec(prop::sample::select(TaskState::ALL), 30),
                kills in prop::collection::vec(any::<bool>(), 30),
                offsets in prop::collection::vec(-60i64..60, 30),
                control in prop::sample::select(WorkflowState::ALL),
            ) {
                let n = case.dag.tasks.len();
                let tasks: Vec<TaskView> = (0..n)
                    .map(|i| TaskView {
                        state: states[i],
                        ended_at: states[i].is_final().then(|| now() + secs(offsets[i])),
                        retry_at: (states[i] == Retrying).then(|| now() + secs(offsets[i])),
                        wait_until: (states[i] == Waiting).then(|| now() + secs(offsets[i])),
                        kill_requested: kills[i] && states[i].is_active(),
                        held: false,
                        taken: None,
                    })
                    .collect();
                let inst = instance(control, case.strategy);
                let p = plan(&case.dag, &tasks, &inst, now());
                prop_assert_eq!(&p, &plan(&case.dag, &tasks, &inst, now()));
                check_shape(&p, n)?;
                for a in &p.actions {
                    match *a {
                        Queue(i) | CompleteOnMaster(i) | Action::Wait { task: i, .. } => {
                            prop_assert_eq!(control, WorkflowState::Running);
                            prop_assert!(!tasks[i].state.is_final() && !tasks[i].state.is_active());
                        }
                        Skip(i) => prop_assert!(!tasks[i].state.is_final() && !tasks[i].state.is_active()),
                        Kill(i) => prop_assert!(tasks[i].state.is_active() && !tasks[i].kill_requested),
                        Finish(_) => prop_assert!(!tasks.iter().any(|t| t.state.is_active())),
                        WakeAt(t) => prop_assert!(t > now()),
                        Action::Branch { .. } | Action::Decide(_) | Action::StartOnMaster(_) => {
                            prop_assert!(false, "random DAGs have no master-side types but empty")
                        }
                    }
                }
                if !matches!(control, WorkflowState::Running | WorkflowState::Pausing | WorkflowState::Stopping) {
                    prop_assert!(p.actions.is_empty());
                }
            }
        }
    }

    #[test]
    fn a_wide_plan_queues_the_first_in_queue_order_and_asks_for_another_round() {
        let mut plan = Plan {
            actions: vec![Queue(0), Skip(1), Queue(2), Queue(3), Queue(4), Queue(5)],
        };
        // Task 4 ranks first; 5 is not counted (a mapped task's parent).
        let rank = |i: usize| match i {
            4 => Some(0),
            5 => None,
            _ => Some(2),
        };
        assert!(plan.queue_at_most(2, rank, now()));
        assert_eq!(
            plan.actions,
            vec![Queue(0), Skip(1), Queue(4), Queue(5), WakeAt(now())]
        );
        let mut small = Plan {
            actions: vec![Queue(0), Queue(1)],
        };
        assert!(!small.queue_at_most(2, |_| Some(2), now()));
        assert_eq!(small.actions, vec![Queue(0), Queue(1)]);
    }

    #[test]
    fn a_fan_out_is_queued_over_rounds_until_every_task_is() {
        let dag = shells(5, &[]);
        let mut views = views(&[Pending; 5]);
        let instance = running();
        let mut rounds = 0;
        loop {
            let mut p = plan(&dag, &views, &instance, now());
            let more = p.queue_at_most(2, |_| Some(2), now());
            for a in &p.actions {
                if let Queue(i) = *a {
                    views[i] = view(Queued);
                }
            }
            rounds += 1;
            if !more {
                break;
            }
        }
        assert_eq!(rounds, 3);
        assert!(views.iter().all(|v| v.state == Queued));
    }
}
