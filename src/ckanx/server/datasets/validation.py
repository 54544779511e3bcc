"""Validation of dataset and resource dicts, with CKAN 2.11's exact messages.

CKAN validates with its navl schemas (``default_create_package_schema`` and friends). This module
re-implements the observable behaviour of those schemas for the core fields: which keys are kept,
how values are converted, which message each bad value produces and where in the error dict it
lands. Messages were checked against a live CKAN 2.11.6.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import os
import re
import unicodedata
import uuid
from typing import Any
from urllib.parse import urlparse

from .. import errors

MISSING_VALUE = "Missing value"
PACKAGE_NAME_MIN = 2
PACKAGE_NAME_MAX = 100
VERSION_MAX = 100
TAG_MIN = 2
TAG_MAX = 100
VOCAB_NAME_MIN = 2
VOCAB_NAME_MAX = 100

NAME_RE = re.compile(r"[a-z0-9_\-]*$")
TAG_RE = re.compile(r"[\w \-.]*$", re.UNICODE)
# The WHATWG e-mail pattern CKAN uses, plus its extra rules against stray dots.
EMAIL_RE = re.compile(
    r"^(?!\.)(?!.*\.$)(?!.*?\.\.)"
    r"[a-zA-Z0-9.!#$%&'*+\/=?^_`{|}~-]+@[a-zA-Z0-9]"
    r"(?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9]"
    r"(?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)

# Free-text core fields of a dataset; on package_update an omitted one becomes null.
PACKAGE_TEXT_FIELDS = (
    "author",
    "author_email",
    "license_id",
    "maintainer",
    "maintainer_email",
    "notes",
    "url",
    "version",
)
# Keys of CKAN's package schema: an extra may not use one of these as its key.
ROOT_SCHEMA_KEYS = frozenset(
    {
        "__before",
        "id",
        "name",
        "title",
        "author",
        "author_email",
        "maintainer",
        "maintainer_email",
        "license_id",
        "notes",
        "url",
        "version",
        "state",
        "type",
        "owner_org",
        "private",
        "__extras",
        "__junk",
        "resources",
        "tags",
        "tag_string",
        "plugin_data",
        "extras",
        "save",
        "return_to",
        "relationships_as_object",
        "relationships_as_subject",
        "groups",
    }
)
# Resource keys with their own handling; anything else a client sends is a resource "extra"
# and comes back as a top-level key of the resource.
RESOURCE_CORE_KEYS = (
    "cache_last_updated",
    "cache_url",
    "created",
    "datastore_active",
    "description",
    "format",
    "hash",
    "last_modified",
    "metadata_modified",
    "mimetype",
    "mimetype_inner",
    "name",
    "resource_type",
    "size",
    "url",
    "url_type",
)
RESOURCE_DATE_KEYS = ("created", "last_modified", "cache_last_updated")
RESOURCE_TEXT_KEYS = (
    "url",
    "description",
    "hash",
    "name",
    "resource_type",
    "url_type",
    "mimetype",
    "mimetype_inner",
    "cache_url",
)

# Canonical resource format names as CKAN 2.11's resource_formats.json lists them, each with the
# spellings (mimetypes, alternative names) that ``clean_format`` maps to it, case-insensitively.
_FORMATS: dict[str, tuple[str, ...]] = {
    "ArcGIS Map Preview": (),
    "ArcGIS Map Service": (),
    "ArcGIS Online Map": ("web map application",),
    "Atom Feed": ("application/atom+xml",),
    "BIN": ("application/octet-stream",),
    "BMP": ("image/x-ms-bmp",),
    "CSV": ("text/csv", "text/comma-separated-values"),
    "DCR": ("application/x-director",),
    "dBase": ("application/x-dbf", "dbf"),
    "DOC": ("application/msword",),
    "DOCM": ("application/vnd.ms-word.document.macroEnabled.12",),
    "DOCX": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
    "DOTM": ("application/vnd.ms-word.template.macroEnabled.12",),
    "DOTX": ("application/vnd.openxmlformats-officedocument.wordprocessingml.template",),
    "Esri REST": ("arcgis_rest",),
    "EXE": ("application/x-msdownload",),
    "E00": ("application/x-e00",),
    "GeoJSON": ("application/geo+json",),
    "GIF": ("image/gif",),
    "GTFS": (),
    "GZ": ("application/gzip", "application/x-gzip"),
    "HTML": ("text/html", "htm", "http://purl.org/net/mediatypes/text/html"),
    "ICS": ("text/calendar", "ifb", "iCal"),
    "JPEG": ("image/jpeg", "jpg"),
    "JS": ("application/x-javascript",),
    "JSON": ("application/json",),
    "KML": ("application/vnd.google-earth.kml+xml",),
    "KMZ": ("application/vnd.google-earth.kmz+xml", "application/vnd.google-earth.kmz"),
    "MDB": ("application/x-msaccess",),
    "MOP": ("chemical/x-mopac-input",),
    "MP3": ("audio/mpeg", "audio/mpeg3", "audio/x-mpeg-3", "video/mpeg", "video/x-mpeg"),
    "MP4": ("video/mp4", "application/mp4"),
    "MrSID": ("image/x-mrsid",),
    "MXD": ("application/x-mxd",),
    "NetCDF": ("application/netcdf",),
    "N3": ("application/x-n3",),
    "OGG": ("audio/ogg",),
    "ODB": ("application/vnd.oasis.opendocument.database",),
    "ODC": ("application/vnd.oasis.opendocument.chart",),
    "ODF": ("application/vnd.oasis.opendocument.formula",),
    "ODG": ("application/vnd.oasis.opendocument.graphics",),
    "OWL": ("application/owl+xml",),
    "ODP": ("application/vnd.oasis.opendocument.presentation",),
    "ODS": ("application/vnd.oasis.opendocument.spreadsheet",),
    "ODT": ("application/vnd.oasis.opendocument.text",),
    "PDF": ("application/pdf",),
    "Perl": ("text/x-perl",),
    "PNG": ("image/png",),
    "POTM": ("application/vnd.ms-powerpoint.template.macroEnabled.12",),
    "POTX": ("application/vnd.openxmlformats-officedocument.presentationml.template",),
    "PPAM": ("application/vnd.ms-powerpoint.addin.macroEnabled.12",),
    "PPT": ("application/vnd.ms-powerpoint",),
    "PPTM": ("application/vnd.ms-powerpoint.presentation.macroEnabled.12",),
    "PPTX": ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
    "PPSM": ("application/vnd.ms-powerpoint.slideshow.macroEnabled.12",),
    "PPSX": ("application/vnd.openxmlformats-officedocument.presentationml.slideshow",),
    "QGIS": ("application/x-qgis",),
    "RAR": ("application/rar",),
    "RDF": ("application/rdf+xml", "rdf/xml"),
    "RSS": ("application/rss+xml",),
    "SHP": ("esri shapefile",),
    "SPARQL": ("application/sparql-results+xml",),
    "SVG": ("image/svg+xml",),
    "TAR": ("application/x-tar",),
    "TIFF": ("image/tiff",),
    "TORRENT": ("application/x-bittorrent", "bittorrent"),
    "TSV": ("text/tab-separated-values", "text/tsv"),
    "TXT": ("text/plain",),
    "WAV": ("audio/x-wav", "audio/wav"),
    "WCS": (),
    "WebM": ("video/webm",),
    "WFS": (),
    "WMS": (),
    "WMTS": (),
    "XLAM": ("application/vnd.ms-excel.addin.macroEnabled.12",),
    "XLS": (
        "application/vnd.ms-excel",
        "Excel",
        "application/msexcel",
        "application/x-msexcel",
        "application/x-ms-excel",
        "application/x-excel",
        "application/x-dos_ms_excel",
        "application/xls",
        "application/x-xls",
    ),
    "XLSB": ("application/vnd.ms-excel.sheet.binary.macroEnabled.12",),
    "XLSM": ("application/vnd.ms-excel.sheet.macroEnabled.12",),
    "XLSX": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",),
    "XLTM": ("application/vnd.ms-excel.template.macroEnabled.12",),
    "XLTX": ("application/vnd.openxmlformats-officedocument.spreadsheetml.template",),
    "XML": ("application/xml", "text/xml", "http://purl.org/net/mediatypes/application/xml"),
    "XSLT": ("application/xslt+xml",),
    "XYZ": ("chemical/x-xyz",),
    "ZIP": ("application/zip", "http://purl.org/NET/mediatypes/application/zip"),
}
FORMAT_ALIASES: dict[str, str] = {
    alias.lower(): name for name, aliases in _FORMATS.items() for alias in (name, *aliases)
}


class IntegrityError(errors.ActionError):
    """400 ``Integrity Error``: a sub-schema (tags, extras, resources) that is not a list of dicts.

    CKAN echoes the data it was validating under ``data``.
    """

    status = 400
    type_name = "Integrity Error"

    def __init__(self, message: str, data: dict[str, Any]) -> None:
        super().__init__(message)
        self.data = data

    def error_body(self) -> dict[str, Any]:
        return {"__type": self.type_name, "message": self.message, "data": self.data}


def is_missing_or_empty(value: Any) -> bool:
    """CKAN's ``not_empty`` test."""
    return value is None or value == "" or value == [] or value == {}


