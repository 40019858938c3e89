//! Graph shape checks shared by YAML validation and the planner.

/// Returns one cycle as the list of node indexes along it (first node repeated at the end),
/// or `None` when the graph is acyclic. `edges` are `(from, to)` pairs over `0..n`.
pub fn find_cycle(n: usize, edges: &[(usize, usize)]) -> Option<Vec<usize>> {
    let mut succ = vec![Vec::new(); n];
    for &(a, b) in edges {
        succ[a].push(b);
    }
    // Iterative DFS with colors: 0 = new, 1 = on the stack, 2 = done.
    let mut color = vec![0u8; n];
    let mut parent = vec![usize::MAX; n];
    for root in 0..n {
        if color[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        color[root] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if *next < succ[node].len() {
                let child = succ[node][*next];
                *next += 1;
                match color[child] {
                    0 => {
                        color[child] = 1;
                        parent[child] = node;
                        stack.push((child, 0));
                    }
                    1 => {
                        // Walk back from `node` to `child` to recover the cycle.
                        let mut cycle = vec![node];
                        let mut at = node;
                        while at != child {
                            at = parent[at];
                            cycle.push(at);
                        }
                        cycle.reverse();
                        cycle.push(child);
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                color[node] = 2;
                stack.pop();
            }
        }
    }
    None
}

/// Each node's layer: 0 for a node without predecessors, else 1 + the highest layer of its
/// predecessors (the longest path from a root), as `pgdag plan` and the DAG drawings count
/// columns. `edges` are `(from, to)` pairs over `0..n`; edges out of range are ignored. On
/// a cycle (never stored: definitions are validated acyclic) the nodes the walk cannot
/// reach are put one layer after the deepest, so the answer stays total.
pub fn layers(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut succ = vec![Vec::new(); n];
    let mut preds = vec![0usize; n];
    for &(a, b) in edges {
        if a < n && b < n {
            succ[a].push(b);
            preds[b] += 1;
        }
    }
    let mut layer = vec![0usize; n];
    let mut done = vec![false; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| preds[i] == 0).collect();
    while let Some(node) = ready.pop() {
        done[node] = true;
        for &next in &succ[node] {
            layer[next] = layer[next].max(layer[node] + 1);
            preds[next] -= 1;
            if preds[next] == 0 {
                ready.push(next);
            }
        }
    }
    let deepest = (0..n).filter(|&i| done[i]).map(|i| layer[i]).max();
    for i in 0..n {
        if !done[i] {
            layer[i] = deepest.map_or(0, |d| d + 1);
        }
    }
    layer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_count_the_longest_path_from_a_root() {
        assert_eq!(layers(0, &[]), Vec::<usize>::new());
        // a -> b -> c, a -> c, d alone: c waits for b, so it is in layer 2.
        assert_eq!(layers(4, &[(0, 1), (1, 2), (0, 2)]), vec![0, 1, 2, 0]);
        // Listed in any order, and edges out of range ignored.
        assert_eq!(layers(3, &[(2, 1), (1, 0), (7, 0)]), vec![2, 1, 0]);
        // A cycle never loops: its nodes go after the deepest layer.
        assert_eq!(layers(3, &[(0, 1), (1, 2), (2, 1)]), vec![0, 1, 1]);
    }

    #[test]
    fn acyclic_graphs_have_no_cycle() {
        assert_eq!(find_cycle(0, &[]), None);
        assert_eq!(find_cycle(3, &[(0, 1), (1, 2), (0, 2)]), None);
    }

    #[test]
    fn a_cycle_is_named_in_order() {
        assert_eq!(
            find_cycle(3, &[(0, 1), (1, 2), (2, 0)]),
            Some(vec![0, 1, 2, 0])
        );
        assert_eq!(find_cycle(2, &[(1, 1)]), Some(vec![1, 1]));
        let cycle = find_cycle(4, &[(0, 1), (1, 2), (2, 3), (3, 1)]).unwrap();
        assert_eq!(cycle, vec![1, 2, 3, 1]);
    }
}
