"""Regenerate the README's screenshots of the dashboard: one PNG per page in ``docs/screenshots/``.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

The world is the browser tests' (tests/web: the demo as `make up` seeds it on an eth-tester chain, plus the acts
it lacks: evidence, two passes and the payment, a price raise approved days after creation (a red flag), the
pending transfer approved), served by uvicorn on a free port in this process; Debian's Chromium
(``/usr/bin/chromium``, through Playwright; never a downloaded browser) signs in as the demo accounts and saves
each page at 1280x800. Dates on the pages are today's: the pictures change from one run to the next. The Japanese
pages need a Japanese font for Chromium (Debian: ``apt-get install -y fonts-ipafont-gothic``), else they show boxes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # run as a script: the tests' world is imported from the checkout
    sys.path.insert(0, str(_ROOT))


from chain.devnet import DEV_INDEX  # noqa: E402
from tests.web.browser import CHROMIUM  # noqa: E402
from tests.web.live import serving  # noqa: E402
from tests.web.records import RecordedDemo, build_recorded_demo  # noqa: E402

WIDTH, HEIGHT = 1280, 800


def _shots(demo: RecordedDemo) -> list[tuple[str, int, str, str]]:
    """(file name, demo account, language, page) of each screenshot."""
    finance, auditor = DEV_INDEX["finance"], DEV_INDEX["auditor"]
    year = demo.fiscal_year
    return [
        ("sign-in.png", -1, "ja", "/ui/sign-in"),
        ("budget-ja.png", finance, "ja", "/ui/budget"),
        ("budget-en.png", finance, "en", "/ui/budget"),
        ("budget-chart-en.png", finance, "en", "/ui/budget#burn"),
        ("line-en.png", finance, "en", f"/ui/budget/lines/{year}/1"),
        ("procurements-en.png", auditor, "en", "/ui/procurements?q=goggles"),
        ("procurement-en.png", auditor, "en", f"/ui/procurements/{demo.escrow}"),
        ("audit-en.png", auditor, "en", "/ui/audit"),
        ("flags-en.png", auditor, "en", "/ui/audit/flags"),
        ("trail-en.png", auditor, "en", f"/ui/audit/procurements/{demo.escrow}/trail"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=_ROOT / "docs" / "screenshots", help="where the PNGs go")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        demo = build_recorded_demo(Path(scratch))
        with serving(demo.app) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
            signed_in: dict[tuple[int, str], object] = {}
            for name, account, lang, path in _shots(demo):
                key = (account, lang)
                context = signed_in.get(key)
                if context is None:
                    context = browser.new_context(
                        locale="ja-JP" if lang == "ja" else "en-GB", viewport={"width": WIDTH, "height": HEIGHT}
                    )
                    if account >= 0:
                        page = context.new_page()  # type: ignore[attr-defined]
                        page.goto(f"{base_url}/ui/sign-in")
                        page.locator("#account").select_option(str(account))
                        page.locator("form button[type=submit]").last.click()
                        page.wait_for_url(f"{base_url}/ui/budget")
                        page.close()
                    signed_in[key] = context
                page = context.new_page()  # type: ignore[attr-defined]
                response = page.goto(f"{base_url}{path}")
                if response is None or response.status != 200:
                    print(f"{path}: {None if response is None else response.status}", file=sys.stderr)
                    return 1
                page.screenshot(path=str(out / name))
                page.close()
                print(f"{out / name}: {(out / name).stat().st_size // 1024} KB")
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