def as_text(value: Any) -> Any:
    """``unicode_safe``: keep None, turn everything else into text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    return str(value)


def boolean(value: Any) -> bool:
    """``boolean_validator``: booleans stay, 'true'/'yes'/'t'/'y'/'1' are true, the rest false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "yes", "t", "y", "1")


def int_or_error(value: Any) -> tuple[int | None, str | None]:
    """``int_validator``: (value, None) or (None, "Invalid integer")."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, bool):
        return int(value), None
    if isinstance(value, (int, float)):
        if float(value).is_integer():
            return int(value), None
        return None, "Invalid integer"
    try:
        return int(str(value).strip()), None
    except ValueError:
        return None, "Invalid integer"


def iso_date(value: Any) -> tuple[str | None, str | None]:
    """``isodate``: normalise to CKAN's naive ISO form, or report "Date format incorrect"."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        return None, "Date format incorrect"
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, "Date format incorrect"
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed.isoformat(), None


def is_uuid(value: Any) -> bool:
    """``uuid_validator``."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def name_errors(value: Any) -> list[str]:
    """``name_validator`` (the rules shared by every kind of name)."""
    if not isinstance(value, str):
        return ["Names must be strings"]
    if value in ("new", "edit", "search"):
        return ["That name cannot be used"]
    if len(value) < 2:
        return ["Must be at least 2 characters long"]
    if len(value) > PACKAGE_NAME_MAX:
        return [f"Name must be a maximum of {PACKAGE_NAME_MAX} characters long"]
    if not NAME_RE.match(value):
        return ["Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"]
    return []


def package_name_length_errors(value: str) -> list[str]:
    """The length checks ``package_name_validator`` adds after its uniqueness check."""
    if len(value) < PACKAGE_NAME_MIN:
        return [f'Name "{value}" length is less than minimum {PACKAGE_NAME_MIN}']
    if len(value) > PACKAGE_NAME_MAX:
        return [f'Name "{value}" length is more than maximum {PACKAGE_NAME_MAX}']
    return []


def tag_errors(name: str) -> list[str]:
    """``tag_length_validator`` and ``tag_name_validator``: every rule the tag breaks."""
    out: list[str] = []
    if len(name) < TAG_MIN:
        out.append(f'Tag "{name}" length is less than minimum {TAG_MIN}')
    if len(name) > TAG_MAX:
        out.append(f'Tag "{name}" length is more than maximum {TAG_MAX}')
    if not TAG_RE.match(name):
        out.append(
            f'Tag "{name}" can only contain alphanumeric characters, spaces (" "), '
            'hyphens ("-"), underscores ("_") or dots (".")'
        )
    return out


def email_errors(value: str | None) -> list[str]:
    """``email_validator``: the message for a malformed address (empty is fine)."""
    if value and not EMAIL_RE.match(value):
        return [f"Email {value} is not a valid format"]
    return []


def clean_format(value: str) -> str:
    """``clean_format``: known formats get their canonical spelling, others stay as given."""
    return FORMAT_ALIASES.get(value.lower(), value)


def guess_format(url: str) -> str | None:
    """``if_empty_guess_format``: a format from the URL's file extension, if any."""
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme and not parsed.path:
        return None
    mimetype, _ = mimetypes.guess_type(url)
    return mimetype


