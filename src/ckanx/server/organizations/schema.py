"""Tables of the organizations family: groups/organizations, their extras and memberships.

``member`` is CKAN's membership table: ``table_name`` is ``"user"`` (capacity admin/editor/member)
or ``"package"`` (a dataset in a group; capacity "public"). Dataset ownership by an organization
is *not* a member row here: it is the dataset's ``owner_org`` (the datasets family's table).
"""

from __future__ import annotations

from ..db import register_schema

register_schema(
    """
CREATE TABLE IF NOT EXISTS "group" (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    title TEXT,
    type TEXT NOT NULL,
    description TEXT,
    image_url TEXT,
    created TEXT NOT NULL,
    is_organization INTEGER NOT NULL DEFAULT 0,
    approval_status TEXT,
    state TEXT NOT NULL DEFAULT 'active'
);
CREATE TABLE IF NOT EXISTS group_extra (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES "group"(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT,
    state TEXT NOT NULL DEFAULT 'active',
    UNIQUE (group_id, key)
);
CREATE TABLE IF NOT EXISTS member (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES "group"(id) ON DELETE CASCADE,
    table_id TEXT NOT NULL,
    table_name TEXT NOT NULL,
    capacity TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'active'
);
CREATE INDEX IF NOT EXISTS member_group ON member(group_id, table_name, state);
CREATE INDEX IF NOT EXISTS member_object ON member(table_id, table_name, state);
"""
)
