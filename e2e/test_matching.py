"""Policy matching (免申即享) on the demo city: its ten policies are listed by the API, and what
the hub says qualifies — through the command line and the API — equals DuckDB's answer to the
same rules computed independently over the population library's Parquet files."""

import json
import os
import pathlib
import subprocess
import urllib.request

import duckdb

from test_interop import active_files

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = os.environ.get("SHUNIU_BIN", str(ROOT / "target" / "debug" / "shuniu"))
CITY = "('370202','370203','370211','370212','370213','370214','370215','370281','370283','370285')"


def api(base_url, key, path):
    req = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def duckdb_gaoling(data: pathlib.Path):
    """高龄津贴 for January 2025, written directly in SQL: age on 2025-01-31 ≥ 80 (the value in
    force since 2024-07-01), registered in the city; 500 from 100, 200 from 90, else 100."""
    rows = api_library(data)
    con = duckdb.connect()
    return con.execute(
        f"""WITH p AS (SELECT (CAST(strftime(DATE '2025-01-31', '%Y%m%d') AS BIGINT)
                              - CAST(strftime(birth_date, '%Y%m%d') AS BIGINT)) // 10000 AS age, division
                       FROM read_parquet(?))
            SELECT count(*), coalesce(sum(CASE WHEN age >= 100 THEN 500 WHEN age >= 90 THEN 200 ELSE 100 END), 0)
            FROM p WHERE age >= 80 AND division IN {CITY}""",
        [rows],
    ).fetchone()


def api_library(data: pathlib.Path):
    return active_files(data / "lake" / "101001-370200DSJ-00001")


def test_the_demo_policies_are_listed(base_url, accounts):
    listed = api(base_url, accounts["operator_api_key"], "/api/v1/policies")
    assert len(listed) >= 10, listed
    for p in listed:
        assert {"code", "name", "target"} <= set(p), p
        assert p["target"] in ("persons", "enterprises") and p["version"] >= 1, p
    assert {"POL-GAOLING", "POL-CHUANGYE-TIEXI", "POL-WENGANG", "POL-GAOXIN"} <= {p["code"] for p in listed}


def test_who_qualifies_equals_duckdb_over_the_same_parquet(base_url, accounts):
    data = pathlib.Path(os.environ.get("SHUNIU_E2E_DATA", "shuniu-data"))
    want_n, want_amount = duckdb_gaoling(data)
    assert want_n > 0, "the demo city has people of 80 and over"
    out = subprocess.run(
        [BIN, "policy", "evaluate", "--data-dir", str(data), "--policy", "POL-GAOLING", "--period", "2025-01", "--json"],
        capture_output=True, text=True, env={**os.environ, "SHUNIU_LOG": "warn"}, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert (got["eligible"], got["amount"]) == (want_n, float(want_amount)), (got, want_n, want_amount)
    # The API's list holds the same people, masked.
    key = accounts["operator_api_key"]
    seen, offset = [], 0
    while True:
        page = api(base_url, key, f"/api/v1/policies/POL-GAOLING/eligible?period=2025-01&offset={offset}&limit=1000")
        seen += page["rows"]
        if len(page["rows"]) < 1000:
            break
        offset += 1000
    assert len(seen) == want_n
    assert sum(r["amount"] for r in seen) == float(want_amount)
    assert all("*" in r["key"] for r in seen), seen[:3]
