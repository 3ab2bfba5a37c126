"""Quality benchmark: the aggregation benchmark's 1,000,000-row person file with injected
defects, checked by five rules — name required, id_number unique, phone ^1[3-9]\\d{9}$,
district in the current GB/T 2260 table, amount >= 0 — three ways in the same run:

  * `shuniu load`: parse, check on the Arrow batches as they stream, write the Delta version
    (the checks and the load are one pass; the time includes the load);
  * Great Expectations (pandas): read the CSV into a DataFrame, validate five expectations;
  * DuckDB: one SQL query over the CSV computing the five failure counts.

    cargo build --release --bin shuniu
    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/quality.py 1000000

Failure counts must agree across the three. Duplicates are counted as Great Expectations
counts them: every row whose id_number occurs more than once (all occurrences). Each tool
runs as its own process; wall time and peak RSS come from wait4(2).
"""

import csv
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from load_csv import DISTRICTS, GIVEN, PYTHON, ROOT, SHUNIU, SURNAMES, check, measured  # noqa: E402

CODES = ROOT / "crates" / "shuniu-types" / "data" / "gbt2260.csv"

# No semantic types: the five rules below are the officer's, and nothing else runs per row.
RESOURCE = {
    "name": "质量基准测试人口数据",
    "provider": "370200DSJ",
    "category": "base",
    "item_code": 1, "item_name": "人口",
    "subject_code": 1, "subject_name": "质量基准",
    "summary": "benchmark", "format": "database",
    "share_type": "conditional", "share_conditions": "benchmark",
    "open_type": "not_open", "update_cycle": "daily", "level": "general_3",
    "data_items": [
        {"name": "id_number", "label": "公民身份号码", "data_type": "text", "length": 18},
        {"name": "name", "label": "姓名", "data_type": "text", "length": 50},
        {"name": "phone", "label": "联系电话", "data_type": "text", "length": 11},
        {"name": "birth_date", "label": "出生日期", "data_type": "date"},
        {"name": "district", "label": "行政区划代码", "data_type": "text", "length": 6},
        {"name": "amount", "label": "金额", "data_type": "currency"},
    ],
}

RULES = [
    {"id": "name.required", "column": "name", "type": "required"},
    {"id": "id_number.unique", "column": "id_number", "type": "unique"},
    {"id": "phone.format", "column": "phone", "type": "pattern", "pattern": r"^1[3-9]\d{9}$"},
    {"id": "district.code", "column": "district", "type": "code_table", "table": "gbt2260_current"},
    {"id": "amount.non_negative", "column": "amount", "type": "range", "min": 0},
    # The declarations' own length and date rules are switched off: five checks, no more.
    *[{"id": f"{c}.length", "column": c, "type": "length", "max": n, "enabled": False}
      for c, n in [("id_number", 18), ("name", 50), ("phone", 11), ("district", 6)]],
]
NAMES = ["name.required", "id_number.unique", "phone.format", "district.code", "amount.non_negative"]


