"""The web dashboard: server-rendered pages under ``/ui`` (gateway/web/pages.py), in Japanese and English
(gateway/web/i18n.py), reading through the same services and scope as the JSON API; actions signed in the browser
(gateway/web/actions.py) and live pages (gateway/web/live.py)."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from chain import project_root
from gateway.web import audit_pages, line_pages
from gateway.web.actions import router as actions_router
from gateway.web.live import router as live_router
from gateway.web.pages import STATIC_DIR, router

__all__ = ["EVIDENCE_UPLOAD_PAGE", "VENDOR_FILES", "install_pages"]

#: The page's evidence upload (gateway/web/actions.py), which takes a document as large as ``POST /evidence`` does.
EVIDENCE_UPLOAD_PAGE = re.compile(r"^/ui/procurements/[^/]{1,200}/evidence/?$")

#: The npm packages' files the pages load, served from node_modules (installed by `make setup`; no CDN).
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "sse.min.js": "htmx-ext-sse/dist/sse.min.js",
}


async def vendor_file(name: str) -> Response:
    """One of ``VENDOR_FILES``, from node_modules."""
    if name not in VENDOR_FILES:
        return Response("not found", status_code=404, media_type="text/plain")
    path = project_root() / "node_modules" / VENDOR_FILES[name]
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})


def install_pages(app: FastAPI) -> None:
    """Serve the dashboard's vendor and static files, its actions, live streams and pages (in that order, and
    gateway/web/pages.py's router last: it ends with a catch-all 404)."""
    app.add_api_route("/ui/static/vendor/{name}", vendor_file, methods=["GET"], include_in_schema=False)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    app.include_router(actions_router)
    app.include_router(live_router)
    app.include_router(line_pages.router)
    app.include_router(audit_pages.router)
    app.include_router(router)
