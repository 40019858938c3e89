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

#[cfg(test)]
mod tests {
    use super::*;

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
