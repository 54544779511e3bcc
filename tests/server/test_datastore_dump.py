"""``GET /datastore/dump/<resource_id>``: exact bytes (recorded from CKAN 2.11.6 / 2.12.0 for the same
table), parameters, errors, and streaming a large table in constant memory."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ckanx.server.core import EmbeddedCKAN
from ckanx.server.datastore.models import get_store, quote
from ckanx.server.transport import EmbeddedTransport

Api = Callable[..., tuple[int, Any]]
BOTH = pytest.mark.parametrize("ckan_version", ["2.11", "2.12"])

FIELDS = [
    {"id": "code", "type": "text"},
    {"id": "n", "type": "int"},
    {"id": "num", "type": "numeric"},
    {"id": "b", "type": "bool"},
    {"id": "ts", "type": "timestamp"},
    {"id": "jj", "type": "json"},
    {"id": "arr", "type": "_text"},
    {"id": "desc", "type": "text", "info": {"label": "Desc"}},
    {"id": "f", "type": "float"},
    {"id": "d", "type": "date"},
    {"id": "t", "type": "time"},
]
RECORDS = [
    {"code": "a", "n": 1, "num": "2.50", "b": True, "ts": "2020-01-01", "jj": {"x": [1, 2]}, "arr": ["p", "q"],
     "desc": 'hello world, "quoted"', "f": 1.5, "d": "2020-02-03", "t": "01:02:03"},
    {"code": "b", "n": None, "num": 3, "b": False, "ts": "2020-01-01T10:11:12.5", "jj": [1, "a"], "arr": None,
     "desc": "line1\nline2", "f": 1e20},
    {"code": "c", "n": 3, "num": 1.1, "b": None, "ts": None, "jj": "str", "arr": [], "desc": None, "f": 0.1},
    {"code": "d<&>", "desc": "tab\there ünï"},
]  # fmt: skip

# CKAN 2.11.6's dumps of that table (2.12.0 differs only in timestamps: ".000" milliseconds)
CSV_211 = (
    "_id,code,n,num,b,ts,jj,arr,desc,f,d,t\r\n"
    '1,a,1,2.50,t,2020-01-01T00:00:00,"{""x"": [1, 2]}","[""p"",""q""]","hello world, ""quoted""",1.5,'
    "2020-02-03,01:02:03\n"
    '2,b,,3,f,2020-01-01T10:11:12,"[1, ""a""]",null,"line1\nline2",1e+20,,\n'
    '3,c,3,1.1,,,"""str""",[],,0.1,,\n'
    "4,d<&>,,,,,null,null,tab\there ünï,,,\n"
)
TSV_211 = (
    "_id\tcode\tn\tnum\tb\tts\tjj\tarr\tdesc\tf\td\tt\r\n"
    '1\ta\t1\t2.50\tt\t2020-01-01T00:00:00\t"{""x"": [1, 2]}"\t"[""p"",""q""]"\t"hello world, ""quoted"""\t1.5\t'
    "2020-02-03\t01:02:03\n"
    '2\tb\t\t3\tf\t2020-01-01T10:11:12\t"[1, ""a""]"\tnull\t"line1\nline2"\t1e+20\t\t\n'
    '3\tc\t3\t1.1\t\t\t"""str"""\t[]\t\t0.1\t\t\n'
    '4\td<&>\t\t\t\t\tnull\tnull\t"tab\there ünï"\t\t\t\n'
)
JSON_211 = (
    '{\n  "fields": [{"id":"_id","type":"int"},{"id":"code","type":"text"},{"id":"n","type":"int4"},'
    '{"id":"num","type":"numeric"},{"id":"b","type":"bool"},{"id":"ts","type":"timestamp"},'
    '{"id":"jj","type":"json"},{"id":"arr","type":"_text"},{"id":"desc","type":"text","info":{"label":"Desc"}},'
    '{"id":"f","type":"float8"},{"id":"d","type":"date"},{"id":"t","type":"time"}],\n  "records": [\n'
    '    [1,"a",1,2.5,true,"2020-01-01T00:00:00",{"x":[1,2]},["p","q"],"hello world, \\"quoted\\"",1.5,'
    '"2020-02-03","01:02:03"],\n'
    '    [2,"b",null,3,false,"2020-01-01T10:11:12",[1,"a"],null,"line1\\nline2",1e+20,null,null],\n'
    '    [3,"c",3,1.1,null,null,"str",[],null,0.1,null,null],\n'
    '    [4,"d<&>",null,null,null,null,null,null,"tab\\there ünï",null,null,null]\n]}\n'
)
XML_211 = (
    '<data xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
    '<row _id="1"><code>a</code><n>1</n><num>2.5</num><b>True</b><ts>2020-01-01T00:00:00</ts><jj><value key="x">'
    '<value key="0">1</value><value key="1">2</value></value></jj><arr><value key="0">p</value><value key="1">q'
    '</value></arr><desc>hello world, "quoted"</desc><f>1.5</f><d>2020-02-03</d><t>01:02:03</t></row>\n'
    '<row _id="2"><code>b</code><n xsi:nil="true" /><num>3</num><b>False</b><ts>2020-01-01T10:11:12</ts><jj>'
    '<value key="0">1</value><value key="1">a</value></jj><arr xsi:nil="true" /><desc>line1\nline2</desc>'
    '<f>1e+20</f><d xsi:nil="true" /><t xsi:nil="true" /></row>\n'
    '<row _id="3"><code>c</code><n>3</n><num>1.1</num><b xsi:nil="true" /><ts xsi:nil="true" /><jj>str</jj><arr />'
    '<desc xsi:nil="true" /><f>0.1</f><d xsi:nil="true" /><t xsi:nil="true" /></row>\n'
    '<row _id="4"><code>d&lt;&amp;&gt;</code><n xsi:nil="true" /><num xsi:nil="true" /><b xsi:nil="true" />'
    '<ts xsi:nil="true" /><jj xsi:nil="true" /><arr xsi:nil="true" /><desc>tab\there ünï</desc>'
    '<f xsi:nil="true" /><d xsi:nil="true" /><t xsi:nil="true" /></row>\n</data>\n'
)


