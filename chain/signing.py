"""Keys and signatures with coincurve and keccak only: the one place a private key signs or a signature is recovered.

A ``Signer`` holds a private key and signs 32-byte digests (an EIP-712 action's, a transaction's) and EIP-191
messages (``personal_sign``, what Sign-In with Ethereum uses); ``recover`` finds the address that signed a digest.
``dev_key`` derives a key of the well-known dev mnemonic (BIP-39 seed, BIP-32 path ``m/44'/60'/0'/0/N``).

eth-account does all of this too, but importing it costs about 0.5 s of CPU (its keystore code loads py_ecc's BLS
curves), which every `procure` command would pay before its first RPC call. Its keystore files are still read and
written with it (chain/keys.py, imported on that path only). tests/chain/test_signing.py checks every function here
against eth-account: the same signature bytes, the same recovered address, the same dev accounts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol

from Crypto.Hash import keccak as _keccak

if TYPE_CHECKING:  # imported where a key is used: reading and checksumming addresses need no curve
    import coincurve

__all__ = [
    "KeyHolder",
    "Signable",
    "SignedMessage",
    "Signer",
    "checksum_address",
    "dev_key",
    "is_checksum_address",
    "keccak",
    "personal_digest",
    "recover",
    "signer_of",
]


def keccak(data: bytes) -> bytes:
    """Keccak-256 of ``data`` (Ethereum's hash: not NIST SHA3-256), by pycryptodome as eth-hash would, without
    eth-hash's import of ``importlib.metadata``: the indexer's fetch process is ready that much sooner."""
    return _keccak.new(data=data, digest_bits=256).digest()


# The order of secp256k1's group.
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HARDENED = 1 << 31
_HEX_ADDRESS = re.compile(r"(?:0[xX])?[0-9a-fA-F]{40}")


class KeyHolder(Protocol):
    """Anything holding a private key as bytes: a ``Signer``, or eth-account's ``LocalAccount`` (tests)."""

    @property
    def key(self) -> bytes: ...


class Signable(Protocol):
    """An EIP-191 message in three parts, as eth-account's ``SignableMessage`` (``encode_defunct``) gives it."""

    @property
    def version(self) -> bytes: ...

    @property
    def header(self) -> bytes: ...

    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True)
class SignedMessage:
    """A signature of an EIP-191 message: 65 bytes, r || s || v (v 27 or 28)."""

    signature: bytes


def personal_digest(text: str | bytes) -> bytes:
    """The digest ``personal_sign`` signs (EIP-191 version 0x45): keccak256 of the prefix, the length, the text."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode("ascii") + data)


def checksum_address(address: str | bytes) -> str:
    """``address`` (40 hex digits, 0x or not, any case; or 20 bytes) in its EIP-55 form; ValueError for anything
    else. Where eth-utils' ``to_checksum_address`` would cost a command 0.2 s of imports (pydantic)."""
    if isinstance(address, bytes | bytearray) and len(address) == 20:
        lower = bytes(address).hex()
    elif isinstance(address, str) and _HEX_ADDRESS.fullmatch(address):
        lower = address[-40:].lower()
    else:
        raise ValueError(f"{address!r} is not an address (0x and 40 hex digits)")
    hashed = keccak(lower.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if h in "89abcdef" else c for c, h in zip(lower, hashed, strict=False))


def is_checksum_address(value: object) -> bool:
    """True if ``value`` is an address written in its EIP-55 form, 0x included."""
    return (
        isinstance(value, str)
        and value[:2] == "0x"
        and _HEX_ADDRESS.fullmatch(value) is not None
        and (value == checksum_address(value))
    )


def _address_of(public: coincurve.PublicKey) -> str:
    return checksum_address(keccak(public.format(compressed=False)[1:])[-20:])


