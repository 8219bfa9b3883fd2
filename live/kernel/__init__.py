"""The deterministic kernel (DESIGN §1.5, §4–5): one code path for LIVE, PAPER, DRY_RUN and
BACKTEST. It consumes timestamped events and returns commands and records; time is the events'
`ts`.

What lives here: the domain types and hard limits (`domain`, `limits`), the event, command and
record types (`events`, `commands`, `records`), market state and the window lifecycle (`book`,
`state`), settlement rules (`settlement`), the strategy interface (`strategy`), the risk envelope
(`risk`), the state machines and their books (`fsm`, `order_book` — which also mints order and
position ids and builds fill records —, `positions`, `trading_state`), exit decisions (`exits`),
the ledger of our cash and the venue's (`ledger`), the timers (`timers`), the engine (`engine`)
and its desks — `entry_desk`, `exit_desk`, `order_desk`, `settlement_desk` —, the simulated
executors (`executors`, whose `SimVenue` is the public base of fill models), the runtime
controls' values (`controls`), the audit sentences (`audit`) and the ten runtime assertions
(`assertions`).

How the parts talk: the engine routes each event and owns the trading state; each desk is handed
the few collaborators it uses (books, ledger, and the engine's public `dispatch` / `emit` as
callables), never the engine, and the assertions read an explicit `Evidence`. No kernel module
imports `engine`, so the kernel's imports have no cycle.

What it may import: the standard library (no IO: no files, sockets, threads, date/time or wall
clock) and other kernel modules. Nothing outside `live/kernel/`; tests/test_import_contract.py
enforces it.
"""
