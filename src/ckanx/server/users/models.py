"""Users and API tokens: storage, password and token handling, CKAN's user dict.

API tokens look like CKAN's (HS256 JWTs ``{"jti", "iat"}`` signed with a per-site secret kept in
the database) but are checked by lookup: only the SHA-256 of each token is stored, and a token
is valid while its row exists. Revoking deletes the row, as CKAN does.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import sqlite3
import uuid
from typing import TYPE_CHECKING, Any

from ..context import now_iso
from . import schema as _schema  # noqa: F401  (registers the tables)

if TYPE_CHECKING:
    from ..context import Context
    from ..core import EmbeddedCKAN

SITE_USER_NAME = "default"  # CKAN's ckan.site_id, the name of its internal "site user"
LAST_ACTIVE_INTERVAL = dt.timedelta(seconds=600)  # ckan.user.last_active_interval
_PBKDF2_ROUNDS = 25000  # passlib's pbkdf2_sha512 default, which CKAN uses
# The user table's columns in CKAN's order, as user_dictize emits them.
_PUBLIC_COLUMNS = (
    "id",
    "name",
    "fullname",
    "created",
    "about",
    "last_active",
    "activity_streams_email_notifications",
    "sysadmin",
    "state",
    "image_url",
)


# --------------------------------------------------------------------------- passwords


def _ab64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")


def hash_password(password: str) -> str:
    """A passlib-compatible ``$pbkdf2-sha512$rounds$salt$checksum`` hash."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ROUNDS)
    return f"$pbkdf2-sha512${_PBKDF2_ROUNDS}${_ab64(salt)}${_ab64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True if ``password`` matches a hash made by :func:`hash_password`."""
    if not stored or not stored.startswith("$pbkdf2-sha512$"):
        return False
    _, _, rounds, salt64, check = stored.split("$")
    salt = base64.b64decode(salt64.replace(".", "+") + "=" * (-len(salt64) % 4))
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(rounds))
    return hmac.compare_digest(_ab64(digest), check)


# --------------------------------------------------------------------------- users


def get_user(conn: sqlite3.Connection, id_or_name: Any) -> dict[str, Any] | None:
    """The user row (any state) with this id or name, as a dict, or None."""
    if not isinstance(id_or_name, str) or not id_or_name:
        return None
    row = conn.execute(
        'SELECT * FROM "user" WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1',
        (id_or_name, id_or_name, id_or_name),
    ).fetchone()
    return dict(row) if row else None


def insert_user(conn: sqlite3.Connection, fields: dict[str, Any]) -> dict[str, Any]:
    """Insert a user; ``fields`` holds column values (``password_hash`` already hashed)."""
    row = {
        "id": fields.get("id") or str(uuid.uuid4()),
        "name": fields["name"],
        "fullname": fields.get("fullname"),
        "email": fields.get("email"),
        "password_hash": fields.get("password_hash"),
        "about": fields.get("about"),
        "image_url": fields.get("image_url"),
        "created": now_iso(),
        "last_active": None,
        "sysadmin": int(bool(fields.get("sysadmin"))),
        "state": fields.get("state") or "active",
        "activity_streams_email_notifications": int(bool(fields.get("activity_streams_email_notifications"))),
        "plugin_extras": _json_or_none(fields.get("plugin_extras")),
        "apikey": fields.get("apikey"),
    }
    cols = ", ".join(row)
    marks = ", ".join("?" * len(row))
    conn.execute(f'INSERT INTO "user" ({cols}) VALUES ({marks})', tuple(row.values()))
    return row


