"""Checkpoints for ``--resume``: a small JSON file replaced atomically.

Order of writes (why a crash at any point is safe):

1. the output records are written and ``fsync``ed (:meth:`DurableOutput.sync`);
2. then the checkpoint, naming the durable output offset, is written to a temporary file, ``fsync``ed
   and renamed over the old one (rename is atomic), and the directory is ``fsync``ed.

So the checkpoint never claims more output than is on disk. Output written after the last
checkpoint is found again on resume (:func:`~ckanx.bulk.jsonl.read_tail_records`) and counted, not
written twice. A load has no output: records finished after the last checkpoint are simply processed
again, which is harmless because unchanged records are skipped without writing.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["Checkpoint", "CheckpointError"]

VERSION = 1


class CheckpointError(ValueError):
    """The checkpoint is missing, unreadable or belongs to another job."""


class Checkpoint:
    """A job's resume state at ``path``; ``job`` identifies the job (command, arguments) it belongs to."""

    def __init__(self, path: Path, job: dict[str, Any]) -> None:
        self.path = path
        self.job = job

    def load(self) -> dict[str, Any]:
        """The saved state; :class:`CheckpointError` when absent or written by a different job."""
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CheckpointError(f"--resume: no checkpoint at {self.path} (nothing to resume)") from None
        except (OSError, ValueError) as err:
            raise CheckpointError(f"--resume: unreadable checkpoint {self.path}: {err}") from None
        if not isinstance(saved, dict) or saved.get("version") != VERSION:
            raise CheckpointError(f"--resume: {self.path} is not a ckanx checkpoint")
        if saved.get("job") != self.job:
            raise CheckpointError(
                f"--resume: the checkpoint {self.path} was written by a different job "
                f"({saved.get('job')}); run the same command again with --resume"
            )
        state = saved.get("state")
        if not isinstance(state, dict):
            raise CheckpointError(f"--resume: {self.path} has no state")
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Replace the checkpoint atomically and durably."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = json.dumps({"version": VERSION, "job": self.job, "state": state}, sort_keys=True)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        try:
            fd = os.open(self.path.parent or Path("."), os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass  # some file systems refuse fsync on directories; the rename is still atomic
        finally:
            os.close(fd)

    def remove(self) -> None:
        """Delete the checkpoint after a job finished."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
