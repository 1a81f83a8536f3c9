"""The web dashboard: server-rendered pages under ``/ui`` (gateway/web/pages.py), in Japanese and English
(gateway/web/i18n.py), reading through the same services and scope as the JSON API."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gateway.web import audit_pages, line_pages
from gateway.web.pages import STATIC_DIR, router

__all__ = ["install_pages"]


def install_pages(app: FastAPI) -> None:
    """Serve the dashboard's static files and its pages (in that order, and gateway/web/pages.py's router last: it
    ends with a catch-all 404)."""
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    app.include_router(line_pages.router)
    app.include_router(audit_pages.router)
    app.include_router(router)
