"""High-level objects over CKAN's plain dicts: :class:`Dataset`, :class:`Resource`,
:class:`Organization`, :class:`Group` (and their async twins).

The dict a site returned stays available as ``.data``; core fields are attributes, ``extras`` is a
mutable mapping, and every object remembers what it looked like when loaded, so that
:meth:`~_Record.changes` says what changed and ``save()`` sends **only** that change.

Saving never loses data (see ``CKAN-FACTS.md``, "Writes that lose data"):

* a dataset is saved with ``package_revise``: ``match`` on its ``id`` and ``metadata_modified``
  as loaded (optimistic concurrency: if anyone changed it since, :class:`ConflictError` is raised
  and nothing is written), ``update`` for top-level fields, flattened keys
  (``update__resources__<id>__<field>``, ``update__extras__<i>__value``) for edits inside lists,
  ``filter`` for removals and ``update__<list>__extend`` for additions. Resources, extras, tags and
  groups that were not touched are never sent, so they cannot be dropped or re-created;
* a resource loaded on its own is saved with ``package_revise`` too, matching the *fields it
  changes* (``match__resources__<id>__<field>`` = the loaded value): a concurrent edit of the same
  field is a conflict, one of another field is kept;
* organizations and groups are saved with ``*_patch`` carrying only the changed fields (members and
  datasets are kept: checked on CKAN 2.11.6). CKAN has no ``metadata_modified`` for groups, so
  there is no optimistic concurrency for them; an ``extras`` change sends the whole extras list.

Loading checks that the site returned the object asked for (its ``id`` or ``name``) and treats a
``deleted`` object as not found unless ``allow_deleted=True``.

Sync and async objects share one I/O-free core: each operation is a generator that yields the
calls it needs (:class:`_Call`) and receives their results; :func:`_run_sync` and
:func:`_run_async` are the only places that do I/O.

Example::

    ds = Dataset.load(ck, "my-dataset")
    ds.title = "A better title"
    ds.extras["source"] = "survey 2024"
    ds.resources[0].description = "Updated monthly"
    ds.changes()  # {'title': Change(old='...', new='A better title'), 'extras': ..., 'resources': ...}
    ds.save()     # one package_revise with only these three edits
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Generator, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from . import _exceptions as exc

__all__ = [
    "AsyncDataset",
    "AsyncGroup",
    "AsyncOrganization",
    "AsyncResource",
    "Change",
    "ConflictError",
    "Dataset",
    "Extras",
    "Group",
    "ObjectManager",
    "Organization",
    "Resource",
    "WrongObjectError",
    "revise_payload",
]

_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "MISSING"})()
"""Marks a field absent from a dict (distinct from ``None``)."""


ConflictError = exc.ConflictError
WrongObjectError = exc.WrongObjectError


@dataclass(frozen=True)
class Change:
    """One changed field: its value when loaded and now (``MISSING`` when absent)."""

    old: Any
    new: Any


@dataclass(frozen=True)
class _Call:
    action: str
    data: dict[str, Any]


Steps = Generator[_Call, Any, Any]
R = TypeVar("R", bound="_Record")


def _run_sync(client: Any, steps: Steps) -> Any:
    """Drive an operation with a synchronous client; errors are thrown into the generator."""
    outcome: Any = None
    error: BaseException | None = None
    while True:
        try:
            call = steps.throw(error) if error is not None else steps.send(outcome)
        except StopIteration as stop:
            return stop.value
        try:
            outcome, error = client.call_action(call.action, call.data), None
        except exc.CKANAPIError as err:
            outcome, error = None, err


async def _run_async(client: Any, steps: Steps) -> Any:
    """The async twin of :func:`_run_sync` (same loop, awaited call)."""
    outcome: Any = None
    error: BaseException | None = None
    while True:
        try:
            call = steps.throw(error) if error is not None else steps.send(outcome)
        except StopIteration as stop:
            return stop.value
        try:
            outcome, error = await client.call_action(call.action, call.data), None
        except exc.CKANAPIError as err:
            outcome, error = None, err


def _conflict(err: exc.ValidationError, what: str) -> ConflictError:
    conflict = ConflictError(
        f"{what} changed on the server since it was loaded ({', '.join(map(str, err.error_dict.get('match', [])))} "
        "differs); nothing was written: reload, re-apply the edit and save again",
        error=err.error,
        action=err.action,
        status_code=err.status_code,
        url=err.url,
        body=err.body,
    )
    conflict.__cause__ = err
    return conflict


def _is_match_failure(err: exc.CKANAPIError) -> bool:
    """CKAN's answer to a failed ``match``: 409 ``{"match": [paths]}`` (also ``match__<key>``)."""
    return isinstance(err, exc.ValidationError) and any(k == "match" or k.startswith("match__") for k in err.error_dict)


