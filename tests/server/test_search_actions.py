"""package_search, resource_search and package_autocomplete through the in-process app."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def site(api: Any, make_org: Any) -> dict[str, Any]:
    org = make_org(title="Water Board")
    other = make_org(title="Roads Office")
    made = []
    specs = [
        ("ws-river", "River levels", ["water", "hydrology"], "CSV", org, False),
        ("ws-lake", "Lake temperature readings", ["water", "climate"], "JSON", org, False),
        ("ws-roads", "Road works", ["transport"], "CSV", other, False),
        ("ws-secret", "Secret water plans", ["water"], "PDF", org, True),
    ]
    for name, title, tags, fmt, owner, private in specs:
        status, body = api(
            "package_create",
            {
                "name": name,
                "title": title,
                "owner_org": owner["id"],
                "private": private,
                "license_id": "cc-by",
                "tags": [{"name": t} for t in tags],
                "resources": [{"url": f"http://example.com/{name}.{fmt.lower()}", "format": fmt, "name": f"{name} data"}],
            },
        )
        assert status == 200, body
        made.append(body["result"])
    return {"org": org, "other": other, "datasets": made}


def test_smoke(api: Any, site: dict[str, Any]) -> None:
    status, body = api("package_search", {"fq": "tags:water", "facet.field": ["tags", "organization"]})
    assert status == 200, body
    print(body)
