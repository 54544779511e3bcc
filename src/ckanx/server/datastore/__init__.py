"""The embedded DataStore: one SQLite table per resource in ``datastore.db``, the ``datastore_*``
actions (CKAN 2.11 and 2.12 shapes) and ``GET /datastore/dump/<resource_id>``.

Modules: :mod:`.types` (PostgreSQL types, coercions and text output), :mod:`.models` (the
database: tables, data dictionary, aliases, writes), :mod:`.query` (search parameters -> SQL),
:mod:`.fulltext` (``q``), :mod:`.formats` (records formats and dump writers), :mod:`.sqldialect`
(PostgreSQL casts in ``datastore_search_sql``), :mod:`.actions`, :mod:`.dump`.

For other families: ``models.get_store(server).drop(resource_id)`` drops a resource's table and
aliases (CKAN does this when a resource is deleted); it is a no-op when there is no table.
"""
