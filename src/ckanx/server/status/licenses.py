# ruff: noqa: E501  (a data table reads best one license per line)
"""CKAN's default license register, as ``license_list`` returns it (checked against 2.11.6).

Each row: id, title, url, domain_content, domain_data, domain_software, is_generic,
od_conformance, osd_conformance. CKAN serialises the booleans as the strings "True"/"False".
"""

from __future__ import annotations

from typing import Any

LICENSES: tuple[tuple[str, ...], ...] = (
    ("notspecified", "License not specified", "", "False", "False", "False", "True", "not reviewed", "not reviewed"),
    ("odc-pddl", "Open Data Commons Public Domain Dedication and License (PDDL)", "http://www.opendefinition.org/licenses/odc-pddl", "False", "True", "False", "False", "approved", "not reviewed"),
    ("odc-odbl", "Open Data Commons Open Database License (ODbL)", "http://www.opendefinition.org/licenses/odc-odbl", "False", "True", "False", "False", "approved", "not reviewed"),
    ("odc-by", "Open Data Commons Attribution License", "http://www.opendefinition.org/licenses/odc-by", "False", "True", "False", "False", "approved", "not reviewed"),
    ("cc-zero", "Creative Commons CCZero", "http://www.opendefinition.org/licenses/cc-zero", "True", "True", "False", "False", "approved", "not reviewed"),
    ("cc-by", "Creative Commons Attribution", "http://www.opendefinition.org/licenses/cc-by", "False", "False", "False", "False", "approved", "not reviewed"),
    ("cc-by-sa", "Creative Commons Attribution Share-Alike", "http://www.opendefinition.org/licenses/cc-by-sa", "True", "False", "False", "False", "approved", "not reviewed"),
    ("gfdl", "GNU Free Documentation License", "http://www.opendefinition.org/licenses/gfdl", "True", "False", "False", "False", "approved", "not reviewed"),
    ("other-open", "Other (Open)", "", "True", "False", "False", "True", "approved", "not reviewed"),
    ("other-pd", "Other (Public Domain)", "", "True", "False", "False", "True", "approved", "not reviewed"),
    ("other-at", "Other (Attribution)", "", "True", "False", "False", "True", "approved", "not reviewed"),
    ("uk-ogl", "UK Open Government Licence (OGL)", "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/", "True", "False", "False", "False", "approved", "not reviewed"),
    ("cc-nc", "Creative Commons Non-Commercial (Any)", "http://creativecommons.org/licenses/by-nc/2.0/", "False", "False", "False", "False", "not reviewed", "not reviewed"),
    ("other-nc", "Other (Non-Commercial)", "", "False", "False", "False", "True", "not reviewed", "not reviewed"),
    ("other-closed", "Other (Not Open)", "", "False", "False", "False", "True", "not reviewed", "not reviewed"),
)  # fmt: skip


def license_dicts() -> list[dict[str, Any]]:
    """The register as ``license_list`` shows it, keys in CKAN's order."""
    out = []
    for lid, title, url, content, data, software, generic, od, osd in LICENSES:
        out.append(
            {
                "domain_content": content,
                "id": lid,
                "domain_data": data,
                "domain_software": software,
                "family": "",
                "is_generic": generic,
                "od_conformance": od,
                "osd_conformance": osd,
                "maintainer": "",
                "status": "active",
                "url": url,
                "title": title,
            }
        )
    return out
