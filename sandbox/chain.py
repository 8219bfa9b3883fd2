"""The chain as the SDK's transactions see it: transactions sent over JSON-RPC (an EOA's own) or
through the relayer (deposit, proxy and Safe wallets), mined and confirmed after seeded
latencies (`tx_mined_seconds`, `tx_confirmed_seconds`); their effects — approvals and
redemptions — applied atomically when mined; and the venue's auto-redeem operator, which
redeems the winning positions of accounts that approved it `auto_redeem_delay` seconds after
resolution. A redemption pays $1 a winning share and $0 a losing one; a second redemption of the
same position succeeds and pays nothing (the CTF contract's behaviour); a redemption before
resolution reverts."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from sandbox import contracts as cx
from sandbox.contracts import Call
from sandbox.faults import FaultKind
from sandbox.ledger import ZERO
from sandbox.realism import draw
from sandbox.windows import WindowStatus

if TYPE_CHECKING:
    from sandbox.exchange import Exchange
    from sandbox.markets import WindowState

NOT_RESOLVED = "execution reverted: result for condition not received yet"
OPERATOR = "operator"


class TxState(StrEnum):
    """The relayer's transaction states (`RelayerTransactionState` in the SDK)."""

    NEW = "STATE_NEW"
    EXECUTED = "STATE_EXECUTED"
    MINED = "STATE_MINED"
    CONFIRMED = "STATE_CONFIRMED"
    FAILED = "STATE_FAILED"


@dataclass(slots=True)
class Tx:
    """One transaction: who it acts for, its calls, and its way to the chain."""

    id: str
    hash: str
    account: str
    calls: tuple[Call, ...]
    via: str  # "rpc", "relayer" or "operator"
    submitted_at: float
    mined_at: float
    confirmed_at: float
    block: int = 0
    state: TxState = TxState.NEW
    forced_error: str = ""  # the fail_redemptions fault: revert with this reason when mined
    error: str = ""
    paid: Decimal = ZERO


