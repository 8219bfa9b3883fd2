"""Journals: the recorded event stream as JSON lines (optionally gzipped), at once the replay
input and the audit trail (`codec`: read, validate, write), and the replay driver that feeds a
journal through the kernel with a simulated executor (`replay`).

May import: the kernel, the standard library, orjson, and (replay only) the strategy registry.
"""
