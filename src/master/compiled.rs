//! Workflow versions compiled for evaluation (DAG, index by task code, ancestors), cached
//! by `(code, version)`. Versions are immutable once written, so the cache never goes stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::store::db::Conn;

use crate::dag::{Branch, Dag, DagEdge, DagTask};
use crate::params::expr::Expr;
use crate::spec::TaskKind;
use crate::store::Result;
use crate::store::definitions::{self, WorkflowVersion};

#[derive(Debug)]
pub struct Compiled {
    pub version: WorkflowVersion,
    pub dag: Dag,
    pub index_by_code: HashMap<i64, usize>,
    /// For each task, its transitive predecessors in topological order (out params flow
    /// from these).
    pub ancestors: Vec<Vec<usize>>,
    /// Whether each task has at least one successor.
    pub has_successors: Vec<bool>,
    pub timezone: chrono_tz::Tz,
    /// For each `switch` task: its cases (parsed expression, target) and default target.
    pub switches: HashMap<usize, Switch>,
}

#[derive(Debug)]
pub struct Switch {
    pub cases: Vec<(Expr, String, usize)>,
    pub default: Option<usize>,
}

impl Compiled {
    pub fn new(version: WorkflowVersion) -> Compiled {
        let spec = &version.spec;
        let index: HashMap<&str, usize> = spec
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        let at = |names: &[String]| -> Vec<usize> {
            names
                .iter()
                .filter_map(|n| index.get(n.as_str()).copied())
                .collect()
        };
        let mut switches = HashMap::new();
        let tasks = spec
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| DagTask {
                name: t.name.clone(),
                task_type: t.task_type(),
                run: t.run,
                branch: match &t.kind {
                    TaskKind::Conditions(c) => Branch::Conditions {
                        success: at(&c.success),
                        failure: at(&c.failure),
                    },
                    TaskKind::Switch(sw) => {
                        // Expressions were checked by `apply`; one that no longer parses
                        // is left out (no case matches it).
                        let cases = sw
                            .cases
                            .iter()
                            .filter_map(|c| {
                                let target = *index.get(c.then.as_str())?;
                                let expr = crate::params::expr::parse(&c.when).ok()?;
                                Some((expr, c.when.clone(), target))
                            })
                            .collect();
                        let default = sw
                            .default
                            .as_ref()
                            .and_then(|d| index.get(d.as_str()).copied());
                        let mut targets: Vec<usize> = sw
                            .cases
                            .iter()
                            .filter_map(|c| index.get(c.then.as_str()).copied())
                            .chain(default)
                            .collect();
                        targets.sort_unstable();
                        targets.dedup();
                        switches.insert(i, Switch { cases, default });
                        Branch::Switch { targets }
                    }
                    _ => Branch::None,
                },
            })
            .collect();
        let mut edges = Vec::new();
        for (post, task) in spec.tasks.iter().enumerate() {
            for dep in &task.depends_on {
                if let Some(&pre) = index.get(dep.task.as_str()) {
                    edges.push(DagEdge {
                        pre,
                        post,
                        condition: dep.on,
                        delay: dep.delay.unwrap_or_default(),
                    });
                }
            }
        }
        let ancestors = ancestors(spec.tasks.len(), &edges);
        let mut has_successors = vec![false; spec.tasks.len()];
        for e in &edges {
            has_successors[e.pre] = true;
        }
        let index_by_code = version
            .task_codes
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i))
            .collect();
        let timezone = spec
            .schedule
            .as_ref()
            .and_then(|s| s.timezone.parse().ok())
            .unwrap_or(chrono_tz::UTC);
        Compiled {
            dag: Dag { tasks, edges },
            index_by_code,
            ancestors,
            has_successors,
            timezone,
            switches,
            version,
        }
    }
}

impl Compiled {
    /// The DAG of a run that starts from `nodes`: those tasks and everything downstream
    /// run; every other task is passed over like a `run: false` task.
    pub fn starting_from(&self, nodes: &[String]) -> Dag {
        let roots: Vec<usize> = self
            .dag
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| nodes.contains(&t.name))
            .map(|(i, _)| i)
            .collect();
        let selected = self.dag.downstream(&roots);
        let mut dag = self.dag.clone();
        for (task, keep) in dag.tasks.iter_mut().zip(selected) {
            if !keep {
                task.run = false;
            }
        }
        dag
    }
}

/// Transitive predecessors of every node, each list ordered so that a node comes after its
/// own predecessors (later entries override earlier ones when out params are merged).
fn ancestors(n: usize, edges: &[DagEdge]) -> Vec<Vec<usize>> {
    // Topological order (Kahn); the graph is acyclic by validation.
    let mut indegree = vec![0usize; n];
    let mut succ = vec![Vec::new(); n];
    for e in edges {
        indegree[e.post] += 1;
        succ[e.pre].push(e.post);
    }
    let mut order = Vec::with_capacity(n);
    let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    while let Some(i) = ready.pop() {
        order.push(i);
        for &s in &succ[i] {
            indegree[s] -= 1;
            if indegree[s] == 0 {
                ready.push(s);
            }
        }
    }
    let mut position = vec![0usize; n];
    for (p, &i) in order.iter().enumerate() {
        position[i] = p;
    }
    let mut result: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &i in &order {
        let mut set: Vec<usize> = Vec::new();
        for e in edges.iter().filter(|e| e.post == i) {
            set.push(e.pre);
            set.extend(result[e.pre].iter().copied());
        }
        set.sort_by_key(|&a| position[a]);
        set.dedup();
        result[i] = set;
    }
    result
}

/// A workflow version: (code, version).
type VersionKey = (i64, i32);

#[derive(Clone)]
pub struct Cache {
    inner: Arc<Mutex<HashMap<VersionKey, Arc<Compiled>>>>,
    /// The longest list a mapped task may expand (`PGDAG_MAX_MAP_ITEMS`): a master-wide
    /// setting every evaluation needs, carried with the one thing they all share.
    pub max_map_items: usize,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::new(crate::config::DEFAULT_MAX_MAP_ITEMS)
    }
}

impl Cache {
    pub fn new(max_map_items: usize) -> Cache {
        Cache {
            inner: Default::default(),
            max_map_items,
        }
    }

    pub async fn get(&self, client: &impl Conn, code: i64, version: i32) -> Result<Arc<Compiled>> {
        if let Some(found) = self.inner.lock().expect("cache lock").get(&(code, version)) {
            return Ok(found.clone());
        }
        let loaded = Arc::new(Compiled::new(
            definitions::load_version(client, code, version).await?,
        ));
        let mut map = self.inner.lock().expect("cache lock");
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert((code, version), loaded.clone());
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Condition, Duration};

    fn edge(pre: usize, post: usize) -> DagEdge {
        DagEdge {
            pre,
            post,
            condition: Condition::Success,
            delay: Duration::ZERO,
        }
    }

    #[test]
    fn ancestors_are_transitive_and_topologically_ordered() {
        // 0 -> 1 -> 3, 0 -> 2 -> 3, 4 alone
        let result = ancestors(5, &[edge(0, 1), edge(1, 3), edge(0, 2), edge(2, 3)]);
        assert_eq!(result[0], Vec::<usize>::new());
        assert_eq!(result[1], vec![0]);
        assert_eq!(result[3].len(), 3);
        assert_eq!(result[3][0], 0);
        assert!(result[4].is_empty());
    }
}
