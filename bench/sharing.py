"""Unified-service benchmarks, each against its peer in the same run.

lookup  — authorized, masked, durably audited lookups over HTTP on loopback, driven by wrk
          (Debian's package) with random keys, against PostgreSQL's `pgbench -S` on a
          pgbench_accounts table of the same number of rows on the same machine.
compare — a comparison job of KEYS keys (half present) against a ROWS-row resource, against
          DuckDB joining the same keys file with the same data (the CSV the resource was
          loaded from, and the lake's own Parquet files).

    cargo build --release --bin shuniu
    apt-get install wrk postgresql            # pgbench comes with PostgreSQL
    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/sharing.py lookup 1000000
    .venv/bin/python bench/sharing.py compare 10000000 1000000
    .venv/bin/python bench/sharing.py sealing 1000000    # lookups with sensitive items vs without

PostgreSQL: PGHOST/PGUSER/PGPASSWORD/PGDATABASE as for psql (default 127.0.0.1, shuniu).
Both sides share the machine's cores with their load generator; medians of RUNS runs.
"""

import json
import os
import pathlib
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from load_csv import PYTHON, SHUNIU, measured, write_csv  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
DURATION = int(os.environ.get("DURATION", "20"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
WORK = pathlib.Path(os.environ.get("BENCH_WORK", "/tmp/shuniu-sharing-bench"))
PG = dict(
    host=os.environ.get("PGHOST", "127.0.0.1"),
    user=os.environ.get("PGUSER", "shuniu"),
    password=os.environ.get("PGPASSWORD", "shuniu"),
    db=os.environ.get("PGDATABASE", "postgres"),
)

RESOURCE = {
    "name": "共享基准测试人口数据",
    "provider": "370200DSJ",
    "category": "base",
    "item_code": 1, "item_name": "人口",
    "subject_code": 1, "subject_name": "共享基准",
    "summary": "benchmark", "format": "database",
    "share_type": "unconditional", "share_conditions": "",
    "open_type": "not_open", "update_cycle": "daily", "level": "general_3",
    "data_items": [
        {"name": "id_number", "label": "公民身份号码", "data_type": "text", "length": 18, "is_key": True,
         "personal": True, "semantic_type": "id_number"},
        {"name": "name", "label": "姓名", "data_type": "text", "length": 50, "personal": True, "semantic_type": "person_name"},
        {"name": "phone", "label": "联系电话", "data_type": "text", "length": 11, "personal": True, "semantic_type": "mobile"},
        {"name": "birth_date", "label": "出生日期", "data_type": "date"},
        {"name": "district", "label": "行政区划代码", "data_type": "text", "length": 6, "semantic_type": "division_code"},
        {"name": "amount", "label": "金额", "data_type": "currency", "semantic_type": "amount"},
    ],
}

SEALED_RESOURCE = json.loads(json.dumps(RESOURCE))
SEALED_RESOURCE["name"] = "共享基准测试人口数据（敏感）"
for _item in SEALED_RESOURCE["data_items"]:
    if _item["name"] in ("id_number", "phone"):
        _item["sensitive"] = True


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def api(base, key, method, path, body=None, raw=None, ctype="application/json"):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"null")


def hub(rows, sealed=False):
    """A data directory with the resource loaded and indexed, a consuming application and its
    grant; returns (data dir, code, server process, base url, consumer key, csv path)."""
    csv = WORK / f"persons-{rows}.csv"
    if not csv.exists():
        t = time.perf_counter()
        write_csv(csv, rows)
        print(f"  generated {rows:,} rows in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    tag = f"{rows}-sealed" if sealed else f"{rows}"
    data = WORK / f"hub-{tag}"
    env = dict(os.environ, SHUNIU_LOG="warn")
    if not data.exists():
        out = subprocess.run([SHUNIU, "init", "--data-dir", str(data)], check=True, capture_output=True, text=True).stdout
        (WORK / f"operator-{tag}").write_text(re.search(r"snk_\w+", out).group(0))
        res = WORK / f"sharing-resource-{tag}.json"
        res.write_text(json.dumps(SEALED_RESOURCE if sealed else RESOURCE, ensure_ascii=False), encoding="utf-8")
        code = subprocess.run([SHUNIU, "catalog", "register", "--publish", "--data-dir", str(data), str(res)],
                              check=True, capture_output=True, text=True).stdout.strip()
        (WORK / f"code-{tag}").write_text(code)
        t = time.perf_counter()
        subprocess.run([SHUNIU, "load", "--resource", code, "--mode", "replace", "--data-dir", str(data), str(csv)],
                       check=True, capture_output=True, env=env)
        print(f"  loaded in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        t = time.perf_counter()
        subprocess.run([SHUNIU, "sharing", "index", "--resource", code, "--data-dir", str(data)],
                       check=True, capture_output=True, env=env)
        print(f"  serving index built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    operator = (WORK / f"operator-{tag}").read_text()
    code = (WORK / f"code-{tag}").read_text()
    port = free_port()
    server = subprocess.Popen([SHUNIU, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    keyfile = WORK / f"consumer-{tag}"
    if not keyfile.exists():
        api(base, operator, "POST", "/api/v1/departments",
            {"code": "370200MZ", "name": "青岛市民政局", "short_name": "民政", "division": "370200"})
        app = api(base, operator, "POST", "/api/v1/applications",
                  {"id": "bench-consumer", "name": "基准测试系统", "department": "370200MZ", "role": "data_officer"})
        r = api(base, operator, "POST", "/api/v1/sharing/requests", {
            "resource_code": code, "application_id": "bench-consumer",
            "purpose": "基准测试查询", "scenario": "benchmark", "duration_days": 365,
            "services": ["lookup", "compare"], "rate_per_second": 1000000,
            "calls_per_day": 10**12, "rows_per_day": 10**13,
        })
        assert r["state"] == "granted", r
        keyfile.write_text(app["key"])
    return data, code, server, base, keyfile.read_text(), csv


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def wrk_ms(s):
    m = re.match(r"([\d.]+)(us|ms|s)", s)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


def drive(rows, sealed, runs, label):
    """wrk against one hub's lookups; returns [(req/s, p50 ms, p99 ms)] and the data dir."""
    data, code, server, base, key, csv = hub(rows, sealed)
    try:
        keys = WORK / f"keys-{rows}.txt"
        with open(csv, encoding="utf-8") as f:
            next(f)
            sample = [line.split(",", 1)[0] for i, line in enumerate(f) if i % max(1, rows // 100000) == 0]
        keys.write_text("\n".join(sample) + "\n")
        # One lookup as a consumer sees it.
        print("  " + json.dumps(api(base, key, "GET", f"/api/v1/services/{code}/records/{sample[1]}")["records"][0],
                                ensure_ascii=False), file=sys.stderr)
        script = WORK / f"lookup-{label}.lua"
        script.write_text(
            'local keys = {}\n'
            f'for line in io.lines("{keys}") do keys[#keys + 1] = line end\n'
            'math.randomseed(os.time() + math.floor(os.clock() * 1000000))\n'
            'request = function()\n'
            '  local k = keys[math.random(#keys)]\n'
            f'  return wrk.format("GET", "/api/v1/services/{code}/records/" .. k, {{["Authorization"] = "Bearer {key}"}})\n'
            'end\n'
        )
        ours = []
        for r in range(runs):
            out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", "-s", str(script), base],
                                 check=True, capture_output=True, text=True).stdout
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            p50 = wrk_ms(re.search(r"50%\s+(\S+)", out).group(1))
            p99 = wrk_ms(re.search(r"99%\s+(\S+)", out).group(1))
            bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            assert not bad, out
            ours.append((rps, p50, p99))
            print(f"  {label} run {r + 1}: {rps:,.0f} req/s p50 {p50:.2f} ms p99 {p99:.2f} ms", file=sys.stderr)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    return ours, data


def sealing(rows):
    """Lookups of a resource whose ID numbers and phones are sensitive (sealed in the lake and
    the serving index, found by digest, opened per answer) against the same resource in clear,
    alternating one run each."""
    clear, sealed = [], []
    for r in range(RUNS):
        clear += drive(rows, False, 1, "clear")[0]
        sealed += drive(rows, True, 1, "sealed")[0]
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    print("| rows | clear req/s | p50 | p99 | sealed req/s | p50 | p99 | sealed ÷ clear throughput |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {rows:,} | {med(clear, 0):,.0f} | {med(clear, 1):.2f} ms | {med(clear, 2):.2f} ms | "
          f"{med(sealed, 0):,.0f} | {med(sealed, 1):.2f} ms | {med(sealed, 2):.2f} ms | {med(sealed, 0) / med(clear, 0):.2f} |")


def lookup(rows):
    ours, data = drive(rows, False, RUNS, "shuniu")
    audit = sum(f.stat().st_size for f in (data / "audit").rglob("*") if f.is_file())
    # pgbench -S on pgbench_accounts of the same number of rows (scale = rows / 100,000).
    env = dict(os.environ, PGPASSWORD=PG["password"])
    pg = ["-h", PG["host"], "-U", PG["user"]]
    subprocess.run(["psql", *pg, "-d", PG["db"], "-qc", "DROP DATABASE IF EXISTS shuniu_pgbench"], check=True, env=env, capture_output=True)
    subprocess.run(["psql", *pg, "-d", PG["db"], "-qc", "CREATE DATABASE shuniu_pgbench"], check=True, env=env, capture_output=True)
    subprocess.run(["pgbench", *pg, "-i", "-q", "-s", str(max(1, rows // 100000)), "shuniu_pgbench"], check=True, env=env, capture_output=True)
    theirs = []
    logdir = WORK / "pgbench-logs"
    for r in range(RUNS):
        if logdir.exists():
            for f in logdir.iterdir():
                f.unlink()
        logdir.mkdir(exist_ok=True)
        out = subprocess.run(["pgbench", *pg, "-S", "-M", "prepared", "-c", str(CONNECTIONS), "-j", "2", "-T", str(DURATION), "-l",
                              "--log-prefix", str(logdir / "pgb"), "shuniu_pgbench"],
                             check=True, env=env, capture_output=True, text=True).stdout
        tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
        lat = []
        for f in logdir.iterdir():
            for line in open(f):
                parts = line.split()
                lat.append(int(parts[2]) / 1000)
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        theirs.append((tps, p50, p99))
        print(f"  pgbench -S -M prepared run {r + 1}: {tps:,.0f} tps p50 {p50:.2f} ms p99 {p99:.2f} ms", file=sys.stderr)
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    print("| rows | shuniu req/s | p50 | p99 | pgbench -S -M prepared tps | p50 | p99 | ratio (ours ÷ pgbench) |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {rows:,} | {med(ours, 0):,.0f} | {med(ours, 1):.2f} ms | {med(ours, 2):.2f} ms | "
          f"{med(theirs, 0):,.0f} | {med(theirs, 1):.2f} ms | {med(theirs, 2):.2f} ms | {med(ours, 0) / med(theirs, 0):.2f} |")
    print(f"audit log after the runs: {audit / 1e6:,.0f} MB", file=sys.stderr)


def compare(rows, nkeys):
    data, code, server, base, key, csv = hub(rows)
    keys = WORK / f"compare-keys-{rows}-{nkeys}.csv"
    if not keys.exists():
        # Half present (every n-th row), half absent (valid-looking numbers that are not there).
        step = max(1, rows // (nkeys // 2))
        with open(csv, encoding="utf-8") as f, open(keys, "w") as out:
            next(f)
            out.write("id_number\n")
            n = 0
            for i, line in enumerate(f):
                if i % step == 0 and n < nkeys // 2:
                    k = line.split(",", 1)[0]
                    out.write(k + "\n")
                    out.write("9" + k[1:] + "\n")
                    n += 1
    try:
        ours = []
        for r in range(RUNS):
            t = time.perf_counter()
            job = api(base, key, "POST", f"/api/v1/services/{code}/comparisons", raw=keys.read_bytes(), ctype="text/csv")
            while job["state"] == "running":
                time.sleep(0.05)
                job = api(base, key, "GET", f"/api/v1/services/comparisons/{job['id']}")
            secs = time.perf_counter() - t
            assert job["state"] == "finished", job
            ours.append((secs, job["found"]))
            print(f"  shuniu run {r + 1}: {secs:.2f} s, {job['found']:,} of {job['keys_total']:,} found", file=sys.stderr)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    lake = data / "lake" / code
    duck = []
    for r in range(RUNS):
        out = WORK / "duck-result.csv"
        q_csv = (f"COPY (SELECT k.id_number AS key, p.id_number IS NOT NULL AS found, p.* FROM read_csv('{keys}') k "
                 f"LEFT JOIN read_csv('{csv}') p ON p.id_number = k.id_number) TO '{out}' (HEADER)")
        q_pq = (f"COPY (SELECT k.id_number AS key, p.id_number IS NOT NULL AS found, p.* FROM read_csv('{keys}') k "
                f"LEFT JOIN read_parquet('{lake}/**/*.parquet') p ON p.id_number = k.id_number) TO '{out}' (HEADER)")
        s1, m1, _ = measured([PYTHON, "-c", f"import duckdb; duckdb.sql(\"{q_csv}\")"])
        s2, m2, _ = measured([PYTHON, "-c", f"import duckdb; duckdb.sql(\"{q_pq}\")"])
        duck.append((s1, s2))
        print(f"  duckdb run {r + 1}: from CSV {s1:.2f} s, from the lake's Parquet {s2:.2f} s", file=sys.stderr)
    o = statistics.median(x[0] for x in ours)
    d1 = statistics.median(x[0] for x in duck)
    d2 = statistics.median(x[1] for x in duck)
    print("| resource rows | keys | shuniu comparison job | DuckDB join (CSV) | DuckDB join (lake Parquet) | ours ÷ DuckDB (CSV) | ours ÷ DuckDB (Parquet) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {rows:,} | {nkeys:,} | {o:.2f} s | {d1:.2f} s | {d2:.2f} s | {o / d1:.2f} | {o / d2:.2f} |")


if __name__ == "__main__":
    WORK.mkdir(parents=True, exist_ok=True)
    what = sys.argv[1] if len(sys.argv) > 1 else "lookup"
    if what == "lookup":
        lookup(int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
    elif what == "sealing":
        sealing(int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
    else:
        compare(int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000, int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000)
