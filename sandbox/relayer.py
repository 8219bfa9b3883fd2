"""The gasless relayer (`/relayer`) as the SDK's deposit-wallet, proxy and Safe flows use it:
`GET /deployed`, `GET /v1/account/transactions/params` and `GET /relay-payload` (relay address
and nonce), `POST /submit` (a signed envelope of calls; relayer-key or builder-key headers
required; a stale nonce is answered with the venue's "batch nonce … does not match on-chain
nonce …" text, which the SDK retries), and `GET /v1/account/transactions/{id}` (the
transaction's state: STATE_NEW → STATE_EXECUTED → STATE_MINED → STATE_CONFIRMED, or
STATE_FAILED with `error_msg`). A deposit wallet's batch signature is verified (EIP-712,
`DepositWallet` domain); proxy and Safe signatures are accepted unverified."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address

from sandbox.contracts import Call, CallError, decode_call, selector
from sandbox.refusals import VenueError

if TYPE_CHECKING:
    from sandbox.chain import Tx
    from sandbox.exchange import Exchange

RELAY_ADDRESS = "0x7e1A7e1A00000000000000000000000000000001"
PROXY_CALL = selector("proxy((uint8,address,uint256,bytes)[])")
MULTISEND = selector("multiSend(bytes)")
KEY_HEADERS = ("relayer_api_key", "relayer_api_key_address")
BUILDER_HEADERS = (
    "poly_builder_api_key",
    "poly_builder_passphrase",
    "poly_builder_signature",
    "poly_builder_timestamp",
)


def execute_params(ex: Exchange, address: str) -> dict:
    """`RelayerExecuteParams`: the relay address and the signer's next relayer nonce."""
    try:
        signer = to_checksum_address(address)
    except ValueError as exc:
        raise VenueError("invalid address") from exc
    return {"address": RELAY_ADDRESS, "nonce": str(ex.chain.nonce(signer))}


def submit(ex: Exchange, headers: dict[str, str], body: object) -> dict:
    """Take a relayed transaction; VenueError 401 without relayer auth, 400 when malformed,
    when the nonce is stale, or when a call is one the sandbox cannot run ("call blocked")."""
    if not isinstance(body, dict) or not isinstance(body.get("from"), str):
        raise VenueError("invalid transaction request")
    signer = _authorised(headers, body["from"])
    kind = body.get("type")
    if kind == "WALLET-CREATE":
        return _answer(ex.chain.submit(signer, (), "relayer"))
    wallet, calls = _unpack(kind, body)
    _check_nonce(ex, signer, body.get("nonce"))
    if kind == "WALLET":
        _verify_batch(ex, signer, wallet, body)
    ex.ledger.alias(wallet, signer)
    return _answer(ex.chain.submit(signer, calls, "relayer"))


def transaction(ex: Exchange, transaction_id: str) -> dict:
    """`GaslessTransaction`: one relayed transaction's state, hash and error."""
    tx = ex.chain.txs.get(transaction_id)
    if tx is None:
        raise VenueError("transaction not found", status=404)
    return {
        "transaction_id": tx.id,
        "transaction_hash": tx.hash,
        "state": tx.state.value,
        "error_msg": tx.error or None,
        "from": tx.account,
        "created_at": int(tx.submitted_at),
    }


def _answer(tx: Tx) -> dict:
    """`RelayerExecuteResponse`."""
    return {"transactionID": tx.id, "transactionHash": tx.hash, "state": tx.state.value}


def _authorised(headers: dict[str, str], sender: str) -> str:
    if all(headers.get(h) for h in BUILDER_HEADERS):
        return to_checksum_address(sender)
    if not all(headers.get(h) for h in KEY_HEADERS):
        raise VenueError("invalid authorization: relayer or builder API key required", 401)
    try:
        signer = to_checksum_address(sender)
        keyed = to_checksum_address(headers["relayer_api_key_address"])
    except ValueError as exc:
        raise VenueError("invalid address") from exc
    if keyed != signer:
        raise VenueError("relayer API key address does not match the signer", 401)
    return signer


