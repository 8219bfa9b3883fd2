"""Operator alerts (DESIGN §11): the `Alerter` the runner owns (`alerter`: kinds, de-duplication,
rate limits, the `alerts` table) and the Discord / Telegram channels with their secret redaction
(`channels`).

May import: the kernel, `live.store`, httpx, psycopg, pydantic and the standard library.
"""
