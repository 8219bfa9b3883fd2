"""The on-chain contracts the SDK's transactions call (Polymarket's production addresses, as in
the SDK's `PRODUCTION` environment), and decoding of the calls the sandbox understands:
ERC-20 `approve`, ERC-1155 `setApprovalForAll`, CTF `redeemPositions`, and the read calls
`allowance`, `isApprovedForAll`, `balanceOf`, `balanceOfBatch`."""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

COLLATERAL_TOKEN = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"
CONDITIONAL_TOKENS = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"
COLLATERAL_ADAPTER = "0xAdA100Db00Ca00073811820692005400218FcE1f"
NEG_RISK_COLLATERAL_ADAPTER = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"
NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
STANDARD_EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
AUTO_REDEEM_OPERATOR = "0xa1200000d0002264C9a1698e001292D00E1b00af"
POSITION_MANAGER = "0x006F54F7f9A22e0000CC2AB60031000000ae9fEF"
PROTOCOL_V2_ROUTER = "0x12121212006e4CD160D18e3f00711DA5c3372600"
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
BINARY_MODULE = "0x1000008dD9001B968442c1000017eaE6E0dA00Ba"
NEG_RISK_MODULE = "0x200000900045e3B6259600682756002200028933"
PERPS_DEPOSIT = "0xDCa4af75705dbB50f62437045afF9921947917d2"
MAX_UINT256 = (1 << 256) - 1

# Where a redeemPositions call may go for the binary (non neg-risk) window markets: the
# collateral adapter the SDK uses since V2, or the Conditional Tokens contract itself.
REDEEM_TARGETS = frozenset(a.lower() for a in (COLLATERAL_ADAPTER, CONDITIONAL_TOKENS))

# Trading approvals, as the SDK's setup_trading_approvals lists them: (token, spender/operator).
ERC20_SPENDERS = (
    STANDARD_EXCHANGE,
    NEG_RISK_EXCHANGE,
    COLLATERAL_ADAPTER,
    NEG_RISK_COLLATERAL_ADAPTER,
    PROTOCOL_V2_ROUTER,
    EXCHANGE_V3,
    PERPS_DEPOSIT,
)
ERC1155_OPERATORS = (
    (CONDITIONAL_TOKENS, STANDARD_EXCHANGE),
    (CONDITIONAL_TOKENS, NEG_RISK_EXCHANGE),
    (CONDITIONAL_TOKENS, COLLATERAL_ADAPTER),
    (CONDITIONAL_TOKENS, NEG_RISK_COLLATERAL_ADAPTER),
    (CONDITIONAL_TOKENS, AUTO_REDEEM_OPERATOR),
    (CONDITIONAL_TOKENS, BINARY_MODULE),
    (CONDITIONAL_TOKENS, NEG_RISK_MODULE),
    (POSITION_MANAGER, PROTOCOL_V2_ROUTER),
    (POSITION_MANAGER, EXCHANGE_V3),
    (POSITION_MANAGER, AUTO_REDEEM_OPERATOR),
)
# Granted to every sandbox account from the start (it trades without approving); the
# auto-redeem operator is the one approval an account opts into.
OPT_IN_OPERATORS = frozenset({AUTO_REDEEM_OPERATOR.lower()})


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


APPROVE = selector("approve(address,uint256)")
SET_APPROVAL_FOR_ALL = selector("setApprovalForAll(address,bool)")
REDEEM_POSITIONS = selector("redeemPositions(address,bytes32,bytes32,uint256[])")
ALLOWANCE = selector("allowance(address,address)")
IS_APPROVED_FOR_ALL = selector("isApprovedForAll(address,address)")
BALANCE_OF_1155 = selector("balanceOf(address,uint256)")
BALANCE_OF_BATCH = selector("balanceOfBatch(address[],uint256[])")
BALANCE_OF_20 = selector("balanceOf(address)")
_ARGS = {
    APPROVE: ("approve", ["address", "uint256"]),
    SET_APPROVAL_FOR_ALL: ("setApprovalForAll", ["address", "bool"]),
    REDEEM_POSITIONS: ("redeemPositions", ["address", "bytes32", "bytes32", "uint256[]"]),
    ALLOWANCE: ("allowance", ["address", "address"]),
    IS_APPROVED_FOR_ALL: ("isApprovedForAll", ["address", "address"]),
    BALANCE_OF_1155: ("balanceOf", ["address", "uint256"]),
    BALANCE_OF_BATCH: ("balanceOfBatch", ["address[]", "uint256[]"]),
    BALANCE_OF_20: ("balanceOf", ["address"]),
}


class CallError(ValueError):
    """Calldata the sandbox's contracts do not understand (the call reverts)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One contract call: target, function name and decoded arguments."""

    to: str
    function: str
    args: tuple

    @property
    def condition_id(self) -> str:
        """The condition of a redeemPositions call, 0x-hex."""
        return "0x" + self.args[2].hex()


def decode_call(to: str, data: str | bytes) -> Call:
    """Decode calldata to a `Call`; CallError for an unknown selector or bad arguments."""
    try:
        raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
    except ValueError as exc:
        raise CallError("calldata is not hex") from exc
    spec = _ARGS.get(raw[:4])
    if spec is None:
        raise CallError(f"function selector 0x{raw[:4].hex()} is not supported by the sandbox")
    try:
        args = abi_decode(spec[1], raw[4:])
    except DecodingError as exc:
        raise CallError(f"malformed {spec[0]} calldata: {exc}") from exc
    return Call(to=to_checksum_address(to), function=spec[0], args=tuple(args))


def uint(value: int) -> str:
    return "0x" + abi_encode(["uint256"], [value]).hex()


def boolean(value: bool) -> str:
    return "0x" + abi_encode(["bool"], [value]).hex()


def uints(values: list[int]) -> str:
    return "0x" + abi_encode(["uint256[]"], [values]).hex()