@dataclass(slots=True)
class Chain:
    """Transactions, nonces, approvals and the auto-redeem schedule."""

    ex: Exchange
    txs: dict[str, Tx] = field(default_factory=dict)
    by_hash: dict[str, Tx] = field(default_factory=dict)
    pending: list[Tx] = field(default_factory=list)
    nonces: dict[str, int] = field(default_factory=dict)
    operators: dict[tuple[str, str, str], bool] = field(default_factory=dict)
    allowances: dict[tuple[str, str], int] = field(default_factory=dict)
    auto_redeem_due: list[tuple[float, str]] = field(default_factory=list)
    seq: int = 0

    # ---- reads ----------------------------------------------------------------------------
    def block_number(self) -> int:
        return int(self.ex.clock() // 2)  # a Polygon block every ~2 s

    def nonce(self, address: str) -> int:
        return self.nonces.get(address.lower(), 0)

    def approved(self, owner: str, token: str, operator: str) -> bool:
        key = (self._holder(owner), token.lower(), operator.lower())
        return self.operators.get(key, operator.lower() not in cx.OPT_IN_OPERATORS)

    def allowance(self, owner: str, spender: str) -> int:
        return self.allowances.get((self._holder(owner), spender.lower()), cx.MAX_UINT256)

    def _holder(self, address: str) -> str:
        """The account an address names (a deposit wallet names its signer's account)."""
        return self.ex.ledger.aliases.get(address.lower(), address.lower())

    # ---- writes ---------------------------------------------------------------------------
    def submit(self, account: str, calls: tuple[Call, ...], via: str, tx_hash: str = "") -> Tx:
        """Queue a transaction; it is mined and confirmed by `progress`."""
        cfg, now, ordinal = self.ex.config, self.ex.clock(), self.seq
        self.seq += 1
        digest = hashlib.sha256(f"{cfg.seed}:tx:{ordinal}:{account}".encode()).digest()
        mined = now + draw(cfg.seed, "tx_mined", ordinal, cfg.tx_mined_seconds)
        confirmed = now + draw(cfg.seed, "tx_confirmed", ordinal, cfg.tx_confirmed_seconds)
        confirmed = max(mined, confirmed)
        tx = Tx(
            id=str(uuid.UUID(bytes=digest[:16])),
            hash=tx_hash or "0x" + hashlib.sha256(digest).hexdigest(),
            account=account,
            calls=calls,
            via=via,
            submitted_at=now,
            mined_at=mined,
            confirmed_at=confirmed,
        )
        if via != OPERATOR:
            self.nonces[account.lower()] = self.nonce(account) + 1
        if any(c.function == "redeemPositions" for c in calls):
            fault = self.ex.faults.fire(FaultKind.FAIL_REDEMPTIONS)
            if fault is not None:
                tx.forced_error = fault.message or "execution reverted"
        self.txs[tx.id] = tx
        self.by_hash[tx.hash.lower()] = tx
        self.pending.append(tx)
        self.ex.counters[f"tx_{via}"] += 1
        return tx

    def revert_reason(self, calls: tuple[Call, ...]) -> str:
        """Why these calls would revert now ("" when they would not)."""
        for call in calls:
            if call.function != "redeemPositions":
                continue
            if call.to.lower() not in cx.REDEEM_TARGETS:
                return "execution reverted: redeemPositions target is not a sandbox CTF contract"
            state = self.ex.markets.by_condition(call.condition_id)
            if state is None or state.status is not WindowStatus.RESOLVED:
                return NOT_RESOLVED
        return ""

    def progress(self, now: float) -> None:
        """Mine and confirm what is due; run the auto-redeem operator when it is due."""
        self._run_operator(now)
        still = []
        for tx in self.pending:
            if tx.state is TxState.NEW and now >= tx.submitted_at:
                tx.state = TxState.EXECUTED
            if tx.state is TxState.EXECUTED and now >= tx.mined_at:
                self._mine(tx)
            if tx.state is TxState.MINED and now >= tx.confirmed_at:
                tx.state = TxState.CONFIRMED
            if tx.state not in (TxState.CONFIRMED, TxState.FAILED):
                still.append(tx)
        self.pending = still

    def _mine(self, tx: Tx) -> None:
        """Apply every call or none (a revert leaves balances and positions untouched)."""
        tx.block = self.block_number()
        tx.error = tx.forced_error or self.revert_reason(tx.calls)
        if tx.error:
            tx.state = TxState.FAILED
            self.ex.counters["tx_reverted"] += 1
            return
        for call in tx.calls:
            self._apply(tx, call)
        tx.state = TxState.MINED
        if tx.via == OPERATOR and tx.paid > 0:
            state = self.ex.markets.by_condition(tx.calls[0].condition_id)
            self.ex.notifications.auto_redeemed(
                tx.account, state.window, tx.paid, tx.hash, self.ex.venue_now()
            )

    def _apply(self, tx: Tx, call: Call) -> None:
        holder = self._holder(tx.account)
        if call.function == "approve":
            self.allowances[(holder, call.args[0].lower())] = call.args[1]
        elif call.function == "setApprovalForAll":
            key = (holder, call.to.lower(), call.args[0].lower())
            self.operators[key] = bool(call.args[1])
        elif call.function == "redeemPositions":
            tx.paid += self.redeem(tx.account, call.condition_id)

    def redeem(self, account: str, condition_id: str) -> Decimal:
        """Turn the account's shares of a resolved condition into USDC, both outcomes at once."""
        state = self.ex.markets.by_condition(condition_id)
        if state is None or state.winner is None:  # revert_reason refuses these first
            return ZERO
        w = state.window
        winning = w.token_up if state.winner == "Up" else w.token_down
        payouts = {t: (Decimal(1) if t == winning else ZERO) for t in w.tokens}
        paid = self.ex.ledger.redeem(account, payouts)
        self.ex.counters["redemptions"] += 1
        return paid

    # ---- the venue's auto-redeem operator -------------------------------------------------
    def resolved(self, state: WindowState) -> None:
        """A window resolved without paying out: schedule the operator's pass over it."""
        due = self.ex.clock() + self.ex.config.auto_redeem_delay
        self.auto_redeem_due.append((due, state.window.condition_id))

    def _run_operator(self, now: float) -> None:
        due = [cid for at, cid in self.auto_redeem_due if at <= now]
        if not due:
            return
        self.auto_redeem_due = [(at, cid) for at, cid in self.auto_redeem_due if at > now]
        for condition_id in due:
            state = self.ex.markets.by_condition(condition_id)
            if state is not None:
                self._operator_pass(state, condition_id)

    def _operator_pass(self, state: WindowState, condition_id: str) -> None:
        """Redeem for every approving account that holds the winning outcome (the operator
        spends no gas on positions that pay nothing: those stay redeemable)."""
        w = state.window
        winning = w.token_up if state.winner == "Up" else w.token_down
        call = Call(
            to=cx.COLLATERAL_ADAPTER,
            function="redeemPositions",
            args=(cx.COLLATERAL_TOKEN, b"\0" * 32, bytes.fromhex(condition_id[2:]), (1, 2)),
        )
        for acct in list(self.ex.ledger.accounts.values()):
            if acct.shares.get(winning, ZERO) > 0 and self.approved(
                acct.address, cx.CONDITIONAL_TOKENS, cx.AUTO_REDEEM_OPERATOR
            ):
                self.submit(acct.address, (call,), OPERATOR)
