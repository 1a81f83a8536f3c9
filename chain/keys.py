"""Signing keys: encrypted keystore files, or the well-known dev mnemonic on a local dev chain only."""

from __future__ import annotations

import json
import os
from pathlib import Path

from chain.errors import ConfigurationError
from chain.signing import KeyHolder, Signer, dev_key

__all__ = ["DEV_CHAIN_IDS", "DEV_MNEMONIC", "dev_account", "load_keystore", "write_keystore"]

# The mnemonic anvil and Hardhat fund by default. Public knowledge: never use it on a real chain.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_CHAIN_IDS = frozenset({31337, 131277322940537})  # anvil/Hardhat local node, eth-tester
MAX_KEYSTORE_BYTES = 64 * 1024


def dev_account(index: int, chain_id: int) -> Signer:
    """Dev account ``index`` of the well-known mnemonic; refused on any chain that is not a local dev chain."""
    if chain_id not in DEV_CHAIN_IDS:
        raise ConfigurationError(
            f"dev keys are refused on chain id {chain_id}: use --keystore (dev chains: {sorted(DEV_CHAIN_IDS)})"
        )
    if not 0 <= index < 1000:
        raise ConfigurationError(f"dev account index must be 0..999, got {index}")
    return dev_key(DEV_MNEMONIC, index)


def load_keystore(path: Path, password: str | None = None) -> Signer:
    """Decrypt an eth-account keystore file; the password comes from the argument or $PROCURE_KEYSTORE_PASSWORD."""
    from eth_account import Account  # here: its imports cost about 0.5 s, which only a keystore's user pays

    if password is None:
        password = os.environ.get("PROCURE_KEYSTORE_PASSWORD")
    if password is None:
        raise ConfigurationError(f"keystore {path} needs a password: set PROCURE_KEYSTORE_PASSWORD")
    try:
        if path.stat().st_size > MAX_KEYSTORE_BYTES:
            raise ConfigurationError(f"keystore {path} is larger than {MAX_KEYSTORE_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"keystore {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"keystore {path} is not a readable JSON keystore: {exc}") from None
    try:
        key = Account.decrypt(data, password)
    except ValueError:
        raise ConfigurationError(f"keystore {path}: wrong password or corrupt file") from None
    except (KeyError, TypeError) as exc:
        raise ConfigurationError(f"keystore {path} is not a keystore file (missing {exc})") from None
    return Signer(key)


def write_keystore(account: KeyHolder, path: Path, password: str) -> Path:
    """Encrypt ``account`` into a keystore file readable only by its owner."""
    from eth_account import Account

    data = Account.encrypt(account.key, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    return path
