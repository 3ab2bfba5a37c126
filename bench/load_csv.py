"""Aggregation benchmark: load a person-like CSV into a resource in full-replace mode with
`shuniu load`, and in the same run have DuckDB read the same CSV and write Parquet.

    cargo build --release --bin shuniu
    .venv/bin/python bench/load_csv.py 1000000 10000000
    SEALED=1 .venv/bin/python bench/load_csv.py 1000000   # also the cost of sensitive items

With SEALED=1 each run also loads the same file into a second resource whose ID numbers and
phone numbers are sensitive items (敏感: sealed with SM4-GCM cell by cell, HMAC-SM3 digest
beside each), and reports that load's time against the clear one's.

Each tool runs as its own process; wall time and peak RSS come from wait4(2). Rows carry
valid GB 11643 ID numbers, names, mobiles, birth dates, district codes and amounts.
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHUNIU = os.environ.get("SHUNIU_BIN", str(ROOT / "target" / "release" / "shuniu"))
PYTHON = sys.executable
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
DISTRICTS = ["370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281", "370283", "370285"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "秀英", "桂英", "建华", "晓东"]

RESOURCE = {
    "name": "基准测试人口数据",
    "provider": "370200DSJ",
    "category": "base",
    "item_code": 1, "item_name": "人口",
    "subject_code": 1, "subject_name": "基准",
    "summary": "benchmark", "format": "database",
    "share_type": "conditional", "share_conditions": "benchmark",
    "open_type": "not_open", "update_cycle": "daily", "level": "general_3",
    "data_items": [
        {"name": "id_number", "label": "公民身份号码", "data_type": "text", "length": 18, "is_key": True, "required": True, "semantic_type": "id_number"},
        {"name": "name", "label": "姓名", "data_type": "text", "length": 50, "semantic_type": "person_name"},
        {"name": "phone", "label": "联系电话", "data_type": "text", "length": 11, "semantic_type": "mobile"},
        {"name": "birth_date", "label": "出生日期", "data_type": "date"},
        {"name": "district", "label": "行政区划代码", "data_type": "text", "length": 6, "semantic_type": "division_code"},
        {"name": "amount", "label": "金额", "data_type": "currency", "semantic_type": "amount"},
    ],
}


SEALED_RESOURCE = json.loads(json.dumps(RESOURCE))
SEALED_RESOURCE["name"] = "基准测试人口数据（敏感）"
for _item in SEALED_RESOURCE["data_items"]:
    if _item["name"] in ("id_number", "phone"):
        _item["sensitive"] = True


def check(first17):
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, W)) % 11]


def write_csv(path, rows):
    import datetime
    base = datetime.date(1940, 1, 1)
    with open(path, "w", encoding="utf-8", buffering=1 << 22) as f:
        f.write("id_number,name,phone,birth_date,district,amount\n")
        out = []
        for i in range(rows):
            d = DISTRICTS[i % 10]
            j = i // 10
            day = (j % 30680) * 7919 % 30680
            birth = base + datetime.timedelta(days=day)
            seq = (j // 30680) % 500 * 2 + (i & 1)
            first17 = f"{d}{birth:%Y%m%d}{seq:03d}"
            out.append(
                f"{first17}{check(first17)},{SURNAMES[i % 20]}{GIVEN[(i >> 3) % 14]},"
                f"1{3 + i % 7}{(i * 7919) % 1000000000:09d},{birth:%Y-%m-%d},{d},{(i * 37) % 100000}.{i % 100:02d}\n"
            )
            if len(out) == 100000:
                f.write("".join(out))
                out.clear()
        f.write("".join(out))


def measured(cmd, **kw):
    """Runs cmd; returns (seconds, peak RSS in MiB, stdout)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    secs = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed: {err.decode(errors='replace')[-2000:]}")
    return secs, usage.ru_maxrss / 1024, out


