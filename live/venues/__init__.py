"""Venue adapters: the LIVE executor's side of the world (DESIGN §6). `PolymarketVenue` trades on
Polymarket or on the sandbox through the official SDK; see docs/venue.md."""

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
