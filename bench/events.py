"""City-event benchmarks, each with its reference in the same run.

intake  — reports posted to `POST /api/v1/events` over HTTP on loopback by wrk (Debian's
          package): located, deduplicated against open events nearby, dispatched by rule, two
          steps of history, two durably audited entries, each committed before the answer.
          Reference: PostgreSQL (the same machine) inserting an event row and its two step rows
          of the same size per transaction, through `pgbench` with a custom script.
listing — a million events in the control plane (SQLite, the default), listed and filtered
          through `GET /api/v1/events` (by state, district, category, department, overdue, or
          none; 50 per page), driven by wrk: p50 and p99 latency against the target of 50 ms.

    cargo build --release --bin shuniu
    apt-get install wrk postgresql            # pgbench comes with PostgreSQL
    .venv/bin/python bench/events.py intake
    .venv/bin/python bench/events.py listing 1000000

PostgreSQL: PGHOST/PGUSER/PGPASSWORD/PGDATABASE as for psql (default 127.0.0.1, shuniu).
Both sides share the machine's two cores with their load generator; medians of RUNS runs.
"""

import json
import os
import pathlib
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from load_csv import SHUNIU  # noqa: E402
from sharing import PG, api, free_port, percentile, wrk_ms  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
DURATION = int(os.environ.get("DURATION", "20"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))
WORK = pathlib.Path(os.environ.get("BENCH_WORK", "/tmp/shuniu-events-bench"))

DISTRICTS = [("370202", 36.0671, 120.3826), ("370203", 36.0876, 120.3748), ("370211", 35.9606, 120.1979),
             ("370212", 36.1072, 120.4688), ("370213", 36.1451, 120.4327), ("370214", 36.3074, 120.3963)]
CATEGORIES = [("0101", "暴露垃圾", "370200CG"), ("0202", "机动车乱停放", "370200GA"),
              ("0301", "井盖问题", "370200CG"), ("0302", "路灯不亮", "370200CG")]
DESCRIPTION = "香港中路与山东路路口东北角人行道上有一处井盖缺失，夜间照明不足，行人容易踩空，请尽快处理"


