"""The runner's side of the promotion gate (DESIGN §9): whether a strategy holds a valid
promotion bound to its pre-registration's hash, revoking and disabling (`status`), and the
pre-registered kill criteria evaluated after every settlement (`kill_criteria`). The gate that
writes promotions is research/gate.py.

May import: the kernel, `live.store`, psycopg, PyYAML and the standard library.
"""