def run(rows, runs, work):
    csv = work / f"persons-{rows}.csv"
    base = work / "persons-1000000.csv"
    if not csv.exists() and rows > 1_000_000 and rows % 1_000_000 == 0 and base.exists():
        # Bigger files repeat the 1,000,000-row file: same rows, generated in seconds.
        with open(csv, "wb") as out, open(base, "rb") as src:
            header = src.readline()
            body = src.read()
            out.write(header)
            for _ in range(rows // 1_000_000):
                out.write(body)
    if not csv.exists():
        t = time.perf_counter()
        write_csv(csv, rows)
        print(f"  generated {rows:,} rows in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    size_mb = csv.stat().st_size / 1e6
    data = work / "hub"
    if not data.exists():
        subprocess.run([SHUNIU, "init", "--data-dir", str(data)], check=True, capture_output=True)
        res = work / "resource.json"
        res.write_text(json.dumps(RESOURCE, ensure_ascii=False), encoding="utf-8")
        code = subprocess.run(
            [SHUNIU, "catalog", "register", "--publish", "--data-dir", str(data), str(res)],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        (work / "code").write_text(code)
        sres = work / "resource-sealed.json"
        sres.write_text(json.dumps(SEALED_RESOURCE, ensure_ascii=False), encoding="utf-8")
        scode = subprocess.run(
            [SHUNIU, "catalog", "register", "--publish", "--data-dir", str(data), str(sres)],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        (work / "code-sealed").write_text(scode)
    code = (work / "code").read_text()
    sealed_code = (work / "code-sealed").read_text() if (work / "code-sealed").exists() else None
    sealed = os.environ.get("SEALED") == "1" and sealed_code is not None
    env = dict(os.environ, SHUNIU_LOG="warn")
    results = []
    for r in range(runs):
        secs, rss, out = measured(
            [SHUNIU, "load", "--json", "--resource", code, "--mode", "replace", "--data-dir", str(data), str(csv)],
            env=env,
        )
        report = json.loads(out)
        assert report["status"] == "succeeded" and report["rows_accepted"] == rows, report
        parquet = work / "duck.parquet"
        dsecs, drss, _ = measured([
            PYTHON, "-c",
            "import duckdb,sys; duckdb.sql(f\"COPY (SELECT * FROM read_csv('{sys.argv[1]}')) TO '{sys.argv[2]}' (FORMAT parquet)\")",
            str(csv), str(parquet),
        ])
        ssecs = srss = float("nan")
        if sealed:
            ssecs, srss, sout = measured(
                [SHUNIU, "load", "--json", "--resource", sealed_code, "--mode", "replace", "--data-dir", str(data), str(csv)],
                env=env,
            )
            sreport = json.loads(sout)
            assert sreport["status"] == "succeeded" and sreport["rows_accepted"] == rows, sreport
        results.append((secs, rss, dsecs, drss, ssecs, srss))
        print(f"  run {r + 1}: shuniu {secs:.2f} s {rss:.0f} MiB | duckdb {dsecs:.2f} s {drss:.0f} MiB"
              + (f" | shuniu, sensitive items sealed {ssecs:.2f} s {srss:.0f} MiB" if sealed else ""), file=sys.stderr)
    ours = statistics.median(r[0] for r in results)
    theirs = statistics.median(r[2] for r in results)
    print(
        f"| {rows:,} | {size_mb:.0f} MB | {ours:.2f} s | {rows / ours:,.0f} | {size_mb / ours:.0f} | "
        f"{max(r[1] for r in results):.0f} MiB | {theirs:.2f} s | {rows / theirs:,.0f} | "
        f"{max(r[3] for r in results):.0f} MiB | {theirs / ours:.2f} |"
    )
    if sealed:
        sealed_med = statistics.median(r[4] for r in results)
        print(
            f"sealed: {rows:,} rows, 2 of 6 columns sensitive: {sealed_med:.2f} s "
            f"(clear {ours:.2f} s), {max(r[5] for r in results):.0f} MiB peak; "
            f"sealed / clear time {sealed_med / ours:.2f} "
            f"(per run: {', '.join(f'{r[4] / r[0]:.2f}' for r in results)})"
        )


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1_000_000]
    runs = int(os.environ.get("RUNS", "3"))
    print("| rows | CSV | shuniu load (median) | rows/s | MB/s | peak RSS | DuckDB CSV→Parquet (median) | rows/s | peak RSS | ratio (DuckDB time / ours) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    keep = os.environ.get("BENCH_WORK")  # a directory to keep the generated CSVs in
    if keep:
        pathlib.Path(keep).mkdir(parents=True, exist_ok=True)
        for rows in sizes:
            run(rows, runs, pathlib.Path(keep))
        return
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        for rows in sizes:
            run(rows, runs, pathlib.Path(d))


if __name__ == "__main__":
    main()
