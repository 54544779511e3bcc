"""Tables of the users family (applied by :mod:`ckanx.server.db` when a database opens).

Kept apart from ``models.py`` so that :mod:`ckanx.server.authz` can rely on the tables existing
without importing the actions.
"""

from __future__ import annotations

from ..db import register_schema

# "user" mirrors CKAN's table; passwords are stored as salted PBKDF2 hashes and API tokens only
# as SHA-256 hashes of the raw token, so a copied catalog.db leaks no usable credential.
register_schema(
    """
CREATE TABLE IF NOT EXISTS "user" (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    fullname TEXT,
    email TEXT,
    password_hash TEXT,
    about TEXT,
    image_url TEXT,
    created TEXT NOT NULL,
    last_active TEXT,
    sysadmin INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'active',
    activity_streams_email_notifications INTEGER NOT NULL DEFAULT 0,
    plugin_extras TEXT,
    apikey TEXT
);
CREATE TABLE IF NOT EXISTS api_token (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES "user"(id),
    name TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_access TEXT
);
CREATE INDEX IF NOT EXISTS api_token_user ON api_token(user_id);
CREATE TABLE IF NOT EXISTS site_setting (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
)
