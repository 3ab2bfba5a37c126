"""Acceptance of the open-data portal by the tools the open-data world already uses, against
the running demo city:

- CKAN's own client, `ckanapi` from PyPI, in POST mode and in GET mode (-g), for the actions
  portals call and for `ckanapi dump datasets --all`;
- a replay of the CKAN harvester's gather stage (ckanext-harvest's CKANHarvester): pages of
  rows=100 with an increasing start, sorted by id, filtered with fq on metadata_modified,
  which must see every dataset exactly once;
- pyshacl validating the DCAT-AP output against the DCAT-AP 3.0.1 SHACL shapes (the
  mandatory shapes.ttl, and the all-in-one dcat-ap-SHACL.ttl with the range constraints).
"""

import datetime
import json
import os
import pathlib
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

CKANAPI = str(pathlib.Path(sys.executable).parent / "ckanapi")
ANCHORS = pathlib.Path(
    os.environ.get(
        "SHUNIU_DCAT_SHAPES_DIR",
        pathlib.Path(__file__).resolve().parent / "shapes" / "dcat-ap-3.0.1",
    )
)


def call(base_url, action, **params):
    url = f"{base_url}/api/3/action/{action}?" + urllib.parse.urlencode(params, doseq=True)
    with urllib.request.urlopen(url, timeout=30) as r:
        body = json.loads(r.read())
    assert body["success"] is True, body
    return body["result"]


