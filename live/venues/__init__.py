"""Venue adapters: the LIVE executor's side of the world (DESIGN §6). `port.Venue` is the one
protocol the runner calls, with the plain answer types; `PolymarketVenue` implements it over the
official SDK, on Polymarket or on the sandbox. See docs/venue.md.

May import: the kernel's domain and event types, the SDK (polymarket, eth_account), httpx,
websockets, pydantic and the standard library. Never the runner, the store or research.
"""

from live.venues.config import VenueConfig, VenueKind
from live.venues.errors import (
    CredentialError,
    GammaShapeError,
    TokenVerdict,
    VenueError,
    VenueQueryError,
)
from live.venues.execution import Execution, ExecutionStatus
from live.venues.polymarket import PolymarketVenue

__all__ = [
    "CredentialError",
    "Execution",
    "ExecutionStatus",
    "GammaShapeError",
    "PolymarketVenue",
    "TokenVerdict",
    "VenueConfig",
    "VenueError",
    "VenueKind",
    "VenueQueryError",
]
