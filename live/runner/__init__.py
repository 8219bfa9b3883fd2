"""The shared live runner (DESIGN §6): the asyncio shell that gives the kernel's engines a venue,
market data, a database and safety rules, and adds no trading logic.

What lives here: the composition root and its loops (`runner`), the engine slots (`slots`), the
event sources (`feeds` with `watchdog` and `recorder`, `windows`, `account_watch`), the order
gateway (`gateway`), the safety parts — the trader role and sole-trader lock (`role`, `lock`), the
strategy gate (`strategy_gate`), the feed guard (`feed_guard`), runtime controls (`controls_watch`
reads them, `controls_apply` hands them to the engines), alerts (`alarms`), startup
reconciliation (`reconciliation`) — and the health endpoint (`health`, `status`, `instances`),
with the typed options (`config`) and the engines' persistence (`persist`).

What it may import: the kernel, the venue port and adapters (`live/venues/`), the store, the
promotion rules, the journal codec and the strategy registry. Only `runner` composes the parts;
no part imports it.
"""