def for_version(text: str, version: str) -> str:
    if version == "2.11":
        return text
    return text.replace("2020-01-01T00:00:00", "2020-01-01T00:00:00.000").replace(
        "2020-01-01T10:11:12", "2020-01-01T10:11:12.500"
    )


@pytest.fixture
def table(api: Api, make_org: Callable[..., dict[str, Any]]) -> str:
    org = make_org()
    status, body = api("package_create", {"name": f"dump-{org['name']}", "owner_org": org["id"]})
    assert status == 200, body
    status, body = api(
        "datastore_create",
        {"resource": {"package_id": body["result"]["id"]}, "fields": FIELDS, "records": RECORDS},
    )
    assert status == 200, body
    return body["result"]["resource_id"]  # type: ignore[no-any-return]


@pytest.fixture
def http(server: EmbeddedCKAN) -> httpx.Client:
    return httpx.Client(transport=EmbeddedTransport(server), base_url=server.site_url)


@BOTH
@pytest.mark.parametrize(
    ("query", "expected"),
    [("", CSV_211), ("?format=tsv", TSV_211), ("?format=json", JSON_211), ("?format=xml", XML_211)],
)
def test_dump_bytes_match_ckan(http: httpx.Client, table: str, ckan_version: str, query: str, expected: str) -> None:
    resp = http.get(f"/datastore/dump/{table}{query}")
    assert resp.status_code == 200
    fmt = query.rsplit("=", 1)[-1] if query else "csv"
    assert resp.headers["content-type"] == "application/octet-stream"
    assert resp.headers["content-disposition"] == f'attachment; filename="{table}.{fmt}"'
    assert resp.content == for_version(expected, ckan_version).encode("utf-8")


@BOTH
def test_dump_parameters(http: httpx.Client, table: str, ckan_version: str) -> None:
    lines = for_version(CSV_211, ckan_version).split("\n")

    def get(query: str) -> str:
        resp = http.get(f"/datastore/dump/{table}?{query}")
        assert resp.status_code == 200, resp.text
        return resp.content.decode("utf-8")

    assert get("bom=true") == "\ufeff" + for_version(CSV_211, ckan_version)
    # offset/limit count rows (row 2 spans two lines because of its embedded newline)
    assert get("limit=2&offset=1") == "\n".join([lines[0], lines[2], lines[3], lines[4]]) + "\n"
    assert get("sort=code%20desc&fields=code,n") == "code,n\r\nd<&>,\nc,3\nb,\na,1\n"
    assert get('filters={"code":"a"}') == "\n".join(lines[:2]) + "\n"
    with_rank = get("q=hello")
    assert with_rank.startswith("_id,code,n,num,b,ts,jj,arr,desc,f,d,t,rank\r\n1,a,")
    assert with_rank.endswith(",0.057308756\n")
    # CKAN writes the header with the first page, and limit=0 fetches none
    assert get("format=json&limit=0") == "\n]}\n"
    assert get("format=xml&limit=0&bom=true") == "</data>\n"
    assert get("limit=0") == ""
    # ... while a page with no rows still gets the header
    assert get('filters={"code":"zzz"}') == lines[0] + "\n"
    assert get('format=xml&filters={"code":"zzz"}') == (
        '<data xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n</data>\n'
    )
    assert get('format=json&filters={"code":"zzz"}').endswith('"records": [\n]}\n')
    xml = get("format=xml&fields=code,jj,arr")
    assert xml.startswith('<data xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n<row><code>a</code>')


