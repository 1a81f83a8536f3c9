"""The browser tests' plumbing (their fixtures, ``base_url``, ``browser`` and ``page``, are in conftest.py): Debian's
Chromium or a skipped module, and signing in with the keyboard."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from playwright.sync_api import Page

__all__ = ["CHROMIUM", "require_chromium", "sign_in_by_keyboard", "wallet_key"]

CHROMIUM = Path("/usr/bin/chromium")


def require_chromium() -> None:
    """Skip the calling test module without /usr/bin/chromium, except on CI (``CI=true``), where that is a failure:
    `.ci/run` installs it. Never a downloaded browser."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser tests"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (on CI .ci/run installs it)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def sign_in_by_keyboard(page: Page, base_url: str, account: int, label: str) -> None:
    """Sign in as demo account ``account`` with the keyboard: choose it, Tab to the button, Enter."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/ui")
    expect(page).to_have_url(f"{base_url}/ui/sign-in")
    select = page.get_by_label(label)
    select.select_option(str(account))
    select.focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/ui/budget$"))


def wallet_key(index: int, chain_id: int) -> LocalAccount:
    """Dev account ``index`` held as a browser wallet holds it: eth-account's implementation, independent of the
    gateway's own signing (chain/signing.py), signs what the tests' wallets sign."""
    from eth_account import Account

    from chain.keys import dev_account

    account: LocalAccount = Account.from_key(dev_account(index, chain_id).key)
    return account
