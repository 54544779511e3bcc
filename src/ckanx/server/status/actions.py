"""status_show and friends."""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..registry import action


@action("status_show", read=True)
def status_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "site_title": "CKAN",
        "site_description": "",
        "site_url": ctx.site_url,
        "error_emails_to": "",
        "locale_default": "en",
        "extensions": ["activity", "datastore"],
        "ckan_version": ctx.server.full_version,
    }