def start(data):
    port = free_port()
    env = dict(os.environ, SHUNIU_LOG="warn")
    server = subprocess.Popen([SHUNIU, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return server, base
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the hub did not start")


def stop(server):
    server.send_signal(signal.SIGTERM)
    server.wait()


def fresh_hub(tag):
    """A new data directory with the departments, the event tree and the dispatch rules."""
    data = WORK / f"hub-{tag}"
    subprocess.run(["rm", "-rf", str(data)], check=True)
    out = subprocess.run([SHUNIU, "init", "--data-dir", str(data)], check=True, capture_output=True, text=True).stdout
    operator = re.search(r"snk_\w+", out).group(0)
    server, base = start(data)
    for code, name, short in [("370200CG", "青岛市城市管理局", "城管"), ("370200GA", "青岛市公安局", "公安")]:
        api(base, operator, "POST", "/api/v1/departments", {"code": code, "name": name, "short_name": short, "division": "370200"})
    api(base, operator, "POST", "/api/v1/events/categories", {"code": "01", "name": "城市管理", "hours": [24, 8, 4]})
    for code, name, dept in CATEGORIES:
        api(base, operator, "POST", "/api/v1/events/categories",
            {"code": code, "name": name, "parent": "01", "hours": [16, 8, 4], "keywords": [name]})
        api(base, operator, "POST", "/api/v1/events/rules", {"category": code, "department": dept})
    return data, server, base, operator


def wrk(script, base, label):
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", "-s", str(script), base],
                         check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = wrk_ms(re.search(r"50%\s+(\S+)", out).group(1))
    p99 = wrk_ms(re.search(r"99%\s+(\S+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert not bad, out
    print(f"  {label}: {rps:,.0f} req/s p50 {p50:.2f} ms p99 {p99:.2f} ms", file=sys.stderr)
    return rps, p50, p99


def intake():
    data, server, base, operator = fresh_hub("intake")
    script = WORK / "intake.lua"
    # Random places over six districts (few fall within 100 m of each other: mostly new
    # events, some merged, as in a city), a category each, a description of 44 characters.
    script.write_text(
        "math.randomseed(os.time() + math.floor(os.clock() * 1000000))\n"
        f"local d = {{{', '.join('{%s, %s}' % (lat, lon) for _, lat, lon in DISTRICTS)}}}\n"
        f"local c = {{{', '.join(repr(code) for code, _, _ in CATEGORIES)}}}\n"
        "request = function()\n"
        "  local p = d[math.random(#d)]\n"
        "  local lat = p[1] + (math.random() - 0.5) * 0.2\n"
        "  local lon = p[2] + (math.random() - 0.5) * 0.2\n"
        "  local body = string.format('{\"channel\":\"grid\",\"category\":\"%s\",\"description\":\"" + DESCRIPTION + "\","
        "\"lat\":%.6f,\"lon\":%.6f,\"reporter_name\":\"张先生\",\"reporter_phone\":\"13800001111\"}', c[math.random(#c)], lat, lon)\n"
        f"  return wrk.format('POST', '/api/v1/events', {{['Authorization'] = 'Bearer {operator}', ['Content-Type'] = 'application/json'}}, body)\n"
        "end\n", encoding="utf-8")
    ours = []
    try:
        for r in range(RUNS):
            ours.append(wrk(script, base, f"shuniu intake run {r + 1}"))
        # What the runs left: every event with its history and audit entries.
        listed = api(base, operator, "GET", "/api/v1/events?limit=1")
        assert listed and listed[0]["state"] in ("dispatched", "merged"), listed
    finally:
        stop(server)
    db = sqlite3.connect(data / "shuniu.db")
    events, steps = db.execute("SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM event_steps)").fetchone()
    row_bytes = db.execute("SELECT AVG(LENGTH(id) + LENGTH(token) + LENGTH(description) + LENGTH(address) + LENGTH(reporter_sealed)"
                           " + LENGTH(attributes) + 120) FROM events").fetchone()[0]
    db.close()
    print(f"  {events:,} events, {steps:,} steps written; about {row_bytes:.0f} bytes of text per event row", file=sys.stderr)

    # The reference: PostgreSQL inserting an event row and two step rows per transaction.
    env = dict(os.environ, PGPASSWORD=PG["password"])
    pg = ["-h", PG["host"], "-U", PG["user"]]
    psql = lambda db, sql: subprocess.run(["psql", *pg, "-d", db, "-qc", sql], check=True, env=env, capture_output=True)  # noqa: E731
    psql(PG["db"], "DROP DATABASE IF EXISTS shuniu_events_bench")
    psql(PG["db"], "CREATE DATABASE shuniu_events_bench")
    # The same tables and indexes as ours (the control plane's own migrations).
    migrations = pathlib.Path(__file__).resolve().parent.parent / "crates/shuniu-store/migrations/postgres"
    for m in sorted(migrations.glob("001[4-9]_*.sql")):
        psql("shuniu_events_bench", m.read_text())
    sealed = "x" * 180  # the sealed reporter's length in our rows
    custom = WORK / "pgbench-intake.sql"
    custom.write_text(
        "\\set lat random(35900000, 36400000)\n"
        "\\set lon random(120100000, 120600000)\n"
        "BEGIN;\n"
        "INSERT INTO events (id, token, parent_id, channel, external_id, category, confidence, description, address, lat, lon,"
        " district, street, reporter_sealed, reporter_subject, state, urgency, department, assisting, reported_at,"
        " dispatched_at, handled_at, closed_at, due_at, escalation, reminded, satisfaction, attributes, media_url, updated_at)"
        " VALUES ('E20261207-' || md5(random()::text), md5(random()::text), NULL, 'grid', NULL, '0301', NULL,"
        f" '{DESCRIPTION}', '', :lat, :lon, '370202', '', '{sealed}', NULL, 'dispatched', 'normal', '370200CG', '[]',"
        " now()::text, now()::text, NULL, NULL, now()::text, 0, 0, NULL, '{}', '', now()::text);\n"
        "INSERT INTO event_steps VALUES ('E' || md5(random()::text), 1, now()::text, 'app-bench', '', 'report', NULL, 'reported', '', '[]');\n"
        "INSERT INTO event_steps VALUES ('E' || md5(random()::text), 2, now()::text, 'app-bench', '', 'dispatch', 'reported',"
        " 'dispatched', '按派遣规则自动派遣 / dispatched by rule R0123456789ab', '[]');\n"
        "END;\n", encoding="utf-8")
    theirs = []
    for r in range(RUNS):
        out = subprocess.run(["pgbench", *pg, "-n", "-M", "prepared", "-c", str(CONNECTIONS), "-j", "2", "-T", str(DURATION),
                              "-f", str(custom), "shuniu_events_bench"], check=True, env=env, capture_output=True, text=True).stdout
        tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
        lat = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
        theirs.append((tps, lat))
        print(f"  pgbench custom insert run {r + 1}: {tps:,.0f} tps, latency average {lat:.2f} ms", file=sys.stderr)
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    print("| shuniu events/s (HTTP, audited) | p50 | p99 | pgbench inserts/s (event + 2 steps per transaction) | ratio (ours ÷ pgbench) | target ≥ 1,000/s |")
    print("|---|---|---|---|---|---|")
    o = med(ours, 0)
    print(f"| {o:,.0f} | {med(ours, 1):.2f} ms | {med(ours, 2):.2f} ms | {med(theirs, 0):,.0f} | {o / med(theirs, 0):.2f} | "
          f"{'met' if o >= 1000 else 'missed'} |")


def fill(data, n):
    """A million events straight into the control plane, shaped like a year of the demo city's:
    most closed, some open and some overdue, over ten districts and the categories."""
    db = sqlite3.connect(data / "shuniu.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    rnd = random.Random(20261207)
    now = time.time()
    states = ["closed"] * 86 + ["dispatched"] * 4 + ["handling"] * 4 + ["handled"] * 2 + ["reported"] * 1 + ["merged"] * 3
    batch = []
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))  # noqa: E731
    for i in range(n):
        d, lat, lon = DISTRICTS[rnd.randrange(len(DISTRICTS))]
        code, _, dept = CATEGORIES[rnd.randrange(len(CATEGORIES))]
        at = now - rnd.random() * 365 * 86400
        state = states[rnd.randrange(len(states))]
        due = at + rnd.choice([16, 24, 40]) * 3600 * 1.8
        closed = iso(at + rnd.random() * 48 * 3600) if state == "closed" else None
        batch.append((f"E{time.strftime('%Y%m%d', time.gmtime(at))}-{i:010x}", f"t{i:023x}", None, "hotline", None, code, None,
                      DESCRIPTION, "青岛市市南区香港中路10号", int((lat + rnd.uniform(-.05, .05)) * 1e6),
                      int((lon + rnd.uniform(-.05, .05)) * 1e6), d, "香港中路", "x" * 180, None, state, "normal",
                      None if state == "reported" else dept, "[]", iso(at), iso(at + 3600), None, closed, iso(due),
                      1 if state != "closed" and due < now else 0, 0, None, "{}", "", iso(at + 7200)))
        if len(batch) == 50_000:
            db.executemany("INSERT INTO events VALUES (" + ",".join("?" * 30) + ")", batch)
            db.commit()
            batch.clear()
    if batch:
        db.executemany("INSERT INTO events VALUES (" + ",".join("?" * 30) + ")", batch)
    db.commit()
    db.execute("ANALYZE")
    db.close()


def listing(n):
    data = WORK / f"hub-listing-{n}"
    marker = WORK / f"listing-{n}.ready"
    if not marker.exists():
        data, server, base, operator = fresh_hub(f"listing-{n}")
        stop(server)
        t = time.perf_counter()
        fill(data, n)
        print(f"  {n:,} events written in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        (WORK / f"listing-{n}.operator").write_text(operator)
        marker.write_text("ok")
    operator = (WORK / f"listing-{n}.operator").read_text()
    server, base = start(data)
    queries = ["", "state=dispatched", "state=closed", "district=370212", "category=0302", "district=370203&category=0101",
               "department=370200GA", "overdue=true", "state=handling&district=370211", "offset=500"]
    try:
        for q in queries:
            got = api(base, operator, "GET", f"/api/v1/events?limit=50&{q}")
            assert len(got) == 50, (q, len(got))
        script = WORK / "listing.lua"
        script.write_text(
            "math.randomseed(os.time() + math.floor(os.clock() * 1000000))\n"
            f"local q = {{{', '.join(json.dumps(q) for q in queries)}}}\n"
            "request = function()\n"
            f"  return wrk.format('GET', '/api/v1/events?limit=50&' .. q[math.random(#q)], {{['Authorization'] = 'Bearer {operator}'}})\n"
            "end\n")
        ours = [wrk(script, base, f"listing run {r + 1}") for r in range(RUNS)]
        per_query = []
        for q in queries:
            lat = []
            for _ in range(20):
                t = time.perf_counter()
                api(base, operator, "GET", f"/api/v1/events?limit=50&{q}")
                lat.append((time.perf_counter() - t) * 1000)
            per_query.append((q or "(none)", statistics.median(lat), percentile(lat, 99)))
    finally:
        stop(server)
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    p99 = med(ours, 2)
    print(f"| events | requests/s ({CONNECTIONS} connections) | p50 | p99 | target p99 ≤ 50 ms |")
    print("|---|---|---|---|---|")
    print(f"| {n:,} | {med(ours, 0):,.0f} | {med(ours, 1):.2f} ms | {p99:.2f} ms | {'met' if p99 <= 50 else 'missed'} |")
    print()
    print("| filter (one client, 20 calls) | median | max |")
    print("|---|---|---|")
    for q, m, p in per_query:
        print(f"| `{q}` | {m:.1f} ms | {p:.1f} ms |")


if __name__ == "__main__":
    WORK.mkdir(parents=True, exist_ok=True)
    what = sys.argv[1] if len(sys.argv) > 1 else "intake"
    if what == "intake":
        intake()
    elif what == "listing":
        listing(int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
    else:
        sys.exit(__doc__)
