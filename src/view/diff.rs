//! Line diff for comparing two versions of a workflow's YAML in the web UI: [`line_diff`]
//! gives every line as same, added or removed, and [`hunks`] groups the changes with a few
//! lines of context, like `diff -u`. Pure, no I/O.
//!
//! The edit script comes from the `similar` crate's Myers diff, in its raw form
//! (`myers::diff_deadline_raw` without a deadline): the default entry points take
//! git-style shortcuts on hard inputs that may give up minimality, and a minimal script
//! (as many unchanged lines as a longest common subsequence) is what this module promised
//! and what its tests check. Time grows with the size of the change, not the square of the
//! file (O((N+M)D)), and memory is linear. Only similar's matched lines are used: the
//! changes between two matched lines are laid out here, removals before additions, so the
//! page reads like a unified diff whatever order similar reports them in.
//!
//! Lines are split like [`str::lines`]: a final newline (or its absence) and `\r\n`
//! endings are not differences.

use std::ops::Range;

use similar::DiffOp;
use similar::algorithms::{Capture, myers};

/// What happened to one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKind {
    Same,
    Added,
    Removed,
}

/// One line of the diff, with its 1-based line number on each side it appears on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub kind: DiffKind,
    pub old_no: Option<usize>,
    pub new_no: Option<usize>,
    pub text: String,
}

/// A run of changes with its context: a contiguous slice of the diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hunk<'a> {
    /// First old line of the hunk (1-based); with `old_len == 0`, the line it follows
    /// (0 at the top), as in a unified diff header.
    pub old_start: usize,
    pub old_len: usize,
    pub new_start: usize,
    pub new_len: usize,
    pub lines: &'a [DiffLine],
}

impl Hunk<'_> {
    /// The unified diff header, `@@ -old_start,old_len +new_start,new_len @@`.
    pub fn header(&self) -> String {
        format!(
            "@@ -{},{} +{},{} @@",
            self.old_start, self.old_len, self.new_start, self.new_len
        )
    }
}

/// Every line of `old` and `new` in order: common lines once as `Same`, the rest as
/// `Removed` (from `old`) or `Added` (to `new`), a minimal edit script. Within one run of
/// changes, removals come before additions, as in a unified diff.
pub fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut capture = Capture::new();
    // Capture's error type is `Infallible` and there is no deadline: this cannot fail.
    let Ok(()) = myers::diff_deadline_raw(&mut capture, &a, 0..a.len(), &b, 0..b.len(), None);
    let same = capture
        .ops()
        .iter()
        .filter_map(|op| match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => Some((old_index, new_index, len)),
            _ => None,
        })
        .flat_map(|(x, y, len)| (0..len).map(move |i| (x + i, y + i)));

    // Between two common lines, everything else on each side changed: removals first,
    // then additions, as in a unified diff.
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut x0, mut y0) = (0, 0);
    for (x, y) in same.chain([(a.len(), b.len())]) {
        out.extend((x0..x).map(|i| DiffLine {
            kind: DiffKind::Removed,
            old_no: Some(i + 1),
            new_no: None,
            text: a[i].to_string(),
        }));
        out.extend((y0..y).map(|j| DiffLine {
            kind: DiffKind::Added,
            old_no: None,
            new_no: Some(j + 1),
            text: b[j].to_string(),
        }));
        if x < a.len() && y < b.len() {
            out.push(DiffLine {
                kind: DiffKind::Same,
                old_no: Some(x + 1),
                new_no: Some(y + 1),
                text: a[x].to_string(),
            });
        }
        (x0, y0) = (x + 1, y + 1);
    }
    out
}