def _unpack(kind: object, body: dict) -> tuple[str, tuple[Call, ...]]:
    """(wallet, calls) of a WALLET, PROXY or SAFE envelope."""
    try:
        if kind == "WALLET":
            params = body["depositWalletParams"]
            calls = tuple(decode_call(c["target"], c["data"]) for c in params["calls"])
            return params["depositWallet"], calls
        if kind == "PROXY":
            return body["proxyWallet"], _proxy_calls(body["data"])
        if kind == "SAFE":
            operation = int(body.get("signatureParams", {}).get("operation", 0))
            if operation == 1:
                return body["proxyWallet"], _multisend(body["data"])
            return body["proxyWallet"], (decode_call(body["to"], body["data"]),)
    except CallError as exc:
        raise VenueError(f"call blocked: {exc}") from exc
    except (KeyError, TypeError, ValueError, DecodingError) as exc:
        raise VenueError(f"invalid transaction request: {exc}") from exc
    raise VenueError(f"unsupported transaction type {kind!r}")


def _proxy_calls(data: str) -> tuple[Call, ...]:
    raw = bytes.fromhex(data.removeprefix("0x"))
    if raw[:4] != PROXY_CALL:
        raise CallError("not a proxy() call")
    (entries,) = abi_decode(["(uint8,address,uint256,bytes)[]"], raw[4:])
    return tuple(decode_call(to, payload) for _kind, to, _value, payload in entries)


def _multisend(data: str) -> tuple[Call, ...]:
    raw = bytes.fromhex(data.removeprefix("0x"))
    if raw[:4] != MULTISEND:
        raise CallError("not a multiSend() call")
    (packed,) = abi_decode(["bytes"], raw[4:])
    calls = []
    while packed:
        to, size = packed[1:21], int.from_bytes(packed[53:85], "big")
        calls.append(decode_call(to_checksum_address(to), packed[85 : 85 + size]))
        packed = packed[85 + size :]
    return tuple(calls)


def _check_nonce(ex: Exchange, signer: str, nonce: object) -> None:
    expected = ex.chain.nonce(signer)
    if nonce is None or str(nonce) != str(expected):
        raise VenueError(f"batch nonce {nonce} does not match on-chain nonce {expected}")


def _verify_batch(ex: Exchange, signer: str, wallet: str, body: dict) -> None:
    """The deposit wallet's EIP-712 `Batch` must be signed by the signer (an owner's 65-byte
    signature; a session key's wrapped signature is accepted unverified)."""
    signature = str(body.get("signature", ""))
    if len(signature.removeprefix("0x")) != 130:
        return
    params = body["depositWalletParams"]
    try:
        deadline, nonce = int(params["deadline"]), int(body["nonce"])
    except (KeyError, TypeError, ValueError) as exc:
        raise VenueError("invalid transaction request: bad deadline or nonce") from exc
    typed = {
        "domain": {
            "name": "DepositWallet",
            "version": "1",
            "chainId": ex.config.chain_id,
            "verifyingContract": wallet,
        },
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Call": [
                {"name": "target", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "data", "type": "bytes"},
            ],
            "Batch": [
                {"name": "wallet", "type": "address"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
                {"name": "calls", "type": "Call[]"},
            ],
        },
        "primaryType": "Batch",
        "message": {
            "wallet": wallet,
            "nonce": nonce,
            "deadline": deadline,
            "calls": [
                {
                    "target": c["target"],
                    "value": int(c["value"]),
                    "data": bytes.fromhex(str(c["data"]).removeprefix("0x")),
                }
                for c in params["calls"]
            ],
        },
    }
    try:
        signable = encode_typed_data(full_message=typed)
        recovered = Account.recover_message(signable, signature=signature)
    except Exception as exc:  # eth_keys' BadSignature: answered as the venue's 400
        raise VenueError("invalid signature") from exc
    if recovered.lower() != signer.lower():
        raise VenueError("invalid signature")
