"""The deterministic kernel (DESIGN §1.5, §4–5): one code path for LIVE, PAPER, DRY_RUN and
BACKTEST. It consumes timestamped events and returns commands and records; time is the events'
`ts`.

What lives here: the domain types and hard limits (`domain`, `limits`), the event, command and
record types (`events`, `commands`, `records`), market state (`book`, `state`, `settlement`), the
strategy interface (`strategy`), the risk envelope (`risk`), the state machines and their books
(`fsm`, `order_book`, `positions`, `trading_state`), exit decisions (`exits`), the engine and its
desks (`engine`, `entry_desk`, `exit_desk`), the simulated executors (`executors`), the runtime
controls' values (`controls`) and the ten runtime assertions (`assertions`).

What it may import: the standard library (no IO: no files, sockets, threads or wall clock) and
other kernel modules. Nothing outside `live/kernel/`; tests/test_import_contract.py enforces it.
"""