def ckanapi(base_url, *args, get=False, check=True):
    cmd = [CKANAPI, *args, "-r", base_url] + (["-g"] if get else [])
    # `dump -p N` starts worker processes by the name `ckanapi`: it must be on the PATH.
    env = dict(os.environ, PATH=f"{pathlib.Path(CKANAPI).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if check:
        assert p.returncode == 0, f"{cmd}\nstdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}"
    return p


@pytest.fixture(scope="module")
def token(base_url, accounts):
    """A fresh data token of the demo enterprise's approved application, issued through the
    portal's forms as a person would (sign in, then 生成令牌 on the account page)."""
    import http.cookiejar
    import re

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{base_url}/open/login").read().decode()
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
    form = urllib.parse.urlencode(
        {"csrf": csrf, "login": accounts["open"]["login"], "password": accounts["open"]["password"]}
    ).encode()
    account = opener.open(f"{base_url}/open/login", data=form).read().decode()
    app = re.search(r'data-application="([^"]+)" data-state="approved"', account).group(1)
    issued = opener.open(
        f"{base_url}/open/account/token/{app}", data=urllib.parse.urlencode({"csrf": csrf}).encode()
    ).read().decode()
    return re.search(r'id="token-value">([^<]+)<', issued).group(1)


@pytest.fixture(scope="module")
def names(base_url):
    names = call(base_url, "package_list")
    assert len(names) > 20, "the demo city publishes open datasets"
    return names


@pytest.mark.parametrize("get", [False, True], ids=["post", "get"])
def test_ckanapi_actions(base_url, accounts, names, token, get):
    listed = json.loads(ckanapi(base_url, "action", "package_list", get=get).stdout)
    assert listed == names

    found = json.loads(
        ckanapi(
            base_url, "action", "package_search", "q=*:*", "rows=5",
            'facet.field:["organization", "groups", "res_format"]', get=get,
        ).stdout
    )
    assert found["count"] == len(names)
    assert len(found["results"]) == 5
    assert sum(found["facets"]["organization"].values()) == len(names)
    assert found["search_facets"]["groups"]["items"][0]["display_name"]

    public = accounts["open"]["public_dataset"]
    pkg = json.loads(ckanapi(base_url, "action", "package_show", f"id={public}", get=get).stdout)
    assert pkg["name"] == public and pkg["organization"]["name"]
    csv = next(r for r in pkg["resources"] if r["format"] == "CSV")
    assert csv["datastore_active"] is True

    rows = json.loads(
        ckanapi(base_url, "action", "datastore_search", f"resource_id={csv['id']}", "limit=3", get=get).stdout
    )
    assert len(rows["records"]) == 3 and rows["total"] >= 3
    field = rows["fields"][1]["id"]
    value = rows["records"][0][field]
    filtered = json.loads(
        ckanapi(
            base_url, "action", "datastore_search", f"resource_id={csv['id']}",
            # GET sends a query string: objects go as JSON text, as CKAN expects.
            ("filters=" if get else "filters:") + json.dumps({field: value}), get=get,
        ).stdout
    )
    assert filtered["total"] >= 1
    assert all(r[field] == value for r in filtered["records"])

    orgs = json.loads(ckanapi(base_url, "action", "organization_list", "all_fields:true", get=get).stdout)
    assert sum(o["package_count"] for o in orgs) == len(names)
    status = json.loads(ckanapi(base_url, "action", "status_show", get=get).stdout)
    assert status["ckan_version"].startswith("2.")

    # CKAN's errors come back as the exceptions ckanapi maps them to.
    missing = ckanapi(base_url, "action", "package_show", "id=no-such-dataset", get=get, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr + missing.stdout
    bad = ckanapi(base_url, "action", "package_search", "fq=metadata_modified:[2020 TO", get=get, check=False)
    assert bad.returncode != 0 and "SearchQueryError" in bad.stderr + bad.stdout

    # Conditionally open data: refused without the token, served with it.
    cond = accounts["open"]["conditional_dataset"]
    denied = ckanapi(base_url, "action", "datastore_search", f"resource_id={cond}", get=get, check=False)
    assert denied.returncode != 0 and "NotAuthorized" in denied.stderr + denied.stdout
    ok = ckanapi(
        base_url, "action", "datastore_search", f"resource_id={cond}", "limit=2",
        "--apikey", token, get=get,
    )
    assert len(json.loads(ok.stdout)["records"]) >= 1


@pytest.mark.parametrize("get", [False, True], ids=["post", "get"])
def test_ckanapi_dump_datasets_all(base_url, names, tmp_path, get):
    out = tmp_path / "datasets.jsonl"
    ckanapi(base_url, "dump", "datasets", "--all", "-O", str(out), "-p", "2", get=get)
    dumped = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert sorted(d["name"] for d in dumped) == sorted(names)
    assert all(d["resources"] is not None and d["organization"]["name"] for d in dumped)


def harvest(base_url, fq_terms, rows):
    """ckanext-harvest's CKANHarvester._search_for_datasets, replayed."""
    params = {"rows": str(rows), "start": "0", "sort": "id asc"}
    if fq_terms:
        params["fq"] = " ".join(fq_terms)
    seen, pages, previous = [], 0, None
    while True:
        url = f"{base_url}/api/2/action/package_search?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=30) as r:
            content = r.read()
        assert content != previous, f"the paging does not seem to work: {url}"
        previous = content
        page = json.loads(content)["result"]["results"]
        pages += 1
        if not page:
            return seen, pages
        seen.extend(p["id"] for p in page)
        params["start"] = str(int(params["start"]) + int(params["rows"]))


@pytest.mark.parametrize("rows", [100, 10])
def test_harvester_paging_sees_every_dataset_exactly_once(base_url, names, rows):
    first = min(
        call(base_url, "package_search", rows=1, sort="metadata_modified asc")["results"][0]["metadata_modified"],
        "9999",
    )
    since = (datetime.datetime.fromisoformat(first) - datetime.timedelta(hours=1)).isoformat()
    seen, pages = harvest(base_url, [f"metadata_modified:[{since}Z TO *]"], rows)
    assert len(seen) == len(set(seen)), "a dataset was returned twice"
    every = {call(base_url, "package_show", id=n)["id"] for n in names}
    assert set(seen) == every
    assert pages == len(names) // rows + 2 - (len(names) % rows == 0)
    # A later incremental run sees nothing new.
    later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    seen, _ = harvest(base_url, [f"metadata_modified:[{later}Z TO *]"], rows)
    assert seen == []


def rdf(base_url, path):
    with urllib.request.urlopen(f"{base_url}{path}", timeout=60) as r:
        return r.read().decode("utf-8"), r.headers["Content-Type"]


def conforms(data, fmt):
    from pyshacl import validate
    import rdflib

    graph = rdflib.Graph().parse(data=data, format=fmt)
    # shapes.ttl: the mandatory properties; dcat-ap-SHACL.ttl: all of them with the ranges
    # (classes of the objects) as well.
    for shapes in ["shapes.ttl", "dcat-ap-SHACL.ttl"]:
        ok, _, text = validate(
            graph,
            shacl_graph=str(ANCHORS / shapes),
            inference="none",
            abort_on_first=False,
        )
        assert ok, f"{shapes}: {text}"
    return graph


def test_dcat_ap_catalog_validates_against_the_shapes(base_url, names, accounts):
    assert (ANCHORS / "shapes.ttl").exists(), f"DCAT-AP shapes not found in {ANCHORS}"
    import rdflib

    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    datasets = set()
    page = 1
    while True:
        text, ctype = rdf(base_url, f"/catalog.ttl?page={page}")
        assert ctype.startswith("text/turtle")
        graph = conforms(text, "turtle")
        datasets |= set(graph.subjects(rdflib.RDF.type, dcat.Dataset))
        hydra = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")
        if not list(graph.objects(None, hydra.nextPage)):
            break
        page += 1
    assert len(datasets) == len(names)
    text, ctype = rdf(base_url, "/catalog.jsonld")
    assert ctype.startswith("application/ld+json")
    conforms(text, "json-ld")
    one = accounts["open"]["public_dataset"]
    for ext, fmt in [("jsonld", "json-ld"), ("ttl", "turtle"), ("rdf", "xml")]:
        text, _ = rdf(base_url, f"/open/dataset/{one}.{ext}")
        graph = conforms(text, fmt)
        assert len(list(graph.subjects(rdflib.RDF.type, dcat.Distribution))) == 4
