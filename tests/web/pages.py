"""Reading the dashboard's pages in tests: the CSRF token of a form, a budget line's row, signing in by the form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response

__all__ = ["csrf_of", "line_rows", "sign_in"]

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_ROW = re.compile(r'<tr data-sub-item="([^"]+)">(.*?)</tr>', re.S)
_YEN = re.compile(r'data-yen="(-?[0-9]+)">([^<]*)<')
LINE_COLUMNS = ("appropriation", "obligated", "disbursed", "available")


def csrf_of(page: str) -> str:
    """The CSRF token of the page's form."""
    found = _CSRF.search(page)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def line_rows(page: str) -> dict[str, dict[str, tuple[int, str]]]:
    """The budget overview's lines: sub-item -> column -> (exact yen, as shown)."""
    rows = {}
    for sub_item, cells in _ROW.findall(page):
        values = [(int(yen), shown) for yen, shown in _YEN.findall(cells)]
        rows[sub_item] = dict(zip(LINE_COLUMNS, values, strict=True))
    return rows


def sign_in(client: TestClient, account: int, **headers: str) -> Response:
    """Forget the client's cookies, then sign in as demo account ``account`` through the form."""
    client.cookies.clear()
    form = client.get("/ui/sign-in", headers=headers)
    assert form.status_code == 200, form.text
    response: Response = client.post(
        "/ui/sign-in", data={"account": str(account), "csrf": csrf_of(form.text)}, headers=headers
    )
    return response