def update_user(conn: sqlite3.Connection, user_id: str, fields: dict[str, Any]) -> None:
    """Set the given columns (only those present, as CKAN's ``table_dict_save``)."""
    if not fields:
        return
    values = dict(fields)
    for key in ("sysadmin", "activity_streams_email_notifications"):
        if key in values:
            values[key] = int(bool(values[key]))
    if "plugin_extras" in values:
        values["plugin_extras"] = _json_or_none(values["plugin_extras"])
    sets = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f'UPDATE "user" SET {sets} WHERE id = ?', (*values.values(), user_id))


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def email_taken(conn: sqlite3.Connection, email: str, exclude: dict[str, Any]) -> bool:
    """CKAN's ``email_is_unique``: another *active* user has this email (case-insensitive).

    ``exclude`` holds the submitted ``name``/``id``: a match on the same user is allowed.
    """
    rows = conn.execute(
        "SELECT id, name FROM \"user\" WHERE lower(email) = lower(?) AND state = 'active'", (email,)
    ).fetchall()
    for row in rows:
        if row["name"] in (exclude.get("name"), exclude.get("id")) or row["id"] == exclude.get("id"):
            return False
    return bool(rows)


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def number_created_packages(conn: sqlite3.Connection, user_id: str, include_private_and_draft: bool) -> int:
    """Datasets created by the user: active public ones, or all but deleted ones for the user
    themself and sysadmins (CKAN's ``User.number_created_packages``)."""
    if not _table_exists(conn, "package"):  # the datasets family is optional
        return 0
    if include_private_and_draft:
        sql = "SELECT count(*) FROM package WHERE creator_user_id = ? AND state != 'deleted'"
    else:
        sql = "SELECT count(*) FROM package WHERE creator_user_id = ? AND state = 'active' AND private = 0"
    return int(conn.execute(sql, (user_id,)).fetchone()[0])


def user_dict(
    ctx: Context,
    row: dict[str, Any],
    *,
    keep_email: bool = False,
    include_password_hash: bool = False,
    include_plugin_extras: bool = False,
) -> dict[str, Any]:
    """CKAN's ``user_dictize``, keys in CKAN's order.

    ``email`` and ``apikey`` are shown to the user themself and to sysadmins (``keep_email``:
    always, as ``user_create`` does, email first).
    """
    from .. import authz

    out: dict[str, Any] = {col: row.get(col) for col in _PUBLIC_COLUMNS}
    out["activity_streams_email_notifications"] = bool(row.get("activity_streams_email_notifications"))
    out["sysadmin"] = bool(row.get("sysadmin"))
    fullname = row.get("fullname")
    out["display_name"] = fullname if fullname and fullname.strip() else row["name"]
    email = row.get("email")
    out["email_hash"] = hashlib.md5((email or "").strip().lower().encode(), usedforsecurity=False).hexdigest()
    privileged = authz.is_sysadmin(ctx) or authz.is_self(ctx, row)
    out["number_created_packages"] = number_created_packages(ctx.conn, row["id"], privileged)
    if keep_email:
        out["email"] = email
        out["apikey"] = row.get("apikey")
    if privileged:
        out["apikey"] = row.get("apikey")
        out["email"] = email
    if ctx.version == "2.12" and ctx.ignore_auth and not privileged:
        # 2.12 also shows them to internal (ignore_auth) calls
        out["apikey"] = row.get("apikey")
        out["email"] = email
    if authz.is_sysadmin(ctx):
        if include_password_hash:
            out["password_hash"] = row.get("password_hash")
        if include_plugin_extras:
            extras = row.get("plugin_extras")
            out["plugin_extras"] = json.loads(extras) if extras else None
    image_url = row.get("image_url")
    out["image_display_url"] = image_url
    if image_url and not image_url.startswith("http"):
        out["image_display_url"] = f"{ctx.site_url}/uploads/user/{image_url}"
    return out


# --------------------------------------------------------------------------- tokens


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _site_secret(conn: sqlite3.Connection) -> bytes:
    row = conn.execute("SELECT value FROM site_setting WHERE key = 'jwt_secret'").fetchone()
    if row:
        return bytes.fromhex(row[0])
    secret = secrets.token_bytes(32)
    conn.execute("INSERT INTO site_setting (key, value) VALUES ('jwt_secret', ?)", (secret.hex(),))
    return secret


