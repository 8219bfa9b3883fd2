"""Operator alerts (DESIGN §11), one module per concept:

- `alert`: what an alert is — `AlertKind`, `Severity` (each kind's default), the `Alert` value and
  its message, the de-duplication key. Pure values.
- `config`: `AlertConfig` — the channels and the limits, secrets only from the environment.
- `channels`: the Discord / Telegram channels, bounded retries and secret redaction.
- `alerter`: the `Alerter` the runner owns — de-duplication, the bounded queue, the background
  sender and the `alerts` table; `send_once` for the CLI.

May import: the kernel, `live.store`, httpx, psycopg, pydantic and the standard library.
"""