class Signer:
    """A private key in memory and its address; ``repr`` never shows the key."""

    __slots__ = ("_private", "address")

    def __init__(self, key: bytes) -> None:
        import coincurve

        key = bytes(key)
        if len(key) != 32 or not 0 < int.from_bytes(key, "big") < _N:
            raise ValueError("a private key is 32 bytes, a number from 1 to the curve order less one")
        self._private = coincurve.PrivateKey(key)
        self.address = _address_of(self._private.public_key)

    def __repr__(self) -> str:
        return f"Signer({self.address})"

    @property
    def key(self) -> bytes:
        """The private key's 32 bytes."""
        return bytes(self._private.secret)

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest: r || s || v, s low and v 27 or 28, deterministic (RFC 6979) as eth-account's."""
        if len(digest) != 32:
            raise ValueError(f"a digest is 32 bytes, not {len(digest)}")
        signature = self._private.sign_recoverable(digest, hasher=None)
        return signature[:64] + bytes([27 + signature[64]])

    def sign_text(self, text: str | bytes) -> bytes:
        """``personal_sign`` of ``text`` (EIP-191 version 0x45)."""
        return self.sign_digest(personal_digest(text))

    def sign_message(self, message: Signable) -> SignedMessage:
        """Sign an EIP-191 message given in eth-account's three parts (what its ``sign_message`` does)."""
        return SignedMessage(self.sign_digest(keccak(b"\x19" + message.version + message.header + message.body)))


def signer_of(account: KeyHolder) -> Signer:
    """``account`` as a ``Signer`` (itself if it is one)."""
    return account if isinstance(account, Signer) else Signer(bytes(account.key))


def recover(digest: bytes, signature: bytes) -> str:
    """The checksummed address whose key signed ``digest``. The signature is r || s || v with v 0, 1, 27 or 28 (s
    high or low, as eth-account takes it); ValueError for any other form."""
    if len(digest) != 32:
        raise ValueError(f"a digest is 32 bytes, not {len(digest)}")
    if len(signature) != 65:
        raise ValueError(f"a signature is 65 bytes (r, s, v), not {len(signature)}")
    v = signature[64] - 27 if signature[64] >= 27 else signature[64]
    if v not in (0, 1):
        raise ValueError(f"a signature's v is 0, 1, 27 or 28, not {signature[64]}")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")
    if not (0 < r < _N and 0 < s < _N):
        raise ValueError("a signature's r and s are numbers from 1 to the curve order less one")
    import coincurve

    try:
        public = coincurve.PublicKey.from_signature_and_message(signature[:64] + bytes([v]), digest, hasher=None)
    except Exception as exc:  # coincurve's own error: no point on the curve has this r
        raise ValueError(f"no key signed this: {exc}") from None
    return _address_of(public)


# BIP-39 (a mnemonic's seed) and BIP-32 (private child keys) for the dev mnemonic's accounts.


@cache
def _seed_node(mnemonic: str, passphrase: str) -> tuple[int, bytes]:
    """The master key and chain code of a mnemonic's BIP-39 seed."""
    words = unicodedata.normalize("NFKD", mnemonic).encode("utf-8")
    salt = b"mnemonic" + unicodedata.normalize("NFKD", passphrase).encode("utf-8")
    seed = hashlib.pbkdf2_hmac("sha512", words, salt, 2048)
    node = hmac.digest(b"Bitcoin seed", seed, "sha512")
    return int.from_bytes(node[:32], "big"), node[32:]


def _child(key: int, chain_code: bytes, index: int) -> tuple[int, bytes]:
    """BIP-32's private child key derivation (CKDpriv)."""
    import coincurve

    if index >= _HARDENED:
        data = b"\x00" + key.to_bytes(32, "big") + index.to_bytes(4, "big")
    else:
        public = coincurve.PrivateKey(key.to_bytes(32, "big")).public_key.format(compressed=True)
        data = public + index.to_bytes(4, "big")
    node = hmac.digest(chain_code, data, "sha512")
    tweak = int.from_bytes(node[:32], "big")
    child = (tweak + key) % _N
    if tweak >= _N or child == 0:  # probability below 2^-127: BIP-32 says skip to the next index
        raise ValueError(f"BIP-32 child {index} is invalid; use the next index")
    return child, node[32:]


@cache
def _path_node(mnemonic: str, passphrase: str, path: tuple[int, ...]) -> tuple[int, bytes]:
    if not path:
        return _seed_node(mnemonic, passphrase)
    return _child(*_path_node(mnemonic, passphrase, path[:-1]), path[-1])


def dev_key(mnemonic: str, index: int) -> Signer:
    """Account ``index`` of ``mnemonic`` (no passphrase) on Ethereum's path ``m/44'/60'/0'/0/index``, as wallets,
    anvil and Hardhat derive it."""
    if not 0 <= index < _HARDENED:
        raise ValueError(f"a BIP-32 index is 0..{_HARDENED - 1}, not {index}")
    account_path = (44 + _HARDENED, 60 + _HARDENED, _HARDENED, 0)
    key, _ = _path_node(mnemonic, "", (*account_path, index))
    return Signer(key.to_bytes(32, "big"))
