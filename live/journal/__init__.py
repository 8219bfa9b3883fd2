"""Journals: the recorded event stream as JSON lines (optionally gzipped), at once the replay
input and the audit trail, one module per concept:

- `field`: one field of a journal line → a checked value; `JournalError`, naming source, line
  and field.
- `codec`: a journal line ↔ an event (validate, build, write back); no file access.
- `reader`: journal files (plain or gzipped) → events, several files merged by ts.
- `replay`: the replay driver, feeding a journal through the kernel with a simulated executor.

May import: the kernel, the standard library, orjson, and (replay only) the strategy registry.
"""
