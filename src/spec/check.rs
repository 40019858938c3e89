//! Checks across the tasks of one workflow: unique names, `depends_on` and branch targets
//! that exist, branch targets that depend on their branching task, no self-references, no
//! repeated `depends_on` entries, no cycle.

use std::collections::HashMap;

use super::draft::{Ctx, Draft};
use crate::dag::find_cycle;

pub(crate) fn relations(ctx: &mut Ctx, drafts: &[Draft]) {
    // First occurrence of each name. A task with other errors still counts as existing, so
    // that one mistake does not cascade into "unknown task" errors elsewhere.
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, draft) in drafts.iter().enumerate() {
        let Some((name, pos)) = &draft.name else {
            continue;
        };
        if let Some(&first) = index.get(name.as_str()) {
            let first_line = drafts[first].name.as_ref().map_or(0, |(_, p)| p.line);
            ctx.err(
                *pos,
                format!("duplicate task name `{name}` (first defined at line {first_line})"),
            );
        } else {
            index.insert(name, i);
        }
    }

    let mut edges = Vec::new();
    for (i, draft) in drafts.iter().enumerate() {
        let own = draft.name.as_ref().map(|(n, _)| n.as_str());
        let mut seen: Vec<&str> = Vec::new();
        for (dep, pos) in &draft.deps {
            if Some(dep.as_str()) == own {
                ctx.err(*pos, format!("task `{dep}` depends on itself"));
                continue;
            }
            if seen.contains(&dep.as_str()) {
                ctx.err(*pos, format!("duplicate depends_on entry `{dep}`"));
                continue;
            }
            seen.push(dep);
            match index.get(dep.as_str()) {
                Some(&from) => {
                    // Only the first task of a repeated name takes part in the graph.
                    if index.get(own.unwrap_or_default()) == Some(&i) {
                        edges.push((from, i));
                    }
                }
                None => ctx.err(*pos, format!("depends_on names unknown task `{dep}`")),
            }
        }
        let mut reported: Vec<&str> = Vec::new();
        for (target, pos, ty) in &draft.branches {
            if Some(target.as_str()) == own {
                ctx.err(
                    *pos,
                    format!("{ty} task `{target}` cannot branch to itself"),
                );
                continue;
            }
            let Some(&t) = index.get(target.as_str()) else {
                ctx.err(*pos, format!("{ty} branch names unknown task `{target}`"));
                continue;
            };
            // A branch only decides between successors: the target must wait for the
            // branching task, or it could run before the choice is made.
            if let Some(own) = own
                && !drafts[t].deps.iter().any(|(dep, _)| dep == own)
                && !reported.contains(&target.as_str())
            {
                reported.push(target);
                ctx.err(
                    *pos,
                    format!(
                        "{ty} branch `{target}` must depend on `{own}` (add `{own}` to its depends_on)"
                    ),
                );
            }
        }
    }

    if let Some(cycle) = find_cycle(drafts.len(), &edges) {
        // Start the cycle at the task written first, so the report does not depend on the
        // search order.
        let mut ring: Vec<usize> = cycle[..cycle.len().saturating_sub(1)].to_vec();
        if let Some(start) = ring
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| **t)
            .map(|(i, _)| i)
        {
            ring.rotate_left(start);
        }
        if let Some(&first) = ring.first() {
            let names: Vec<&str> = ring
                .iter()
                .chain(std::iter::once(&first))
                .map(|&t| drafts[t].name.as_ref().map_or("?", |(n, _)| n.as_str()))
                .collect();
            let pos = drafts[first]
                .name
                .as_ref()
                .map_or(drafts[first].pos, |(_, p)| *p);
            ctx.err(pos, format!("cycle: {}", names.join(" -> ")));
        }
    }
}
