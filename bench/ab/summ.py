#!/usr/bin/env python3
"""summ.py FILE: per label of exp.sh's output, the median, first quartile and least wall,
and the median Postgres and standalone CPU (ms) per instance."""
import collections
import sys

runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 5 and f[0] != "TOTAL":
        runs[f[0]].append((float(f[1]), int(f[3]), int(f[4])))
for label, v in runs.items():
    w, pg, sa = (sorted(x[i] for x in v) for i in range(3))
    print(f"{label:10s} wall med {w[len(w) // 2]:.3f} q1 {w[len(w) // 4]:.3f} min {w[0]:.3f}"
          f"  pg med {pg[len(pg) // 2]} sa med {sa[len(sa) // 2]} n {len(v)}")
