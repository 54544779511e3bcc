"""``ckanx demo`` runs its checked tour against an embedded CKAN."""

from __future__ import annotations

from click.testing import CliRunner

from ckanx.cli import main
from ckanx.cli.demo import sample_datasets


def test_demo_tour_passes_its_checks() -> None:
    result = CliRunner().invoke(main, ["demo", "--datasets", "30"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "All checks passed" in result.output
    assert "30 datasets, each exactly once" in result.output


def test_sample_datasets_are_deterministic_and_unique() -> None:
    a, b = list(sample_datasets(50)), list(sample_datasets(50))
    assert a == b
    assert len({d["name"] for d in a}) == 50
    assert all(d["organization"]["name"] and d["resources"] for d in a)
