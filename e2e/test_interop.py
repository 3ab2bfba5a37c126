"""Interop: DuckDB reads the Delta tables the hub wrote — through the Delta log, without
the hub — and gets the same row counts and checksums as the hub's own SQL. Sensitive items
(敏感) are sealed: DuckDB sees them as BLOBs with a keyed digest beside each (`name#sm3`), so it
can count and match them by digest but never reads a value (docs/keys.md)."""

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
    sealed_seen = 0
    con = duckdb.connect()
    # A person register, an enterprise register and a few others.
    for ds in datasets[:: max(1, len(datasets) // 12)]:
        code = ds["code"]
        table = data / "lake" / code
        files = active_files(table)
        assert files, code
        described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [files]).fetchall()
        types = {c[0]: c[1] for c in described}
        sealed = {c[: -len("#sm3")] for c in types if c.endswith("#sm3")}
        cols = [c[0] for c in described if not c[0].endswith("#sm3")]
        for c in sealed:
            assert types[c] == "BLOB" and types[f"{c}#sm3"] == "BLOB", (code, c, types)
        sealed_seen += bool(sealed)
        key_col = cols[0]
        text_cols = [c for c in cols if c in ("name", "address", "ent_name", "location", "record_id", "id_number", "credit_code") and c not in sealed]
        length_sum = " + ".join(f"coalesce(sum(length({c})), 0)" for c in text_cols) or "0"
        if key_col in sealed:
            # Equal values have equal digests: DuckDB counts distinct keys by digest.
            theirs_key = f'"{key_col}#sm3"'
            q = "SELECT count(*), count(DISTINCT {k}), " + length_sum + " FROM {t}"
        else:
            theirs_key = key_col
            q = "SELECT count(*), count(DISTINCT {k}), " + length_sum + ", min({k}), max({k}) FROM {t}"
        theirs = con.execute(q.format(k=theirs_key, t="read_parquet(?)"), [files]).fetchone()
        ours = hub_sql(base_url, key, q.format(k=key_col, t=f'"{code}"'))["rows"][0]
        assert [str(v) for v in theirs] == [str(v) if v is not None else "None" for v in ours], code
        if key_col in sealed:
            # The hub reads the values; the files hold none of them.
            some = hub_sql(base_url, key, f'SELECT min({key_col}) FROM "{code}"')["rows"][0][0]
            assert some and len(some) > 4, code
            blob = b"".join(pathlib.Path(f).read_bytes() for f in files)
            assert some.encode() not in blob, f"{code}: a sensitive value in clear"
        checked += 1
    assert checked >= 10
    assert sealed_seen >= 1, "a person register with sealed ID numbers was checked"
