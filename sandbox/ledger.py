"""Balances and positions per wallet: USDC cash, shares per token, cost basis, fees paid.
Money is Decimal throughout; USDC has 6 decimals on the wire."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

USDC_UNIT = Decimal("0.000001")
ZERO = Decimal(0)


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


class Ledger:
    """All accounts, keyed by lower-case address."""

    def __init__(self, start_balance: Decimal) -> None:
        self._start = start_balance
        self.accounts: dict[str, Account] = {}

    def account(self, address: str) -> Account:
        key = address.lower()
        if key not in self.accounts:
            self.accounts[key] = Account(address=address, usdc=self._start)
        return self.accounts[key]

    def fund(self, address: str, usd: Decimal) -> Account:
        acct = self.account(address)
        acct.usdc += usd
        return acct

    def buy(self, address: str, token: str, size: Decimal, price: Decimal, fee: Decimal) -> None:
        acct = self.account(address)
        notional = (size * price).quantize(USDC_UNIT)
        acct.usdc -= notional + fee
        acct.fees_paid += fee
        acct.shares[token] = acct.shares.get(token, ZERO) + size
        acct.cost[token] = acct.cost.get(token, ZERO) + notional

    def sell(self, address: str, token: str, size: Decimal, price: Decimal, fee: Decimal) -> None:
        acct = self.account(address)
        held = acct.shares.get(token, ZERO)
        notional = (size * price).quantize(USDC_UNIT)
        basis = acct.cost.get(token, ZERO) * size / held if held else ZERO
        acct.usdc += notional - fee
        acct.fees_paid += fee
        acct.shares[token] = held - size
        acct.cost[token] = acct.cost.get(token, ZERO) - basis
        acct.realized[token] = acct.realized.get(token, ZERO) + notional - basis - fee

    def settle(self, token: str, payout_per_share: Decimal) -> None:
        """Redeem every holding of `token` at the resolution value ($1 winner, $0 loser)."""
        for acct in self.accounts.values():
            held = acct.shares.get(token, ZERO)
            if not held:
                continue
            paid = (held * payout_per_share).quantize(USDC_UNIT)
            acct.usdc += paid
            acct.payouts += paid
            acct.realized[token] = (
                acct.realized.get(token, ZERO) + paid - acct.cost.get(token, ZERO)
            )
            acct.shares[token] = ZERO
            acct.cost[token] = ZERO


def taker_fee(size: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """Taker fee = shares x rate x p x (1 - p), rounded to 5 decimals."""
    return (size * rate * price * (1 - price)).quantize(Decimal("0.00001"))
