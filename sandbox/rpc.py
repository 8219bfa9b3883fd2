"""A Polygon JSON-RPC endpoint (`POST /rpc`) answering what the SDK sends for an EOA's own
transactions (approvals, `redeem_positions`) and its on-chain reads: chain id, nonce, gas price,
gas estimate (which reverts like the contract would), raw transaction submission (signature,
chain id and nonce checked), receipts once mined, latest block, and `eth_call` for allowances,
operator approvals and balances. Single requests and batches."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from sandbox import contracts as cx
from sandbox.chain import TxState
from sandbox.contracts import Call, CallError, decode_call
from sandbox.lifecycle import unsettled_shares

if TYPE_CHECKING:
    from sandbox.exchange import Exchange

GAS_PRICE = 30 * 10**9
GAS_ESTIMATE = 200_000
REVERT = 3  # the JSON-RPC error code nodes use for a reverted call
SERVER_ERROR = -32000
UNITS = Decimal(10**6)


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def answer(ex: Exchange, body: object) -> object:
    """The JSON-RPC response to one request or a batch."""
    if isinstance(body, list):
        return [_one(ex, item) for item in body]
    return _one(ex, body)


def _one(ex: Exchange, request: object) -> dict:
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "bad request"}}
    reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
    params = request.get("params") or []
    handler = _METHODS.get(request["method"])
    try:
        if handler is None or not isinstance(params, list):
            raise RpcError(-32601, f"the method {request['method']} does not exist")
        reply["result"] = handler(ex, params)
    except RpcError as exc:
        reply["error"] = {"code": exc.code, "message": exc.message}
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        reply["error"] = {"code": -32602, "message": f"invalid params: {exc}"}
    return reply


def _chain_id(ex: Exchange, _params: list) -> str:
    return hex(ex.config.chain_id)


def _block_number(ex: Exchange, _params: list) -> str:
    return hex(ex.chain.block_number())


def _block(ex: Exchange, _params: list) -> dict:
    number = ex.chain.block_number()
    return {
        "number": hex(number),
        "hash": "0x" + keccak(text=f"block:{number}").hex(),
        "timestamp": hex(int(ex.venue_now())),
        "transactions": [],
    }


def _gas_price(_ex: Exchange, _params: list) -> str:
    return hex(GAS_PRICE)


def _transaction_count(ex: Exchange, params: list) -> str:
    return hex(ex.chain.nonce(to_checksum_address(params[0])))


def _estimate_gas(ex: Exchange, params: list) -> str:
    call = _call_of(params[0]["to"], params[0].get("data", "0x"))
    reason = ex.chain.revert_reason((call,))
    if reason:
        raise RpcError(REVERT, reason)
    return hex(GAS_ESTIMATE)


def _send_raw(ex: Exchange, params: list) -> str:
    raw = bytes.fromhex(str(params[0]).removeprefix("0x"))
    fields = decode_transaction(raw)
    if fields["chain_id"] != ex.config.chain_id:
        raise RpcError(SERVER_ERROR, f"invalid chain id {fields['chain_id']}")
    sender = _sender(raw)
    expected = ex.chain.nonce(sender)
    if fields["nonce"] != expected:
        word = "low" if fields["nonce"] < expected else "high"
        raise RpcError(SERVER_ERROR, f"nonce too {word}: next nonce {expected}")
    call = _call_of(fields["to"], fields["data"])
    tx = ex.chain.submit(sender, (call,), "rpc", tx_hash="0x" + keccak(raw).hex())
    return tx.hash


def _sender(raw: bytes) -> str:
    """The signer of a raw transaction. eth_keys' BadSignature derives from Exception only
    (and eth_keys is not a direct dependency), so any recovery failure is a bad signature."""
    try:
        return Account.recover_transaction(raw)
    except Exception as exc:  # re-raised as the node's error, never swallowed
        raise RpcError(SERVER_ERROR, f"invalid transaction signature: {exc}") from exc


def _receipt(ex: Exchange, params: list) -> dict | None:
    tx = ex.chain.by_hash.get(str(params[0]).lower())
    if tx is None or tx.state in (TxState.NEW, TxState.EXECUTED):
        return None
    failed = tx.state is TxState.FAILED
    return {
        "transactionHash": tx.hash,
        "blockNumber": hex(tx.block),
        "from": tx.account,
        "to": tx.calls[0].to,
        "status": "0x0" if failed else "0x1",
        "gasUsed": hex(GAS_ESTIMATE // 2),
        "effectiveGasPrice": hex(GAS_PRICE),
        "logs": [],
    }


def _eth_call(ex: Exchange, params: list) -> str:
    to, data = params[0]["to"], params[0].get("data", "0x")
    call = _call_of(to, data)
    owner = str(call.args[0]) if call.args else ""
    if call.function == "allowance":
        return cx.uint(ex.chain.allowance(owner, call.args[1]))
    if call.function == "isApprovedForAll":
        return cx.boolean(ex.chain.approved(owner, call.to, call.args[1]))
    if call.function == "balanceOf" and call.to.lower() == cx.COLLATERAL_TOKEN.lower():
        return cx.uint(int(ex.ledger.account(owner).usdc * UNITS))
    if call.function == "balanceOf":
        return cx.uint(_shares(ex, call.to, owner, call.args[1]))
    if call.function == "balanceOfBatch":
        return cx.uints([_shares(ex, call.to, o, i) for o, i in zip(*call.args, strict=True)])
    raise RpcError(REVERT, "execution reverted")


def _shares(ex: Exchange, token_contract: str, owner: str, position_id: int) -> int:
    """On-chain ERC-1155 balance in 6-decimal units: what the ledger holds, less what trades
    not yet mined moved (when the venue profile says unsettled fills are not on chain)."""
    if token_contract.lower() != cx.CONDITIONAL_TOKENS.lower():
        return 0
    token = str(position_id)
    held = ex.ledger.account(owner).shares.get(token, Decimal(0))
    if ex.config.settled_spend_only:
        held -= unsettled_shares(ex, owner, token)
    return int(max(held, Decimal(0)) * UNITS)


def _call_of(to: str, data: str) -> Call:
    try:
        return decode_call(to, data)
    except CallError as exc:
        raise RpcError(REVERT, f"execution reverted: {exc}") from exc


_METHODS = {
    "eth_chainId": _chain_id,
    "net_version": lambda ex, _p: str(ex.config.chain_id),
    "eth_blockNumber": _block_number,
    "eth_getBlockByNumber": _block,
    "eth_gasPrice": _gas_price,
    "eth_getTransactionCount": _transaction_count,
    "eth_estimateGas": _estimate_gas,
    "eth_sendRawTransaction": _send_raw,
    "eth_getTransactionReceipt": _receipt,
    "eth_call": _eth_call,
}


# ---- transaction decoding (legacy EIP-155 and EIP-1559) -----------------------------------
def decode_transaction(raw: bytes) -> dict:
    """Nonce, chain id, `to` and calldata of a signed transaction; ValueError if malformed."""
    if raw and raw[0] == 2:
        items = _rlp(raw[1:])
        chain_id, nonce, to, data = items[0], items[1], items[5], items[7]
        return {"chain_id": _int(chain_id), "nonce": _int(nonce), "to": _addr(to), "data": data}
    items = _rlp(raw)
    if not isinstance(items, list) or len(items) != 9:
        raise ValueError("not a legacy transaction")
    v = _int(items[6])
    return {
        "chain_id": (v - 35) // 2 if v >= 35 else 0,
        "nonce": _int(items[0]),
        "to": _addr(items[3]),
        "data": items[5],
    }


def _int(value: object) -> int:
    if not isinstance(value, bytes):
        raise ValueError("expected an RLP string")
    return int.from_bytes(value, "big")


def _addr(value: object) -> str:
    if not isinstance(value, bytes) or len(value) != 20:
        raise ValueError("expected a 20-byte address")
    return to_checksum_address(value)


def _rlp(data: bytes) -> Any:
    item, rest = _rlp_item(data)
    if rest:
        raise ValueError("trailing bytes after RLP item")
    return item


def _rlp_item(data: bytes) -> tuple[Any, bytes]:
    if not data:
        raise ValueError("empty RLP input")
    head = data[0]
    if head < 0x80:
        return data[:1], data[1:]
    if head < 0xB8:
        size = head - 0x80
        return data[1 : 1 + size], data[1 + size :]
    if head < 0xC0:
        width = head - 0xB7
        size = int.from_bytes(data[1 : 1 + width], "big")
        return data[1 + width : 1 + width + size], data[1 + width + size :]
    if head < 0xF8:
        size, start = head - 0xC0, 1
    else:
        width = head - 0xF7
        size, start = int.from_bytes(data[1 : 1 + width], "big"), 1 + width
    body, rest = data[start : start + size], data[start + size :]
    if len(body) != size:
        raise ValueError("truncated RLP list")
    items = []
    while body:
        item, body = _rlp_item(body)
        items.append(item)
    return items, rest