/// Group `lines` (from [`line_diff`]) into hunks: each change with up to `context`
/// unchanged lines on either side; changes closer than `2 * context` lines share a hunk.
/// No changes, no hunks.
pub fn hunks(lines: &[DiffLine], context: usize) -> Vec<Hunk<'_>> {
    let changed: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].kind != DiffKind::Same)
        .collect();
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for &i in &changed {
        let start = i.saturating_sub(context);
        let end = (i + 1 + context).min(lines.len());
        match ranges.last_mut() {
            Some(last) if start <= last.end => last.end = end,
            _ => ranges.push(start..end),
        }
    }
    ranges
        .into_iter()
        .map(|r| {
            let slice = &lines[r.clone()];
            let old_len = slice.iter().filter(|l| l.old_no.is_some()).count();
            let new_len = slice.iter().filter(|l| l.new_no.is_some()).count();
            // Lines before the hunk on each side, from the numbers of the lines before it.
            let before = &lines[..r.start];
            let old_before = before.iter().rev().find_map(|l| l.old_no).unwrap_or(0);
            let new_before = before.iter().rev().find_map(|l| l.new_no).unwrap_or(0);
            let start = |before: usize, len: usize| if len == 0 { before } else { before + 1 };
            Hunk {
                old_start: start(old_before, old_len),
                old_len,
                new_start: start(new_before, new_len),
                new_len,
                lines: slice,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use DiffKind::{Added, Removed, Same};

    /// The old and new sides rebuilt from a diff.
    fn sides(d: &[DiffLine]) -> (Vec<&str>, Vec<&str>) {
        let old = d
            .iter()
            .filter(|l| l.kind != Added)
            .map(|l| l.text.as_str());
        let new = d
            .iter()
            .filter(|l| l.kind != Removed)
            .map(|l| l.text.as_str());
        (old.collect(), new.collect())
    }

    fn check(old: &str, new: &str) -> Vec<DiffLine> {
        let d = line_diff(old, new);
        let (o, n) = sides(&d);
        assert_eq!(o, old.lines().collect::<Vec<_>>());
        assert_eq!(n, new.lines().collect::<Vec<_>>());
        // Line numbers count up by one on each side.
        let olds: Vec<usize> = d.iter().filter_map(|l| l.old_no).collect();
        let news: Vec<usize> = d.iter().filter_map(|l| l.new_no).collect();
        assert_eq!(olds, (1..=o.len()).collect::<Vec<_>>());
        assert_eq!(news, (1..=n.len()).collect::<Vec<_>>());
        d
    }

    fn kinds(d: &[DiffLine]) -> String {
        d.iter()
            .map(|l| match l.kind {
                Same => '=',
                Added => '+',
                Removed => '-',
            })
            .collect()
    }

    /// Length of a longest common subsequence, by the textbook quadratic table.
    fn lcs(a: &[&str], b: &[&str]) -> usize {
        let mut row = vec![0usize; b.len() + 1];
        for x in a {
            let mut diag = 0;
            for (j, y) in b.iter().enumerate() {
                let up = row[j + 1];
                row[j + 1] = if x == y { diag + 1 } else { up.max(row[j]) };
                diag = up;
            }
        }
        row[b.len()]
    }

    #[test]
    fn identical_inputs_are_all_same() {
        let text = "a: 1\nb: 2\nc: 3\n";
        let d = check(text, text);
        assert_eq!(kinds(&d), "===");
        assert!(hunks(&d, 3).is_empty());
    }

    #[test]
    fn empty_sides() {
        assert!(check("", "").is_empty());
        let d = check("", "x\ny\n");
        assert_eq!(kinds(&d), "++");
        assert_eq!((d[0].old_no, d[0].new_no), (None, Some(1)));
        let d = check("x\ny", "");
        assert_eq!(kinds(&d), "--");
        assert_eq!((d[1].old_no, d[1].new_no), (Some(2), None));
    }

    #[test]
    fn a_changed_line_is_removed_then_added() {
        let d = check("a\nb\nc\n", "a\nB\nc\n");
        assert_eq!(kinds(&d), "=-+=");
        assert_eq!(d[1].text, "b");
        assert_eq!(d[2].text, "B");
        assert_eq!((d[3].old_no, d[3].new_no), (Some(3), Some(3)));
    }

    #[test]
    fn insertions_and_deletions_keep_the_rest() {
        let d = check("a\nb\nc\nd\n", "a\nc\nd\ne\n");
        assert_eq!(kinds(&d), "=-==+");
        let d = check("x\na\nb\n", "a\nb\n");
        assert_eq!(kinds(&d), "-==");
    }

    #[test]
    fn newline_conventions_are_not_differences() {
        assert_eq!(kinds(&check("a\r\nb\r\n", "a\nb")), "==");
    }

    #[test]
    fn the_classic_example_is_minimal() {
        // Myers' paper: ABCABBA -> CBABAC has 5 edits (LCS 4).
        let a = "A\nB\nC\nA\nB\nB\nA";
        let b = "C\nB\nA\nB\nA\nC";
        let d = check(a, b);
        assert_eq!(d.iter().filter(|l| l.kind == Same).count(), 4);
    }

    #[test]
    fn hunks_carry_context_and_merge_when_close() {
        let old: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let new = old
            .replace("line 5\n", "line five\n")
            .replace("line 8\n", "")
            .replace("line 25\n", "line 25\nline 25b\n");
        let d = check(&old, &new);
        let h = hunks(&d, 3);
        assert_eq!(h.len(), 2, "{h:#?}");
        // 5 and 8 are close: one hunk from line 2 to line 11.
        assert_eq!(h[0].header(), "@@ -2,10 +2,9 @@");
        assert_eq!(h[0].lines.first().map(|l| l.text.as_str()), Some("line 2"));
        assert_eq!(h[0].lines.last().map(|l| l.text.as_str()), Some("line 11"));
        assert_eq!(h[1].header(), "@@ -23,6 +22,7 @@");
        assert_eq!(h[1].lines.iter().filter(|l| l.kind == Added).count(), 1);
        // Context 0: only the changes.
        let h0 = hunks(&d, 0);
        assert_eq!(h0.len(), 3);
        assert_eq!(h0[1].header(), "@@ -8,1 +7,0 @@");
        assert_eq!(h0[2].header(), "@@ -25,0 +25,1 @@");
        // A huge context: one hunk with everything.
        let all = hunks(&d, 100);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].lines.len(), d.len());
        assert_eq!(all[0].header(), "@@ -1,30 +1,30 @@");
    }

    #[test]
    fn hunks_at_the_edges() {
        let d = check("", "a\n");
        assert_eq!(hunks(&d, 3)[0].header(), "@@ -0,0 +1,1 @@");
        let d = check("a\nb\n", "b\n");
        assert_eq!(hunks(&d, 0)[0].header(), "@@ -1,1 +0,0 @@");
    }

    #[test]
    fn a_big_yaml_with_few_changes_diffs_fast() {
        let old: String = (0..5000)
            .map(|i| format!("  - name: task_{i}\n    command: echo {i}\n"))
            .collect();
        let new = old
            .replace("echo 17\n", "echo seventeen\n")
            .replace("  - name: task_2500\n", "")
            .replace("echo 4999\n", "echo 4999\n    retries: 3\n");
        let started = std::time::Instant::now();
        let d = check(&old, &new);
        let took = started.elapsed();
        assert_eq!(d.iter().filter(|l| l.kind != Same).count(), 4);
        eprintln!("10,000 lines, 4 changes: {took:?} (debug build)");
        // Two unrelated files: the worst case still finishes, in linear memory.
        let other: String = (0..3000).map(|i| format!("other {i}\n")).collect();
        let d = check(&old[..old.len() / 4], &other);
        assert_eq!(d.iter().filter(|l| l.kind == Same).count(), 0);
        // Many repeated lines, little in common in order: a long search that must still
        // rebuild both sides.
        let a: String = (0..1500).map(|i| format!("k{}\n", i % 7)).collect();
        let b: String = (0..1500).map(|i| format!("k{}\n", (i * 3) % 5)).collect();
        let d = check(&a, &b);
        assert!(d.iter().any(|l| l.kind == Same) && d.iter().any(|l| l.kind == Added));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_diff_rebuilds_both_sides_minimally(
            a in proptest::collection::vec(0u8..5, 0..40),
            b in proptest::collection::vec(0u8..5, 0..40),
            shift in 0u8..4,
        ) {
            // Few distinct lines make many matches, the hard case for a diff; the shift
            // gives each side lines the other lacks.
            let text = |v: &[u8], by: u8| v.iter().map(|c| format!("l{}\n", c + by)).collect::<String>();
            let (old, new) = (text(&a, 0), text(&b, shift));
            let d = check(&old, &new);
            let (ol, nl): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
            let same = d.iter().filter(|l| l.kind == Same).count();
            prop_assert_eq!(same, lcs(&ol, &nl), "minimal: as many common lines as an LCS");
            for l in &d {
                if l.kind == Same {
                    prop_assert_eq!(l.old_no.map(|n| ol[n - 1]), Some(l.text.as_str()));
                    prop_assert_eq!(l.new_no.map(|n| nl[n - 1]), Some(l.text.as_str()));
                }
            }
            for context in [0usize, 1, 3] {
                let hs = hunks(&d, context);
                let changed = d.iter().filter(|l| l.kind != Same).count();
                let in_hunks: usize = hs
                    .iter()
                    .map(|h| h.lines.iter().filter(|l| l.kind != Same).count())
                    .sum();
                prop_assert_eq!(in_hunks, changed, "every change is in a hunk");
                for h in &hs {
                    prop_assert_eq!(h.old_len, h.lines.iter().filter(|l| l.kind != Added).count());
                    prop_assert_eq!(h.new_len, h.lines.iter().filter(|l| l.kind != Removed).count());
                    if let Some(first) = h.lines.iter().find_map(|l| l.old_no) {
                        prop_assert_eq!(h.old_start, first);
                    }
                }
            }
        }

        #[test]
        fn any_text_diffs_without_panic(old in "[ab\r\n]{0,80}", new in "[ab\r\n]{0,80}") {
            let d = line_diff(&old, &new);
            let (o, n) = sides(&d);
            prop_assert_eq!(o, old.lines().collect::<Vec<_>>());
            prop_assert_eq!(n, new.lines().collect::<Vec<_>>());
        }
    }
}