# ---------------------------------------------------------------- field access


class _Field:
    """A core field as an attribute: reads ``data[name]`` (``None`` if absent), writes it back."""

    def __init__(self, readonly: bool = False) -> None:
        self.readonly = readonly
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: _Record | None, owner: type) -> Any:
        if obj is None:
            return self
        return obj.data.get(self.name)

    def __set__(self, obj: _Record, value: Any) -> None:
        if self.readonly:
            raise AttributeError(f"{self.name} is set by the server and cannot be changed")
        obj.data[self.name] = value


class Extras(MutableMapping[str, Any]):
    """``extras`` (CKAN's list of ``{"key", "value"}``) as a mapping; edits change the list in place."""

    def __init__(self, owner: dict[str, Any]) -> None:
        self._owner = owner

    def _items(self) -> list[dict[str, Any]]:
        items = self._owner.get("extras")
        if not isinstance(items, list):
            items = self._owner["extras"] = []
        return items

    def __getitem__(self, key: str) -> Any:
        for item in self._items():
            if item.get("key") == key:
                return item.get("value")
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        for item in self._items():
            if item.get("key") == key:
                item["value"] = value
                return
        self._items().append({"key": key, "value": value})

    def __delitem__(self, key: str) -> None:
        items = self._items()
        for i, item in enumerate(items):
            if item.get("key") == key:
                del items[i]
                return
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter([str(item.get("key")) for item in self._items()])

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return f"Extras({dict(self)!r})"


# ---------------------------------------------------------------- the diff behind package_revise

# lists of dicts that are edited item by item (never replaced): list name -> identity of an item
_KEYED_LISTS: dict[str, tuple[str, ...]] = {
    "resources": ("id",),
    "extras": ("key",),
    "tags": ("id", "name"),
    "groups": ("id", "name"),
}
# computed by the server: never sent back
_SERVER_FIELDS = frozenset(
    {
        "metadata_modified",
        "metadata_created",
        "revision_id",
        "num_resources",
        "num_tags",
        "organization",
        "relationships_as_object",
        "relationships_as_subject",
        "tracking_summary",
    }
)


