"""Balances and positions per wallet: USDC cash, shares per token, cost basis, fees paid.
Money is Decimal throughout; USDC has 6 decimals on the wire. Every fill returns the `Booking`
it made, so a trade that fails on chain can be undone exactly; redemption turns a resolved
condition's shares into cash; a history of holdings serves the Data API's lag."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

USDC_UNIT = Decimal("0.000001")
ZERO = Decimal(0)
HISTORY_MARGIN_S = 60.0  # holdings snapshots older than the lag plus this are dropped


@dataclass(frozen=True, slots=True)
class Holdings:
    """Shares, cost basis and realized P&L per token at one instant (copies)."""

    shares: dict[str, Decimal]
    cost: dict[str, Decimal]
    realized: dict[str, Decimal]


@dataclass(slots=True)
class Account:
    """Venue-side wallet state (mutable: the exchange applies fills to it)."""

    address: str
    usdc: Decimal
    shares: dict[str, Decimal] = field(default_factory=dict)
    cost: dict[str, Decimal] = field(default_factory=dict)
    realized: dict[str, Decimal] = field(default_factory=dict)
    fees_paid: Decimal = ZERO
    payouts: Decimal = ZERO
    history: deque[tuple[float, Holdings]] = field(default_factory=deque)

    def holdings(self) -> Holdings:
        return Holdings(dict(self.shares), dict(self.cost), dict(self.realized))


@dataclass(frozen=True, slots=True)
class Booking:
    """The changes one fill made to one account (all deltas; `fee` is part of `usdc`)."""

    address: str
    token: str
    usdc: Decimal
    shares: Decimal
    cost: Decimal
    realized: Decimal
    fee: Decimal


class Ledger:
    """All accounts, keyed by lower-case address. A deposit wallet seen acting for a signer
    (a relayed transaction) is an alias of the signer's account: the sandbox books trades on
    the API key's address and keeps no separate funder."""

    def __init__(
        self,
        start_balance: Decimal,
        clock: Callable[[], float] = time.time,
        lag_s: float = 0.0,
    ) -> None:
        self._start = start_balance
        self._clock = clock
        self._keep_history = lag_s > 0
        self._history_s = lag_s + HISTORY_MARGIN_S
        self.accounts: dict[str, Account] = {}
        self.aliases: dict[str, str] = {}

    def account(self, address: str) -> Account:
        key = self.aliases.get(address.lower(), address.lower())
        if key not in self.accounts:
            self.accounts[key] = Account(address=address, usdc=self._start)
        return self.accounts[key]

    def alias(self, wallet: str, signer: str) -> None:
        """Let `wallet` (a deposit, proxy or Safe wallet) name the signer's account."""
        if wallet.lower() != signer.lower():
            self.aliases[wallet.lower()] = signer.lower()

    def fund(self, address: str, usd: Decimal) -> Account:
        acct = self.account(address)
        acct.usdc += usd
        return acct

    def buy(self, address: str, token: str, size: Decimal, price: Decimal, fee: Decimal) -> Booking:
        notional = (size * price).quantize(USDC_UNIT)
        booking = Booking(address, token, -(notional + fee), size, notional, ZERO, fee)
        self.apply(booking)
        return booking

    def sell(
        self, address: str, token: str, size: Decimal, price: Decimal, fee: Decimal
    ) -> Booking:
        acct = self.account(address)
        held = acct.shares.get(token, ZERO)
        notional = (size * price).quantize(USDC_UNIT)
        basis = acct.cost.get(token, ZERO) * size / held if held else ZERO
        booking = Booking(
            address, token, notional - fee, -size, -basis, notional - basis - fee, fee
        )
        self.apply(booking)
        return booking

    def apply(self, booking: Booking, sign: int = 1) -> None:
        """Book a fill (sign 1) or undo it exactly (sign -1)."""
        acct = self.account(booking.address)
        token = booking.token
        acct.usdc += sign * booking.usdc
        acct.fees_paid += sign * booking.fee
        acct.shares[token] = acct.shares.get(token, ZERO) + sign * booking.shares
        acct.cost[token] = acct.cost.get(token, ZERO) + sign * booking.cost
        if booking.realized:
            acct.realized[token] = acct.realized.get(token, ZERO) + sign * booking.realized
        self.stamp(acct)

    def settle(self, token: str, payout_per_share: Decimal) -> None:
        """Redeem every holding of `token` at the resolution value ($1 winner, $0 loser)."""
        for acct in self.accounts.values():
            if acct.shares.get(token, ZERO):
                self._pay_out(acct, token, payout_per_share)
                self.stamp(acct)

    def redeem(self, address: str, payouts: dict[str, Decimal]) -> Decimal:
        """Redeem one account's holdings of a resolved condition at once: `payouts` maps each
        of its tokens to the value of a share. Returns the USDC paid (0 when nothing is held:
        a second redemption of the same position does nothing)."""
        acct = self.account(address)
        paid = sum((self._pay_out(acct, token, value) for token, value in payouts.items()), ZERO)
        self.stamp(acct)
        return paid

    def _pay_out(self, acct: Account, token: str, value: Decimal) -> Decimal:
        held = acct.shares.get(token, ZERO)
        if not held:
            return ZERO
        paid = (held * value).quantize(USDC_UNIT)
        acct.usdc += paid
        acct.payouts += paid
        acct.realized[token] = acct.realized.get(token, ZERO) + paid - acct.cost.get(token, ZERO)
        acct.shares[token] = ZERO
        acct.cost[token] = ZERO
        return paid

    # ---- the Data API's lag -------------------------------------------------------------
    def stamp(self, acct: Account) -> None:
        """Remember the account's holdings now (only when a lag is configured)."""
        if not self._keep_history:
            return
        now = self._clock()
        acct.history.append((now, acct.holdings()))
        while len(acct.history) > 1 and acct.history[1][0] < now - self._history_s:
            acct.history.popleft()

    def holdings_as_of(self, address: str, moment: float) -> Holdings:
        """The account's holdings as they were at `moment` (now, without a history)."""
        acct = self.account(address)
        if not self._keep_history:
            return acct.holdings()
        seen = Holdings({}, {}, {})
        for stamped_at, holdings in acct.history:
            if stamped_at > moment:
                break
            seen = holdings
        return seen


def taker_fee(size: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """Taker fee = shares x rate x p x (1 - p), rounded to 5 decimals."""
    return (size * rate * price * (1 - price)).quantize(Decimal("0.00001"))
