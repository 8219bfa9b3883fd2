"""Venue authentication: L1 (EIP-712 ClobAuth) for API-key creation, L2 (HMAC headers) for
trading, and EIP-712 order signatures (EOA orders are verified; other signature types are
accepted unverified, see docs/sandbox.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
STANDARD_EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
_ORDER_TYPE = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
    "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,"
    "bytes32 builder)"
)
_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"


class AuthError(Exception):
    """Authentication failed; the message is the venue's 401 text."""


@dataclass(frozen=True, slots=True)
class ApiCreds:
    key: str
    secret: str
    passphrase: str
    address: str


def _clob_auth_typed_data(address: str, chain_id: int, timestamp: str, nonce: int) -> dict:
    return {
        "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": chain_id},
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "ClobAuth": [
                {"name": "address", "type": "address"},
                {"name": "timestamp", "type": "string"},
                {"name": "nonce", "type": "uint256"},
                {"name": "message", "type": "string"},
            ],
        },
        "primaryType": "ClobAuth",
        "message": {
            "address": address,
            "timestamp": timestamp,
            "nonce": nonce,
            "message": CLOB_AUTH_MESSAGE,
        },
    }


def verify_l1(headers: Mapping[str, str], chain_id: int) -> tuple[str, int]:
    """Check the L1 headers; return (checksummed address, nonce)."""
    try:
        address = headers["poly_address"]
        signature = headers["poly_signature"]
        timestamp = headers["poly_timestamp"]
        nonce = int(headers.get("poly_nonce", "0"))
        typed = _clob_auth_typed_data(address, chain_id, timestamp, nonce)
        recovered = Account.recover_message(
            encode_typed_data(full_message=typed), signature=signature
        )
    except Exception as exc:  # noqa: BLE001 - any malformed header is the same 401
        raise AuthError("Invalid L1 Request headers") from exc
    if recovered.lower() != address.lower():
        raise AuthError("Invalid L1 Request headers")
    return recovered, nonce


def derive_creds(server_secret: bytes, address: str, nonce: int) -> ApiCreds:
    """Deterministic credentials per (address, nonce), so create and derive agree."""
    digest = hmac.new(server_secret, f"{address.lower()}:{nonce}".encode(), hashlib.sha256)
    raw = digest.digest()
    return ApiCreds(
        key=str(uuid.UUID(bytes=raw[:16])),
        secret=base64.urlsafe_b64encode(hashlib.sha256(raw + b"s").digest()).decode(),
        passphrase=hashlib.sha256(raw + b"p").hexdigest(),
        address=address,
    )


def hmac_signature(secret: str, timestamp: str, method: str, path: str, body: str) -> str:
    """The L2 signature the venue expects (urlsafe base64 HMAC-SHA256)."""
    key = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    message = f"{timestamp}{method}{path}{body}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def verify_l2(
    headers: Mapping[str, str], method: str, path: str, body: str, keys: Mapping[str, ApiCreds]
) -> ApiCreds:
    """Check the five L2 headers against a known key; return its credentials."""
    creds = keys.get(headers.get("poly_api_key", ""))
    if creds is None:
        raise AuthError("Unauthorized/Invalid api key")
    if headers.get("poly_passphrase") != creds.passphrase:
        raise AuthError("Unauthorized/Invalid api key")
    if headers.get("poly_address", "").lower() != creds.address.lower():
        raise AuthError("Unauthorized/Invalid api key")
    expected = hmac_signature(creds.secret, headers.get("poly_timestamp", ""), method, path, body)
    if not hmac.compare_digest(expected, headers.get("poly_signature", "")):
        raise AuthError("Unauthorized/Invalid api key")
    return creds


def _domain_separator(chain_id: int, exchange: str) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(_DOMAIN_TYPE.encode()),
                keccak(b"Polymarket CTF Exchange"),
                keccak(b"2"),
                chain_id,
                exchange,
            ],
        )
    )


def order_digest(order: Mapping[str, object], chain_id: int, exchange: str) -> bytes:
    """EIP-712 digest of a V2 order as the SDK signs it."""
    struct = abi_encode(
        [
            "bytes32",
            "uint256",
            "address",
            "address",
            "uint256",
            "uint256",
            "uint256",
            "uint8",
            "uint8",
            "uint256",
            "bytes32",
            "bytes32",
        ],
        [
            keccak(_ORDER_TYPE.encode()),
            int(order["salt"]),
            order["maker"],
            order["signer"],
            int(order["tokenId"]),
            int(order["makerAmount"]),
            int(order["takerAmount"]),
            0 if order["side"] == "BUY" else 1,
            int(order["signatureType"]),
            int(order["timestamp"]),
            bytes.fromhex(str(order["metadata"])[2:]),
            bytes.fromhex(str(order["builder"])[2:]),
        ],
    )
    return keccak(b"\x19\x01" + _domain_separator(chain_id, exchange) + keccak(struct))


def order_signature_ok(order: Mapping[str, object], chain_id: int) -> bool:
    """True if an EOA order is signed by its signer (= maker); other types are not checked."""
    if int(order["signatureType"]) != 0:
        return True
    if str(order["signer"]).lower() != str(order["maker"]).lower():
        return False
    try:
        digest = order_digest(order, chain_id, STANDARD_EXCHANGE)
        recovered = Account._recover_hash(digest, signature=str(order["signature"]))
    except Exception:  # noqa: BLE001 - a malformed signature is simply invalid
        return False
    return recovered.lower() == str(order["signer"]).lower()
