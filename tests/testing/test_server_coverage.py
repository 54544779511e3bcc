"""The generated coverage document: its logic, and that the committed copy is current."""

from __future__ import annotations

from pathlib import Path

from ckanx.server import coverage
from ckanx.server.registry import ActionSpec

REPO = Path(__file__).resolve().parents[2]


def _spec(name: str, read: bool = False, versions: tuple[str, ...] = ("2.11", "2.12")) -> ActionSpec:
    return ActionSpec(name, lambda ctx, data: None, read, frozenset(versions))


def test_action_lists_are_clean() -> None:
    names = [n for family in coverage.CKAN_ACTIONS.values() for n in family]
    assert len(names) == len(set(names)), "an action listed in two families"
    assert set(names) >= coverage.ADDED_IN_212
    assert set(names) >= coverage.READ_ACTIONS
    # a few facts that anchor the lists (checked against live CKAN 2.11.6 / 2.12.0)
    assert "package_search" in coverage.READ_ACTIONS
    assert "package_create" not in coverage.READ_ACTIONS
    assert {"file_create", "file_show"} <= coverage.ADDED_IN_212
    assert "file_search" not in names  # not an action in 2.12.0
    assert "set_datastore_active_flag" not in names  # a helper, not registered


def test_render_marks_implemented_versions_and_get_mismatch() -> None:
    doc = coverage.render(
        {
            "package_show": _spec("package_show", read=True),
            "package_create": _spec("package_create", read=True),  # wrong: CKAN needs POST
            "file_show": _spec("file_show", read=True, versions=("2.12",)),
            "resource_view_list": _spec("resource_view_list", read=True, versions=("2.11",)),
            "ckanx_debug": _spec("ckanx_debug"),
        },
        "# Known differences\n\n## Search\n- ranking differs\n",
    )
    assert "| `package_show` | yes | yes | GET |  |" in doc
    assert "| `package_create` | yes | yes |  | GET allowed here, not on CKAN |" in doc
    assert "| `file_show` | n/a | yes | GET |  |" in doc
    assert "| `file_create` | n/a | no |  |  |" in doc
    assert "| `resource_view_list` | yes | no | GET |  |" in doc
    assert "| `package_patch` | no | no |  |  |" in doc
    assert "- `ckanx_debug`" in doc
    assert "| 2.11 | 3 | 157 |" in doc
    assert "| 2.12 | 3 | 169 |" in doc
    known = doc.split("## Known differences\n", 1)[1]
    assert "### Search\n- ranking differs" in known
    assert "# Known differences" not in known


def test_render_without_known_differences() -> None:
    doc = coverage.render({}, None)
    assert doc.rstrip().endswith("None recorded (`tests/contract/KNOWN_DIFFERENCES.md`).")
    assert "| 2.11 | 0 | 157 |" in doc


def test_committed_document_is_current() -> None:
    committed = (REPO / "docs" / "server-coverage.md").read_text(encoding="utf-8")
    expected = coverage.current_document(REPO / "tests" / "contract" / "KNOWN_DIFFERENCES.md")
    assert committed == expected, (
        "docs/server-coverage.md is out of date: run `python -m ckanx.server.coverage > docs/server-coverage.md`"
    )