def write_dirty_csv(path, rows):
    """The aggregation benchmark's rows, with defects at fixed strides."""
    import datetime
    base = datetime.date(1940, 1, 1)
    with open(path, "w", encoding="utf-8", buffering=1 << 22) as f:
        f.write("id_number,name,phone,birth_date,district,amount\n")
        out = []
        prev_id = None
        for i in range(rows):
            d = DISTRICTS[i % 10]
            j = i // 10
            day = (j % 30680) * 7919 % 30680
            birth = base + datetime.timedelta(days=day)
            seq = (j // 30680) % 500 * 2 + (i & 1)
            first17 = f"{d}{birth:%Y%m%d}{seq:03d}"
            id_number = first17 + check(first17)
            if i % 101 == 100:
                id_number = prev_id  # a duplicate of the previous row's number
            prev_id = id_number
            name = "" if i % 97 == 3 else f"{SURNAMES[i % 20]}{GIVEN[(i >> 3) % 14]}"
            phone = f"1{3 + i % 7}{(i * 7919) % 1000000000:09d}"
            if i % 89 == 5:
                phone = f"12{(i * 7919) % 1000000000:09d}"
            district = "379999" if i % 83 == 7 else d
            amount = f"{(i * 37) % 100000}.{i % 100:02d}"
            if i % 79 == 11:
                amount = "-" + amount
            out.append(f"{id_number},{name},{phone},{birth:%Y-%m-%d},{district},{amount}\n")
            if len(out) == 100000:
                f.write("".join(out))
                out.clear()
        f.write("".join(out))


def current_codes(work):
    path = work / "gbt2260-current.csv"
    if not path.exists():
        with open(CODES, encoding="utf-8") as src, open(path, "w", encoding="utf-8") as out:
            out.write("code\n")
            for row in csv.DictReader(src):
                if row["status"] == "current":
                    out.write(row["code"] + "\n")
    return path


GE_SCRIPT = r"""
import time
t0 = time.perf_counter()
import json, sys
import pandas as pd
import great_expectations as gx
import great_expectations.expectations as gxe
csv_path, codes_path = sys.argv[1], sys.argv[2]
t1 = time.perf_counter()
codes = pd.read_csv(codes_path, dtype=str)["code"].tolist()
df = pd.read_csv(csv_path, dtype={"id_number": str, "name": str, "phone": str, "district": str, "birth_date": str})
t2 = time.perf_counter()
ctx = gx.get_context(mode="ephemeral")
batch = ctx.data_sources.add_pandas("p").add_dataframe_asset("persons") \
    .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": df})
checks = {
    "name.required": gxe.ExpectColumnValuesToNotBeNull(column="name"),
    "id_number.unique": gxe.ExpectColumnValuesToBeUnique(column="id_number"),
    "phone.format": gxe.ExpectColumnValuesToMatchRegex(column="phone", regex=r"^1[3-9]\d{9}$"),
    "district.code": gxe.ExpectColumnValuesToBeInSet(column="district", value_set=codes),
    "amount.non_negative": gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=0),
}
out = {}
t3 = time.perf_counter()
for name, e in checks.items():
    r = batch.validate(e, result_format="BASIC")
    out[name] = int(r.result["unexpected_count"])
t4 = time.perf_counter()
# Phases, apart from the counts: Python start-up and imports, CSV reading, context set-up,
# and the five validations alone.
out["_phases"] = {"imports": t1 - t0, "read_csv": t2 - t1, "context": t3 - t2, "validate": t4 - t3}
print(json.dumps(out))
"""

DUCKDB_SCRIPT = r"""
import json, sys
import duckdb
csv_path, codes_path = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(f"CREATE TABLE codes AS SELECT code FROM read_csv('{codes_path}', columns={{'code': 'VARCHAR'}}, header=true)")
row = con.execute(f'''
  SELECT
    count(*) FILTER (WHERE name IS NULL OR trim(name) = ''),
    count(*) FILTER (WHERE dup > 1),
    count(*) FILTER (WHERE phone IS NOT NULL AND NOT regexp_full_match(phone, '1[3-9]\d{{9}}')),
    count(*) FILTER (WHERE district IS NOT NULL AND NOT known),
    count(*) FILTER (WHERE amount < 0)
  FROM (
    SELECT t.*, count(*) OVER (PARTITION BY id_number) AS dup, c.code IS NOT NULL AS known
    FROM read_csv('{csv_path}', header=true, columns={{
      'id_number': 'VARCHAR', 'name': 'VARCHAR', 'phone': 'VARCHAR', 'birth_date': 'DATE',
      'district': 'VARCHAR', 'amount': 'DECIMAL(18,2)'}}) t
    LEFT JOIN codes c ON t.district = c.code
  )
''').fetchone()
names = ["name.required", "id_number.unique", "phone.format", "district.code", "amount.non_negative"]
print(json.dumps(dict(zip(names, [int(v) for v in row]))))
"""


def setup(work):
    data = work / "hub"
    if not (work / "code").exists():
        subprocess.run([SHUNIU, "init", "--data-dir", str(data)], check=True, capture_output=True)
        res = work / "resource.json"
        res.write_text(json.dumps(RESOURCE, ensure_ascii=False), encoding="utf-8")
        code = subprocess.run(
            [SHUNIU, "catalog", "register", "--publish", "--data-dir", str(data), str(res)],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        for rule in RULES:
            subprocess.run(
                [SHUNIU, "quality", "add-rule", "--resource", code, "--data-dir", str(data),
                 "--rule", json.dumps(rule)],
                check=True, capture_output=True,
            )
        (work / "code").write_text(code)
    return data, (work / "code").read_text()


def run(rows, runs, work):
    path = work / f"persons-dirty-{rows}.csv"
    if not path.exists():
        write_dirty_csv(path, rows)
    codes = current_codes(work)
    data, code = setup(work)
    env = dict(os.environ, SHUNIU_LOG="warn")
    results = []
    for r in range(runs):
        secs, rss, out = measured(
            [SHUNIU, "load", "--json", "--resource", code, "--mode", "replace", "--data-dir", str(data), str(path)],
            env=env,
        )
        load = json.loads(out)
        assert load["status"] == "succeeded" and load["rows_accepted"] == rows, load
        _, _, rep = measured([SHUNIU, "quality", "report", "--json", "--resource", code, "--data-dir", str(data)], env=env)
        report = json.loads(rep)
        ours = {x["rule"]: x["failed"] for x in report["rules"] if x["rule"] in NAMES}
        gsecs, grss, gout = measured([PYTHON, "-c", GE_SCRIPT, str(path), str(codes)])
        dsecs, drss, dout = measured([PYTHON, "-c", DUCKDB_SCRIPT, str(path), str(codes)])
        ge, duck = json.loads(gout), json.loads(dout)
        phases = ge.pop("_phases")
        if not (ours == ge == duck):
            raise SystemExit(f"failure counts disagree:\n shuniu {ours}\n GE     {ge}\n DuckDB {duck}")
        results.append((secs, rss, gsecs, grss, dsecs, drss, ours, phases["validate"], phases))
        print(f"  run {r + 1}: shuniu {secs:.2f} s {rss:.0f} MiB | GE {gsecs:.2f} s {grss:.0f} MiB "
              f"(imports {phases['imports']:.1f} s, read_csv {phases['read_csv']:.1f} s, "
              f"context {phases['context']:.1f} s, validate {phases['validate']:.1f} s) | "
              f"DuckDB {dsecs:.2f} s {drss:.0f} MiB | failures {ours}", file=sys.stderr)
    med = lambda k: statistics.median(r[k] for r in results)  # noqa: E731
    s, g, d = med(0), med(2), med(4)
    print(f"| {rows:,} | {s:.2f} s | {rows / s:,.0f} | {max(r[1] for r in results):.0f} MiB | "
          f"{g:.2f} s | {rows / g:,.0f} | {max(r[3] for r in results):.0f} MiB | "
          f"{d:.2f} s | {rows / d:,.0f} | {max(r[5] for r in results):.0f} MiB | {g / s:.1f}× | {s / d:.2f}× |")
    gv = med(7)
    ph = {k: statistics.median(r[8][k] for r in results) for k in ("imports", "read_csv", "context", "validate")}
    print(f"\nGreat Expectations by phase (medians): imports {ph['imports']:.2f} s, read_csv {ph['read_csv']:.2f} s, "
          f"context {ph['context']:.2f} s, five validations {gv:.2f} s; "
          f"GE validations alone / our whole load + checks: {gv / s:.2f}×")
    print("\nfailures per rule (all three agree): " + ", ".join(f"{k} {v:,}" for k, v in results[0][6].items()))


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1_000_000]
    runs = int(os.environ.get("RUNS", "3"))
    print("| rows | shuniu load + 5 checks (median) | rows/s | peak RSS | Great Expectations (pandas) | rows/s | peak RSS "
          "| DuckDB SQL from CSV | rows/s | peak RSS | GE time / ours | ours / DuckDB time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    keep = os.environ.get("BENCH_WORK")
    for rows in sizes:
        if keep:
            pathlib.Path(keep).mkdir(parents=True, exist_ok=True)
            run(rows, runs, pathlib.Path(keep))
        else:
            with tempfile.TemporaryDirectory() as work:
                run(rows, runs, pathlib.Path(work))


if __name__ == "__main__":
    main()
