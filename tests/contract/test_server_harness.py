"""Self-tests of the contract harness: the normaliser, the diff and the golden comparison must
be able to fail, or a green contract run means nothing."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from normalise import Normaliser, diff, jwt_jti, only, pick, sorted_by

import conftest
from conftest import Case, Target, compare_with_golden

UUID_A = "0f8fad5b-d9cb-469f-a165-70867728950e"
UUID_B = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def _jwt(jti: str) -> str:
    def seg(obj: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{seg({'typ': 'JWT', 'alg': 'HS256'})}.{seg({'jti': jti, 'iat': '1'})}.c2lnbmF0dXJl"


def test_uuids_numbered_by_first_appearance_and_consistent() -> None:
    n = Normaliser("http://127.0.0.1:5000")
    out = n({"id": UUID_B, "owner_org": UUID_A, "organization": {"id": UUID_A},
             "msg": f"Resource \"{UUID_B}\" was not found"})
    assert out == {"id": "<id1>", "owner_org": "<id2>", "organization": {"id": "<id2>"},
                   "msg": 'Resource "<id1>" was not found'}


def test_two_different_ids_never_share_a_placeholder() -> None:
    n = Normaliser("")
    assert n([UUID_A, UUID_B]) == ["<id1>", "<id2>"]
    # a site that reused one id where the oracle had two is caught
    assert Normaliser("")([UUID_A, UUID_A]) != ["<id1>", "<id2>"]


def test_site_timestamps_runs_tokens_and_digests() -> None:
    token = _jwt("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    n = Normaliser("http://127.0.0.1:5000")
    out = n({
        "url": "http://127.0.0.1:5000/dataset/x",
        "created": "2026-11-22T03:49:37.096331",
        "name": "ct0a1b2c3d-ds",
        "token": token,
        "jti": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "email_hash": "5b3e1b5ea8851fd8b6eea88f320179e3",
        "hash": "",
        "count": 3,
    })
    assert out == {"url": "<site>/dataset/x", "created": "<ts>", "name": "<run>-ds",
                   "token": "<token1>", "jti": "<jti1>", "email_hash": "<hex>", "hash": "",
                   "count": 3}


def test_short_values_are_not_registered() -> None:
    n = Normaliser("")
    n.register("", "token")
    n.register("abc", "token")
    assert n({"description": "", "x": "abc"}) == {"description": "", "x": "abc"}


def test_jwt_jti() -> None:
    assert jwt_jti(_jwt("the-jti-value")) == "the-jti-value"
    assert jwt_jti("not-a-jwt") is None


def test_diff_reports_paths_types_and_lengths() -> None:
    golden = {"a": {"b": [1, 2, 3]}, "c": True, "d": "x"}
    actual = {"a": {"b": [1, 5]}, "c": 1, "e": None}
    paths = [p for p, _, _ in diff(golden, actual)]
    assert paths == ["a.b.1", "a.b.<len>", "c", "d", "e"]
    assert diff(golden, golden) == []


def test_views_keep_errors_whole_and_sort_sets() -> None:
    error = {"success": False, "error": {"__type": "Not Found Error", "message": "Not found"}}
    assert only("result.name")(json.loads(json.dumps(error))) == error
    assert pick("result", "name")({"success": True, "result": [{"name": "b", "x": 1}]}) == {
        "success": True, "result": [{"name": "b"}]}
    body = {"result": {"results": [{"name": "ct00000001-b"}, {"name": "ct00000002-a"}]}}
    # run ids are ignored when sorting, so two runs sort the same way
    assert [r["name"] for r in sorted_by("result.results")(body)["result"]["results"]] == [
        "ct00000002-a", "ct00000001-b"]


class _FakeTarget(Target):
    def __init__(self) -> None:
        super().__init__("embedded", "http://127.0.0.1:1", "")


@pytest.fixture
def fake_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Case:
    monkeypatch.setattr(conftest, "GOLDEN_DIR", tmp_path)
    target = _FakeTarget()
    case = Case(target, "ct00000000", "selftest__case")
    case.steps = [{"call": "package_show", "status": 200, "body": {"result": {"name": "a"}}}]
    return case


def test_compare_passes_on_equal_and_fails_on_difference(fake_case: Case, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    golden = tmp_path / "selftest__case.json"
    golden.write_text(json.dumps({"case": "selftest__case", "steps": fake_case.steps}))
    compare_with_golden(fake_case)  # equal: no error
    fake_case.steps[0]["body"]["result"]["name"] = "b"
    with pytest.raises(AssertionError, match=r"first difference at 0:package_show\.body\.result"):
        compare_with_golden(fake_case)
    # an exact known difference lets it through, and only at that path
    monkeypatch.setitem(conftest.KNOWN_DIFFERENCES,
                        ("selftest__case", "0:package_show.body.result.name"), "self-test")
    compare_with_golden(fake_case)
    fake_case.steps[0]["status"] = 500
    with pytest.raises(AssertionError, match="status"):
        compare_with_golden(fake_case)


def test_missing_golden_fails(fake_case: Case) -> None:
    with pytest.raises(AssertionError, match="no golden transcript"):
        compare_with_golden(fake_case)


def test_golden_files_are_well_formed() -> None:
    stems = {p.stem for p in conftest.GOLDEN_DIR.glob("*.json")}
    for stem in stems:
        data = json.loads((conftest.GOLDEN_DIR / f"{stem}.json").read_text())
        assert data["case"] == stem
        assert data["steps"], stem


def test_known_differences_are_documented() -> None:
    doc = (Path(conftest.__file__).parent / "KNOWN_DIFFERENCES.md").read_text()
    for case, path in conftest.KNOWN_DIFFERENCES:
        assert f"`{case}`" in doc and f"`{path}`" in doc, (case, path)


def test_diff_key_order() -> None:
    golden = {"help": "h", "success": True, "result": {"a": 1, "b": 2}}
    actual = {"success": True, "help": "h", "result": {"b": 2, "a": 1}}
    assert diff(golden, actual) == []
    assert [p for p, _, _ in diff(golden, actual, key_order=True)] == [
        "<key order>", "result.<key order>"]
