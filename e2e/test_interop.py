"""Interop: DuckDB reads the Delta tables the hub wrote — through the Delta log, without
the hub — and gets the same row counts and checksums as the hub's own SQL."""

import json
import os
import pathlib
import urllib.request

import duckdb


def active_files(table: pathlib.Path):
    """Replays the Delta log (JSON commits, in order): the Parquet files of the current version."""
    files = {}
    for commit in sorted((table / "_delta_log").glob("*.json")):
        for line in commit.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            action = json.loads(line)
            if "add" in action:
                files[action["add"]["path"]] = True
            elif "remove" in action:
                files.pop(action["remove"]["path"], None)
    return [str(table / p) for p in files]


def hub_sql(base_url, key, sql):
    req = urllib.request.Request(
        f"{base_url}/api/v1/sql",
        data=json.dumps({"sql": sql}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def test_duckdb_reads_the_hubs_tables_with_the_same_counts_and_checksums(base_url, accounts):
    data = pathlib.Path(os.environ.get("SHUNIU_E2E_DATA", "shuniu-data"))
    key = accounts["operator_api_key"]
    req = urllib.request.Request(f"{base_url}/api/v1/datasets", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req) as r:
        datasets = json.load(r)
    assert len(datasets) > 100, "the demo city loads its catalog's data"
    checked = 0
    con = duckdb.connect()
    # A person register, an enterprise register and a few others.
    for ds in datasets[:: max(1, len(datasets) // 12)]:
        code = ds["code"]
        table = data / "lake" / code
        files = active_files(table)
        assert files, code
        cols = [c[0] for c in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [files]).fetchall()]
        key_col = cols[0]
        text_cols = [c for c in cols if c in ("name", "address", "ent_name", "location", "record_id", "id_number", "credit_code")]
        length_sum = " + ".join(f"coalesce(sum(length({c})), 0)" for c in text_cols) or "0"
        q = f"SELECT count(*), count(DISTINCT {key_col}), {length_sum}, min({key_col}), max({key_col}) FROM {{t}}"
        theirs = con.execute(q.format(t="read_parquet(?)"), [files]).fetchone()
        ours = hub_sql(base_url, key, q.format(t=f'"{code}"'))["rows"][0]
        assert [str(v) for v in theirs] == [str(v) if v is not None else "None" for v in ours], code
        checked += 1
    assert checked >= 10