def _identity(item: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(item, dict):
        return ("value", repr(item))
    for key in keys:
        if item.get(key) not in (None, ""):
            return (key, item[key])
    return ("object", id(item))


def _ref(item: dict[str, Any], index: int) -> str:
    """How a flattened key addresses a list item: its id (CKAN accepts 5+ characters) or its index."""
    ident = item.get("id")
    if isinstance(ident, str) and len(ident) >= 5:
        return ident
    return str(index)


def revise_payload(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The ``package_revise`` arguments (without ``match``) that turn ``before`` into ``after``.

    Top-level scalars go in ``update``; other changed top-level values are replaced (``filter``
    ``-key`` then ``update``); in ``resources``, ``extras``, ``tags`` and ``groups`` each item is
    handled on its own: removed (``filter -list__<ref>``), edited field by field
    (``update__list__<ref>__field``, the index counted after the filter, as CKAN applies it) or
    added (``update__list__extend``). Item order changes are not sent. Empty when nothing changed.
    """
    filters: list[str] = []
    update: dict[str, Any] = {}
    flat: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        if key in _SERVER_FIELDS or key == "id":
            continue
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        if old == new:
            continue
        if new is _MISSING:
            filters.append(f"-{key}")
        elif key in _KEYED_LISTS and isinstance(old, list) and isinstance(new, list):
            _diff_list(key, old, new, filters, flat)
        elif old is _MISSING or not isinstance(new, (dict, list)):
            update[key] = new
        else:
            # update merges dicts and lists item by item: remove the old value so `new` replaces it
            filters.append(f"-{key}")
            update[key] = new
    payload: dict[str, Any] = {}
    if filters:
        payload["filter"] = filters
    if update:
        payload["update"] = update
    payload.update(flat)
    return payload


def _diff_list(name: str, old: list[Any], new: list[Any], filters: list[str], flat: dict[str, Any]) -> None:
    keys = _KEYED_LISTS[name]
    new_by_id = {_identity(item, keys): item for item in new}
    old_ids = {_identity(item, keys) for item in old}
    kept: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for index, item in enumerate(old):
        ident = _identity(item, keys)
        if ident not in new_by_id:
            filters.append(f"-{name}__{_ref(item, index)}")
        else:
            kept.append((item, new_by_id[ident]))
    for index, (was, now) in enumerate(kept):
        ref = _ref(was, index)
        for field in sorted(set(was) | set(now)):
            before, after = was.get(field, _MISSING), now.get(field, _MISSING)
            if before == after:
                continue
            if after is _MISSING:
                filters.append(f"-{name}__{_ref(was, index)}__{field}")
            else:
                flat[f"update__{name}__{ref}__{field}"] = after
    added = [item for item in new if _identity(item, keys) not in old_ids]
    if added:
        flat[f"update__{name}__extend"] = added


# ---------------------------------------------------------------- the objects


class _Record:
    """What every object shares: ``data``, the loaded baseline, change tracking, loading checks."""

    kind: ClassVar[str] = "object"
    show_action: ClassVar[str] = ""
    show_extra: ClassVar[dict[str, Any]] = {}

    id = _Field(readonly=True)
    name = _Field()

    def __init__(self, data: dict[str, Any], client: Any = None) -> None:
        self.data: dict[str, Any] = data
        self._client = client
        self._baseline: dict[str, Any] = copy.deepcopy(data)

    def __repr__(self) -> str:
        dirty = " (changed)" if self.changes() else ""
        return f"<{type(self).__name__} {self.data.get('name') or self.data.get('id')!r}{dirty}>"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and isinstance(other, _Record) and other.data == self.data

    __hash__ = None  # type: ignore[assignment]  # mutable

    @property
    def extras(self) -> Extras:
        """``extras`` as a mutable mapping (key -> value)."""
        return Extras(self.data)

    @property
    def loaded(self) -> dict[str, Any]:
        """A copy of the dict as loaded (or last saved)."""
        return copy.deepcopy(self._baseline)

    def changes(self) -> dict[str, Change]:
        """The top-level fields that differ from the loaded dict (``{}`` when unchanged)."""
        out: dict[str, Change] = {}
        for key in [*self._baseline, *(k for k in self.data if k not in self._baseline)]:
            old, new = self._baseline.get(key, _MISSING), self.data.get(key, _MISSING)
            if old != new:
                out[key] = Change(old, new)
        return out

    def _reset(self, data: dict[str, Any]) -> None:
        self.data.clear()
        self.data.update(data)
        self._baseline = copy.deepcopy(data)
        self._after_reset()

    def _after_reset(self) -> None:
        """Hook for objects caching wrappers of parts of ``data``."""

    @classmethod
    def _load_steps(cls, ref: str, allow_deleted: bool) -> Steps:
        data = yield _Call(cls.show_action, {"id": ref, **cls.show_extra})
        return _checked(cls.kind, ref, data, allow_deleted)

    def _reload_steps(self) -> Steps:
        ref = self.data.get("id") or self.data.get("name")
        data = yield from self._load_steps(str(ref), True)
        self._reset(data)
        return self


def _checked(kind: str, ref: str, data: Any, allow_deleted: bool) -> dict[str, Any]:
    """The shown dict, if it is the one asked for and (unless allowed) not deleted."""
    if not isinstance(data, dict):
        raise WrongObjectError(f"{kind} {ref!r}: the site answered {type(data).__name__}, not an object")
    if ref not in (data.get("id"), data.get("name")):
        raise WrongObjectError(f"asked for {kind} {ref!r} but the site returned {data.get('name') or data.get('id')!r}")
    if data.get("state") == "deleted" and not allow_deleted:
        raise exc.NotFound(f"{kind} {ref!r} is deleted (pass allow_deleted=True to load it anyway)")
    return data


class _DatasetCore(_Record):
    """Dataset fields and the save plan; I/O is in :class:`Dataset` / :class:`AsyncDataset`."""

    kind = "dataset"
    show_action = "package_show"

    title = _Field()
    notes = _Field()
    url = _Field()
    version = _Field()
    author = _Field()
    author_email = _Field()
    maintainer = _Field()
    maintainer_email = _Field()
    license_id = _Field()
    private = _Field()
    state = _Field()
    owner_org = _Field()
    type = _Field()
    metadata_modified = _Field(readonly=True)
    metadata_created = _Field(readonly=True)

    _resource_class: ClassVar[builtins.type[_ResourceCore]]

    def __init__(self, data: dict[str, Any], client: Any = None) -> None:
        super().__init__(data, client)
        self._resources: dict[int, _ResourceCore] = {}

    def _after_reset(self) -> None:
        self._resources.clear()

    @property
    def resources(self) -> list[_ResourceCore]:
        """The resources as objects over the dicts in ``data["resources"]`` (edits land in ``data``)."""
        out = []
        for item in self.data.setdefault("resources", []):
            wrapper = self._resources.get(id(item))
            if wrapper is None or wrapper.data is not item:
                wrapper = self._resources[id(item)] = self._resource_class(item, self._client, dataset=self)
            out.append(wrapper)
        return out

    @property
    def tags(self) -> list[str]:
        """Tag names (a copy: assign a list to change them)."""
        return [str(t.get("name")) for t in self.data.get("tags") or []]

    @tags.setter
    def tags(self, names: list[str]) -> None:
        current = {t.get("name"): t for t in self.data.get("tags") or []}
        self.data["tags"] = [current.get(n) or {"name": n} for n in names]

    def add_resource(self, **fields: Any) -> _ResourceCore:
        """Add a resource (sent with ``update__resources__extend`` on save)."""
        self.data.setdefault("resources", []).append(dict(fields))
        return self.resources[-1]

    def remove_resource(self, resource: _ResourceCore | str) -> None:
        """Remove a resource (by object or id); sent as a ``filter`` on save."""
        rid = resource if isinstance(resource, str) else resource.data.get("id")
        items = self.data.get("resources") or []
        kept = [r for r in items if not (r.get("id") == rid or (not isinstance(resource, str) and r is resource.data))]
        if len(kept) == len(items):
            raise KeyError(f"no resource {rid!r} in dataset {self.data.get('name')!r}")
        self.data["resources"] = kept

    def revise_data(self) -> dict[str, Any]:
        """The ``package_revise`` arguments :meth:`save` would send (``{}`` when nothing changed)."""
        payload = revise_payload(self._baseline, self.data)
        if not payload:
            return {}
        return {
            "match": {"id": self._baseline["id"], "metadata_modified": self._baseline["metadata_modified"]},
            **payload,
        }

    def _save_steps(self) -> Steps:
        data = self.revise_data()
        if not data:
            return self
        try:
            result = yield _Call("package_revise", data)
        except exc.ValidationError as err:
            if _is_match_failure(err):
                raise _conflict(err, f"dataset {self._baseline.get('name')!r}") from err
            raise
        self._reset(result["package"])
        return self


class _ResourceCore(_Record):
    """Resource fields and the save plan."""

    kind = "resource"
    show_action = "resource_show"

    package_id = _Field(readonly=True)
    url = _Field()
    description = _Field()
    format = _Field()
    mimetype = _Field()
    size = _Field()
    hash = _Field()
    url_type = _Field()
    position = _Field(readonly=True)
    metadata_modified = _Field(readonly=True)

    def __init__(self, data: dict[str, Any], client: Any = None, *, dataset: _DatasetCore | None = None) -> None:
        super().__init__(data, client)
        self.dataset = dataset

    def changes(self) -> dict[str, Change]:
        """Changes since loaded; a resource of a loaded dataset compares with the dataset's baseline."""
        if self.dataset is not None:
            rid = self.data.get("id")
            for item in self.dataset._baseline.get("resources") or []:
                if rid is not None and item.get("id") == rid:
                    self._baseline = item
                    break
            else:
                self._baseline = {}
        return super().changes()

    def revise_data(self) -> dict[str, Any]:
        """The ``package_revise`` arguments a standalone save sends: the changed fields, each matched
        against its loaded value (so only a concurrent edit of the *same* field is a conflict)."""
        rid = self._baseline.get("id")
        data: dict[str, Any] = {}
        for field, change in sorted(self.changes().items()):
            if field in _SERVER_FIELDS or field in ("id", "package_id", "position"):
                continue
            if change.old is not _MISSING:
                data[f"match__resources__{rid}__{field}"] = change.old
            if change.new is _MISSING:
                data.setdefault("filter", []).append(f"-resources__{rid}__{field}")
            else:
                data[f"update__resources__{rid}__{field}"] = change.new
        if data:
            data["match__id"] = self._baseline.get("package_id")
        return data

    def _save_steps(self) -> Steps:
        if self.dataset is not None:
            # part of a loaded dataset: its save carries the edit (with the dataset's match)
            yield from self.dataset._save_steps()
            return self
        data = self.revise_data()
        if not data:
            return self
        try:
            result = yield _Call("package_revise", data)
        except exc.ValidationError as err:
            if _is_match_failure(err):
                raise _conflict(err, f"resource {self._baseline.get('id')!r}") from err
            raise
        rid = self._baseline.get("id")
        for item in result["package"].get("resources") or []:
            if item.get("id") == rid:
                self._reset(item)
        return self


class _GroupCore(_Record):
    """Organization/group fields and the save plan (``*_patch`` with the changed fields)."""

    kind = "group"
    show_action = "group_show"
    patch_action = "group_patch"
    show_extra: ClassVar[dict[str, Any]] = {"include_datasets": False}

    title = _Field()
    description = _Field()
    image_url = _Field()
    state = _Field()
    type = _Field()
    is_organization = _Field(readonly=True)
    created = _Field(readonly=True)

    def patch_data(self) -> dict[str, Any]:
        """The ``*_patch`` arguments :meth:`save` would send (``{}`` when nothing changed).

        Only changed fields go; a changed list (extras, users) is sent whole, as ``*_patch`` requires.
        """
        changed = {
            k: c.new for k, c in self.changes().items() if k not in _SERVER_FIELDS and k not in ("id", "package_count")
        }
        if not changed:
            return {}
        if any(v is _MISSING for v in changed.values()):
            raise ValueError(f"{self.kind} fields cannot be removed with *_patch: set them to '' instead")
        return {"id": self._baseline["id"], **changed}

    def _save_steps(self) -> Steps:
        data = self.patch_data()
        if not data:
            return self
        result = yield _Call(self.patch_action, data)
        # *_patch answers with the group dict (without datasets); keep what we show the user consistent
        self._reset(result if isinstance(result, dict) else self.data)
        return self


class _OrganizationCore(_GroupCore):
    kind = "organization"
    show_action = "organization_show"
    patch_action = "organization_patch"


# ---------------------------------------------------------------- sync and async faces


class _SyncIO:
    """``load``, ``reload`` and ``save`` for a synchronous :class:`~ckanx.Client`."""

    @classmethod
    def load(cls: type[R], client: Any, ref: str, *, allow_deleted: bool = False) -> R:  # type: ignore[misc]
        """Fetch by id or name; a deleted object is :class:`~ckanx.NotFound` unless ``allow_deleted``."""
        data = _run_sync(client, cls._load_steps(ref, allow_deleted))
        return cls(data, client)

    def reload(self: R) -> R:  # type: ignore[misc]
        """Fetch the current version, discarding unsaved changes."""
        result: R = _run_sync(self._client, self._reload_steps())
        return result

    def save(self: Any) -> Any:
        """Send only what changed (see the module docstring); no call when nothing changed."""
        return _run_sync(self._client, self._save_steps())


class _AsyncIO:
    """``load``, ``reload`` and ``save`` for an :class:`~ckanx.AsyncClient` (awaitable)."""

    @classmethod
    async def load(cls: type[R], client: Any, ref: str, *, allow_deleted: bool = False) -> R:  # type: ignore[misc]
        """Fetch by id or name; a deleted object is :class:`~ckanx.NotFound` unless ``allow_deleted``."""
        data = await _run_async(client, cls._load_steps(ref, allow_deleted))
        return cls(data, client)

    async def reload(self: R) -> R:  # type: ignore[misc]
        """Fetch the current version, discarding unsaved changes."""
        result: R = await _run_async(self._client, self._reload_steps())
        return result

    async def save(self: Any) -> Any:
        """Send only what changed (see the module docstring); no call when nothing changed."""
        return await _run_async(self._client, self._save_steps())


class Resource(_SyncIO, _ResourceCore):
    """A resource. In a :class:`Dataset`, its edits are saved with the dataset."""


class AsyncResource(_AsyncIO, _ResourceCore):
    """The async twin of :class:`Resource`."""


class Dataset(_SyncIO, _DatasetCore):
    """A dataset (``package_show`` dict) with change tracking and a lossless, conflict-checked save."""

    _resource_class = Resource


class AsyncDataset(_AsyncIO, _DatasetCore):
    """The async twin of :class:`Dataset`."""

    _resource_class = AsyncResource


class Organization(_SyncIO, _OrganizationCore):
    """An organization; ``save()`` patches only the changed fields (members are kept)."""


class AsyncOrganization(_AsyncIO, _OrganizationCore):
    """The async twin of :class:`Organization`."""


class Group(_SyncIO, _GroupCore):
    """A group; ``save()`` patches only the changed fields (members are kept)."""


class AsyncGroup(_AsyncIO, _GroupCore):
    """The async twin of :class:`Group`."""


class ObjectManager:
    """``ck.datasets``-style access: ``manager.get(ref)`` loads an object of one class with one client.

    Meant to be attached to a client (``ck.datasets = ObjectManager(ck, Dataset)``); with an
    :class:`~ckanx.AsyncClient` use the async classes and ``await manager.get(ref)``.

    Example::

        datasets = ObjectManager(ck, Dataset)
        ds = datasets.get("my-dataset")
    """

    def __init__(self, client: Any, cls: Any) -> None:
        self._client = client
        self._cls = cls

    def get(self, ref: str, *, allow_deleted: bool = False) -> Any:
        """Load by id or name (see ``load``); awaitable for the async classes."""
        return self._cls.load(self._client, ref, allow_deleted=allow_deleted)

    def wrap(self, data: dict[str, Any]) -> Any:
        """An object over a dict you already have (e.g. a ``package_search`` result); its baseline is
        that dict, so ``save()`` matches its ``metadata_modified``."""
        return self._cls(data, self._client)

    def __repr__(self) -> str:
        return f"<{self._cls.__name__} manager of {getattr(self._client, 'url', self._client)!r}>"
