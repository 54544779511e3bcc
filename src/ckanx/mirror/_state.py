"""The mirror's memory between runs: one small JSON file per (source, target) pair.

What it holds and why:

* ``mark``: the highest ``metadata_modified`` seen on the *source* (the source's own clock, so the
  mirror host's clock never matters). The next run asks the source only for datasets modified at or
  after ``mark`` minus a safety margin (commits still in flight when the mark was taken, clock
  steps on the source).
* ``datasets``: ``{source id: {"name", "target_id"}}`` for every dataset this mirror wrote or found
  equal on the target. Only these can ever be deleted by ``--delete-missing``: a dataset made by
  hand on the target is never in it. Ids, not names, so a rename on the source is an update.
* ``organizations`` / ``groups``: the names this mirror created or updated (same rule for deletion).
* ``files``: ``{source resource id: fingerprint}`` of each uploaded file already copied (or found
  missing on the source): the source resource's URL, size and timestamps plus the target resource
  id. While the fingerprint is the same, a re-run does not download the file again (``--full``
  always compares the bytes).

The file is replaced atomically (temporary file, ``fsync``, rename), so a crash leaves the previous
state or the new one, never half of one. A lost state file is safe: the next run compares every
dataset (unchanged ones are not written) and deletes nothing until the set is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

__all__ = ["MirrorState", "StateError", "default_state_path"]

VERSION = 1


class StateError(ValueError):
    """The state file is unreadable or belongs to another (source, target) pair."""


def default_state_path(source_url: str, target_url: str) -> Path:
    """``<user state dir>/ckanx/mirror/<hash of the two URLs>.json`` (one file per pair)."""
    digest = hashlib.sha256(f"{source_url}\n{target_url}".encode()).hexdigest()[:16]
    return Path(platformdirs.user_state_dir("ckanx")) / "mirror" / f"{digest}.json"


@dataclass
class MirrorState:
    """What a mirror remembers about one (source, target) pair; see the module docstring."""

    source: str
    target: str
    mark: str | None = None
    datasets: dict[str, dict[str, str]] = field(default_factory=dict)
    organizations: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    files: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def load(cls, path: Path, source: str, target: str) -> MirrorState:
        """The state at ``path`` (an empty state when the file does not exist)."""
        state = cls(source, target, path=path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return state
        except (OSError, ValueError) as err:
            raise StateError(f"unreadable mirror state {path}: {err}") from None
        if not isinstance(raw, dict) or raw.get("version") != VERSION:
            raise StateError(f"{path} is not a ckanx mirror state file")
        if raw.get("source") != source or raw.get("target") != target:
            raise StateError(
                f"the state file {path} belongs to the mirror {raw.get('source')} -> {raw.get('target')}, "
                f"not {source} -> {target}: give another --state FILE"
            )
        state.mark = raw.get("mark") if isinstance(raw.get("mark"), str) else None
        datasets = raw.get("datasets")
        if isinstance(datasets, dict):
            state.datasets = {
                str(k): {"name": str(v.get("name", "")), "target_id": str(v.get("target_id", ""))}
                for k, v in datasets.items()
                if isinstance(v, dict)
            }
        state.organizations = {str(n) for n in raw.get("organizations") or []}
        state.groups = {str(n) for n in raw.get("groups") or []}
        files = raw.get("files")
        if isinstance(files, dict):
            state.files = {str(k): str(v) for k, v in files.items()}
        return state

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        return {
            "version": VERSION,
            "source": self.source,
            "target": self.target,
            "mark": self.mark,
            "datasets": dict(sorted(self.datasets.items())),
            "organizations": sorted(self.organizations),
            "groups": sorted(self.groups),
            "files": dict(sorted(self.files.items())),
        }

    def save(self) -> None:
        """Replace the file atomically and durably (no-op without a path)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.to_json(), ensure_ascii=False))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
