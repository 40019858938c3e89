#!/usr/bin/env python3
"""Writes the A/B scripts' workflows to stdout: project `ab` with a datasource `self` (the
database abdb itself), `sqlfan` (2,000 `sql` `select 1`), `shellfan` (1,000 shell `true`)
and `chain` (20 shell `true`, each after the one before)."""
out = ["kind: datasource\nproject: ab\nname: self\ntype: postgres\n"
       "url: postgres://postgres@127.0.0.1:5432/abdb\nallow_scheduler_database: true\n"]
out.append("---\nproject: ab\nname: sqlfan\ntasks:\n" + "".join(
    f"  - {{ name: q{i}, type: sql, datasource: self, sql: select 1 }}\n" for i in range(2000)))
out.append("---\nproject: ab\nname: shellfan\ntasks:\n" + "".join(
    f"  - {{ name: t{i}, type: shell, script: 'true' }}\n" for i in range(1000)))
out.append("---\nproject: ab\nname: chain\ntasks:\n" + "".join(
    f"  - {{ name: t{i}, type: shell, script: 'true'"
    + (f", depends_on: [t{i - 1}]" if i else "") + " }\n" for i in range(20)))
print("".join(out), end="")