def token_hash(token: str) -> str:
    """What is stored for a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: sqlite3.Connection, user_id: str, name: str) -> tuple[str, str]:
    """Create an API token; returns ``(raw token, jti)``. The raw token is never stored."""
    jti = secrets.token_urlsafe(32)  # CKAN: api_token.nbytes = 32
    created = now_iso()
    iat = int(dt.datetime.fromisoformat(created).replace(tzinfo=dt.timezone.utc).timestamp())
    header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64url(json.dumps({"jti": jti, "iat": iat}, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = _b64url(hmac.new(_site_secret(conn), signing_input, hashlib.sha256).digest())
    token = f"{header}.{payload}.{signature}"
    conn.execute(
        "INSERT INTO api_token (id, user_id, name, token_hash, created_at, last_access) VALUES (?, ?, ?, ?, ?, NULL)",
        (jti, user_id, name, token_hash(token), created),
    )
    return token, jti


def token_jti(token: Any) -> str | None:
    """The ``jti`` claim of a well-formed token (signature not checked), else None."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    jti = claims.get("jti") if isinstance(claims, dict) else None
    return jti if isinstance(jti, str) else None


def token_dict(row: sqlite3.Row | dict[str, Any]) -> dict[str, Any]:
    """What ``api_token_list`` shows for one token."""
    return {
        "id": row["id"],
        "name": row["name"],
        "user_id": row["user_id"],
        "created_at": row["created_at"],
        "last_access": row["last_access"],
    }


def authenticate(server: EmbeddedCKAN, conn: sqlite3.Connection, token: str) -> dict[str, Any] | None:
    """``hooks.AUTHENTICATE``: the active user owning this raw token, else None (anonymous).

    Like CKAN, a successful use stamps the token's ``last_access`` and, at most every ten minutes,
    the user's ``last_active``. ``Bearer ...``, revoked and garbage tokens match nothing.
    """
    row = conn.execute(
        'SELECT t.id AS jti, u.* FROM api_token t JOIN "user" u ON u.id = t.user_id WHERE t.token_hash = ?',
        (token_hash(token),),
    ).fetchone()
    if row is None or row["state"] != "active":
        return None
    now = now_iso()
    conn.execute("UPDATE api_token SET last_access = ? WHERE id = ?", (now, row["jti"]))
    user = dict(row)
    user.pop("jti")
    last = user.get("last_active")
    if not last or dt.datetime.fromisoformat(last) < dt.datetime.fromisoformat(now) - (LAST_ACTIVE_INTERVAL):
        conn.execute('UPDATE "user" SET last_active = ? WHERE id = ?', (now, user["id"]))
        user["last_active"] = now
    return user


def bootstrap(server: EmbeddedCKAN) -> None:
    """``hooks.STARTUP``: make sure the sysadmin and CKAN's site user exist, and give the server
    a fresh sysadmin token (older tokens stay valid across restarts)."""
    with server.db.transaction() as conn:
        admin = get_user(conn, server.sysadmin_name)
        if admin is None:
            admin = insert_user(
                conn,
                {
                    "name": server.sysadmin_name,
                    "email": f"{server.sysadmin_name}@localhost",
                    "password_hash": hash_password(secrets.token_urlsafe(16)),
                    "sysadmin": True,
                },
            )
        elif not admin["sysadmin"] or admin["state"] != "active":
            update_user(conn, admin["id"], {"sysadmin": True, "state": "active"})
        if get_user(conn, SITE_USER_NAME) is None:
            insert_user(
                conn,
                {
                    "name": SITE_USER_NAME,
                    "password_hash": hash_password(secrets.token_urlsafe(16)),
                    "sysadmin": True,
                    "apikey": str(uuid.uuid4()),
                },
            )
        token, _ = create_token(conn, admin["id"], "ckanx-server")
    server.sysadmin_token = token