@BOTH
def test_dump_errors(http: httpx.Client, table: str, server: EmbeddedCKAN, ckan_version: str) -> None:
    assert http.get("/datastore/dump/nonexist").status_code == 404
    # 2.11 looks the table up first, 2.12 validates first
    assert http.get("/datastore/dump/nonexist?limit=x").status_code == (404 if ckan_version == "2.11" else 400)
    assert http.get(f"/datastore/dump/{table}?limit=x").status_code == 400
    assert http.get(f"/datastore/dump/{table}?format=bad").status_code == (400 if ckan_version == "2.11" else 500)
    assert http.get(f"/datastore/dump/{table}?fields=nope").status_code == 500
    assert http.get(f"/datastore/dump/{table}?sort=nope").status_code == 500
    for resp in (http.get("/datastore/dump/nonexist"), http.get(f"/datastore/dump/{table}?limit=x")):
        assert resp.headers["content-type"].startswith("text/html")


def test_dump_of_private_table_is_404_for_anonymous(
    api: Api, http: httpx.Client, make_org: Callable[..., dict[str, Any]], server: EmbeddedCKAN
) -> None:
    org = make_org()
    _, pkg = api("package_create", {"name": f"pdump-{org['name']}", "owner_org": org["id"], "private": True})
    _, created = api(
        "datastore_create",
        {"resource": {"package_id": pkg["result"]["id"]}, "fields": [{"id": "a", "type": "text"}],
         "records": [{"a": "x"}]},
    )  # fmt: skip
    rid = created["result"]["resource_id"]
    assert http.get(f"/datastore/dump/{rid}").status_code == 404
    resp = http.get(f"/datastore/dump/{rid}", headers={"Authorization": server.sysadmin_token})
    assert resp.status_code == 200 and resp.content == b"_id,a\r\n1,x\n"


def test_dump_200k_rows_streams_in_constant_memory(
    api: Api, make_org: Callable[..., Any], server: EmbeddedCKAN
) -> None:
    org = make_org()
    _, pkg = api("package_create", {"name": f"big-{org['name']}", "owner_org": org["id"]})
    _, created = api(
        "datastore_create",
        {"resource": {"package_id": pkg["result"]["id"]},
         "fields": [{"id": "n", "type": "int"}, {"id": "label", "type": "text"}, {"id": "x", "type": "float"}]},
    )  # fmt: skip
    rid = created["result"]["resource_id"]
    rows = 200_000
    label = "L" * 100
    # bulk-load through SQLite directly: this test is about the dump, not about upsert speed
    store = get_store(server)
    with store.write() as conn:
        conn.executemany(
            f"INSERT INTO {quote(rid)} (n, label, x) VALUES (?, ?, ?)",
            ((i, f"{label}{i}", i / 4) for i in range(rows)),
        )
    client = httpx.Client(transport=EmbeddedTransport(server), base_url=server.site_url)
    total = 0
    newlines = 0
    tail = b""
    tracemalloc.start()
    try:
        with client.stream("GET", f"/datastore/dump/{rid}") as resp:
            assert resp.status_code == 200
            for chunk in resp.iter_bytes():
                total += len(chunk)
                newlines += chunk.count(b"\n")
                tail = (tail + chunk)[-200:]
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert newlines == rows + 1
    assert total > 20_000_000  # about 23 MB of CSV went through ...
    assert peak < 8_000_000, f"peak {peak} bytes"  # ... while at most a few MB were ever held
    last = rows - 1
    assert tail.endswith(f"{rows},{last},{label}{last},{last / 4!r}\n".encode())


def test_dump_json_of_many_rows_is_valid_json(api: Api, make_org: Callable[..., Any], http: httpx.Client) -> None:
    org = make_org()
    _, pkg = api("package_create", {"name": f"js-{org['name']}", "owner_org": org["id"]})
    _, created = api(
        "datastore_create",
        {"resource": {"package_id": pkg["result"]["id"]}, "fields": [{"id": "n", "type": "int"}],
         "records": [{"n": i} for i in range(2500)]},
    )  # fmt: skip
    body = json.loads(http.get(f"/datastore/dump/{created['result']['resource_id']}?format=json").content)
    assert body["records"] == [[i + 1, i] for i in range(2500)]
    assert body["fields"] == [{"id": "_id", "type": "int"}, {"id": "n", "type": "int4"}]
