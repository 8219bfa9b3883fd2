"""How the sandbox venue refuses: `VenueError` (an HTTP error with `{"error": message}`, for
requests it will not take) and `rejection()` (HTTP 200 with `success: false`, for an order it took
but killed), with the venue's own wording of the common messages."""

from __future__ import annotations

FOK_MSG = "order couldn't be fully filled. FOK orders are fully filled or killed."
FAK_MSG = (
    "no orders found to match with FAK order. "
    "FAK orders are partially filled or killed if no match is found."
)
BALANCE_MSG = "not enough balance / allowance"


class VenueError(Exception):
    """A request the venue refuses with an HTTP error and `{"error": message}`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def rejection(message: str) -> dict:
    """The order-post response of an order the venue killed: `success` false, `errorMsg` set."""
    return {
        "success": False,
        "errorMsg": message,
        "orderID": "",
        "status": "",
        "makingAmount": "",
        "takingAmount": "",
        "tradeIDs": [],
        "transactionsHashes": [],
    }
