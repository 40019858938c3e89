#!/usr/bin/env python3
"""logagg.py [LOG [N]]: the N (default 30) statements on database abdb of a server log
(logrun.sh's) that took the most time, by message (parse, bind, execute, simple statement)
and first words: total ms, count. Durations are wall time on the server, waits for the CPU
included. Lines of other databases (tests running meanwhile) are left out; the server's
`log_line_prefix` must name the database (`%d`, as Debian's default does)."""
import collections
import re
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/ab_stmt.log"
top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
pat = re.compile(r"LOG:  duration: ([\d.]+) ms  (parse|bind|execute|statement)[^:]*: ?(.*)")
entries = []
ours = False
for line in open(path, errors="replace"):
    m = pat.search(line)
    if m:
        ours = "@abdb " in line
        if ours:
            entries.append([m.group(2), float(m.group(1)), m.group(3)])
    elif ours and line.startswith("\t") and len(entries[-1][2]) < 60:
        entries[-1][2] += " " + line.strip()
agg = collections.defaultdict(lambda: [0, 0.0])
for op, ms, text in entries:
    key = (op, re.sub(r"\s+", " ", text)[:90])
    agg[key][0] += 1
    agg[key][1] += ms
print(f"total {sum(v[1] for v in agg.values()):.1f} ms over {len(entries)} messages")
for (op, text), (n, ms) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:top]:
    print(f"{ms:8.1f} ms {n:6d}  {op:9s} {text}")
