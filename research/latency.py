"""Measured delivery offsets of the public sources we import (issue 17), for `--latency-ms`.

The replay stamps each event with the source's own observation time (Chainlink: `feed_ts_ms`,
live/convert/chainlink.py); live, the engine sees it at our receive time. The offset a faithful
replay adds is therefore receive − observation, per source. Only the Chainlink file carries both
times (`feed_ts_ms`, `server_ts_ms` of the RTDS relay, our `recv_ms`); the 1 s top-of-book CSV
has one second-resolution timestamp and no receive time, so its offset is bounded (sampling
staleness up to 1000 ms), not measured. Figures are in docs/research.md.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True, slots=True)
class Offset:
    """Quantiles (ms) of `later - earlier` over `n` rows."""

    name: str
    n: int
    p5: float
    median: float
    p95: float

    def line(self) -> str:
        spread = f"p5 {self.p5:.0f}, p95 {self.p95:.0f}"
        return f"{self.name}: median {self.median:.0f} ms ({spread}), n={self.n}"


def _quantiles(name: str, values: np.ndarray) -> Offset:
    p5, med, p95 = np.percentile(values, [5, 50, 95])
    return Offset(name, len(values), float(p5), float(med), float(p95))


def chainlink_offsets(path: Path) -> list[Offset]:
    """Offsets of a Chainlink RTDS capture (feed_ts_ms, server_ts_ms, recv_ms columns, gzip or
    plain CSV): relay − observation, receive − observation (the replay offset), receive − relay."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("recv_ms") and r.get("server_ts_ms")]
    feed = np.array([int(r["feed_ts_ms"]) for r in rows], dtype=np.int64)
    server = np.array([int(r["server_ts_ms"]) for r in rows], dtype=np.int64)
    recv = np.array([int(r["recv_ms"]) for r in rows], dtype=np.int64)
    return [
        _quantiles("chainlink relay - observation", server - feed),
        _quantiles("chainlink receive - observation (replay offset)", recv - feed),
        _quantiles("chainlink receive - relay", recv - server),
    ]