def guess_mimetype(name: str) -> str | None:
    """A mimetype from a file name or URL extension (``ckan.mimetype_guess = file_ext``)."""
    mimetype, _ = mimetypes.guess_type(name)
    return mimetype


def munge_filename(filename: str) -> str:
    """CKAN's ``munge_filename``: no path, lower case, ASCII, ``[a-z0-9_. -]``, spaces -> '-'.

    The result can never contain a path separator or be ``..``, which is what keeps uploads
    inside the storage directory.
    """
    filename = filename.replace("\\", "/").rsplit("/", 1)[-1]
    filename = filename.lower().strip()
    filename = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    filename = re.sub(r"[^a-zA-Z0-9_. -]", "", filename).replace(" ", "-")
    filename = re.sub(r"-+", "-", filename)
    name, ext = os.path.splitext(filename)
    ext = ext[:21]
    min_len = max(1, 3 - len(ext))
    max_len = 100 - len(ext)
    if len(name) < min_len:
        name += "_" * (min_len - len(name))
    name = name[:max_len]
    return name + ext


def sort_error_dict(errs: dict[str, Any]) -> dict[str, Any]:
    """Order an error dict as CKAN does: plain keys alphabetically, then nested ones."""
    nested = {"extras", "resources", "tags", "groups"}
    keys = sorted(errs, key=lambda k: (k in nested, k))
    return {k: errs[k] for k in keys}


def check_sublist(data: dict[str, Any], key: str) -> None:
    """A sub-schema value must be a list of dicts, or CKAN answers 400 Integrity Error.

    Only a missing key passes; null, a dict or a scalar fail like a list of non-dicts (CKAN's
    messages: the type of the value, or "Values in lists need to be dicts" when the list starts
    with a dict).
    """
    if key not in data:
        return
    value = data[key]
    message = None
    if not isinstance(value, list) or (value and not isinstance(value[0], dict)):
        message = f"Only lists of dicts can be placed against subschema ('{key}',), not {type(value)!r}"
    elif not all(isinstance(item, dict) for item in value):
        message = "Values in lists need to be dicts"
    if message is not None:
        shown = {**data}
        shown.setdefault("type", "dataset")
        raise IntegrityError(message, shown)
