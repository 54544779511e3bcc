"""Where the site URL and the API token come from: arguments, environment, named profiles.

Profiles live in ``<user config dir>/ckanx/config.toml`` (``$CKANX_CONFIG`` overrides the path)::

    default = "prod"

    [profiles.prod]
    url = "https://data.example.org"
    token = "..."                 # or token_file = "~/.secrets/ckan" or token_env = "PROD_CKAN_TOKEN"
    verify = true                 # or a CA bundle path

The file holds secrets, so ckanx creates it with owner-only permissions and warns when an existing
one can be read by other users.
"""

from __future__ import annotations

import os
import stat
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_URL = "CKAN_URL"
ENV_TOKEN = "CKAN_API_TOKEN"
ENV_CONFIG = "CKANX_CONFIG"


class ConfigError(ValueError):
    """A profile or configuration file problem, with a one-line explanation."""


@dataclass(frozen=True)
class Target:
    """A resolved site: URL, token (may be ``None``) and TLS verification setting."""

    url: str
    token: str | None = None
    verify: bool | str = True

    def __repr__(self) -> str:
        return f"Target(url={self.url!r}, token={'***' if self.token else None}, verify={self.verify!r})"


def config_path() -> Path:
    """The profile file's path (it may not exist)."""
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir("ckanx")) / "config.toml"


def _check_permissions(path: Path) -> None:
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(
            f"{path} holds API tokens but other users can read it; run: chmod 600 {path}",
            stacklevel=3,
        )


def load_profiles(path: Path | None = None) -> dict[str, Any]:
    """Read the profile file; an absent file is an empty configuration."""
    path = path or config_path()
    if not path.exists():
        return {}
    _check_permissions(path)
    try:
        with open(path, "rb") as fh:
            config: dict[str, Any] = tomllib.load(fh)
            return config
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from err
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from err


def profile_target(name: str | None = None, path: Path | None = None) -> Target:
    """Resolve a named profile (or the file's ``default``) to a :class:`Target`."""
    path = path or config_path()
    config = load_profiles(path)
    profiles = config.get("profiles") or {}
    name = name or config.get("default")
    if not name:
        raise ConfigError(f"no profile given and no default profile in {path}")
    entry = profiles.get(name)
    if not isinstance(entry, dict):
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"no profile {name!r} in {path} (profiles: {known})")
    url = entry.get("url")
    if not isinstance(url, str) or not url:
        raise ConfigError(f"profile {name!r} in {path} has no url")
    return Target(url, _profile_token(name, entry), entry.get("verify", True))


def _profile_token(name: str, entry: dict[str, Any]) -> str | None:
    if entry.get("token"):
        return str(entry["token"]).strip()
    if entry.get("token_file"):
        token_path = Path(str(entry["token_file"])).expanduser()
        try:
            return token_path.read_text().strip() or None
        except OSError as err:
            raise ConfigError(f"profile {name!r}: cannot read token_file {token_path}: {err.strerror}") from err
    if entry.get("token_env"):
        return os.environ.get(str(entry["token_env"])) or None
    return None


def env_target() -> Target | None:
    """``CKAN_URL`` and ``CKAN_API_TOKEN`` from the environment, if ``CKAN_URL`` is set."""
    url = os.environ.get(ENV_URL)
    if not url:
        return None
    return Target(url, os.environ.get(ENV_TOKEN) or None)


def env_token_for(url: str) -> str | None:
    """``CKAN_API_TOKEN``, but only for the site named by ``CKAN_URL`` (or when it is unset), so a
    token meant for one portal is never sent to another."""
    token = os.environ.get(ENV_TOKEN) or None
    if token is None:
        return None
    env_url = os.environ.get(ENV_URL)
    if env_url is None:
        return token
    from ._core import normalize_base_url

    try:
        return token if normalize_base_url(env_url) == normalize_base_url(url) else None
    except ValueError:
        return None


def save_profile(
    name: str,
    url: str,
    token: str | None = None,
    *,
    verify: bool | str = True,
    make_default: bool = False,
    path: Path | None = None,
) -> Path:
    """Add or replace a profile, writing the file with owner-only permissions."""
    path = path or config_path()
    config = load_profiles(path) if path.exists() else {}
    profiles = dict(config.get("profiles") or {})
    entry: dict[str, Any] = {"url": url}
    if token:
        entry["token"] = token
    if verify is not True:
        entry["verify"] = verify
    profiles[name] = entry
    config["profiles"] = profiles
    if make_default or "default" not in config:
        config["default"] = name
    _write_config(config, path)
    return path


def remove_profile(name: str, path: Path | None = None) -> bool:
    """Remove a profile; ``False`` if there was none of that name."""
    path = path or config_path()
    config = load_profiles(path)
    profiles = dict(config.get("profiles") or {})
    if name not in profiles:
        return False
    del profiles[name]
    config["profiles"] = profiles
    if config.get("default") == name:
        config.pop("default")
    _write_config(config, path)
    return True


def _write_config(config: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(_dump_toml(config))
    os.replace(tmp, path)
    os.chmod(path, 0o600)


def _dump_toml(config: dict[str, Any]) -> str:
    import tomli_w

    return str(tomli_w.dumps(config))
