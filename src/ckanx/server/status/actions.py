"""Site-level actions: status_show, help_show, license_list."""

from __future__ import annotations

from typing import Any

from .. import errors, registry
from ..context import Context
from ..registry import action
from ..users.validation import get_or_bust
from .licenses import license_dicts

# status_show's "extensions": the CKAN plugin a real site would need for what this server
# offers, listed when the family providing it is loaded (CKAN's order).
_EXTENSIONS = (("activity", "package_activity_list"), ("datastore", "datastore_search"))


@action("status_show", read=True)
def status_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Return a dictionary describing this site: title, URL, CKAN version, plugins.

    :rtype: dictionary
    """
    extensions = [plugin for plugin, marker in _EXTENSIONS if registry.lookup(marker, ctx.version) is not None]
    return {
        "site_title": "CKAN",
        "site_description": "",
        "site_url": ctx.site_url,
        "error_emails_to": "",
        "locale_default": "en",
        "extensions": extensions,
        "ckan_version": ctx.server.full_version,
    }


@action("help_show", read=True)
def help_show(ctx: Context, data: dict[str, Any]) -> str | None:
    """Return the documentation of an action (its docstring).

    :param name: the name of the action, e.g. ``package_create``
    :rtype: string
    """
    (name,) = get_or_bust(data, "name")
    spec = registry.lookup(name, ctx.version) if isinstance(name, str) else None
    if spec is None:
        raise errors.NotFound("Not found: Action function not found")
    return spec.func.__doc__


@action("license_list", read=True)
def license_list(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the licenses available for datasets on this site.

    :rtype: list of dictionaries
    """
    return license_dicts()
