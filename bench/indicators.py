"""Indicator benchmarks, with DuckDB as the peer in the same run.

compute — the demo city at SCALE residents (100,000 by default) with its indicators topped up to
          1,000 (variants of the demo's own definitions: the same count per district, per month,
          per month and district over other datasets), all computed by `shuniu indicators compute`
          (one process: the queries over the lake with DataFusion, one append to the values
          table, the runs, latest figures and alerts in the control plane, the audit entries).
          Peer: DuckDB running the same 1,000 statements over the same Parquet files (the Delta
          tables' active files), in one connection, warmed like us (one run before the timed
          ones). Every value is compared. Target: ≤ 60 s and ≤ 1.5× DuckDB's time.
paint   — the city screen's first contentful paint in headless Chromium on loopback (signed in),
          median of RUNS loads. Target: ≤ 2 s.

    cargo build --release --bin shuniu
    .venv/bin/python bench/indicators.py compute
    .venv/bin/python bench/indicators.py paint
"""

import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import time
import urllib.request

import duckdb

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from load_csv import SHUNIU  # noqa: E402
from events import start as start_hub, stop  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "e2e"))
from test_interop import active_files  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
SCALE = int(os.environ.get("SCALE", "100000"))
TARGET = int(os.environ.get("INDICATORS", "1000"))
WORK = pathlib.Path(os.environ.get("BENCH_WORK", "/tmp/shuniu-indicators-bench"))
CITY = WORK / f"city-{SCALE}"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def api(base, key, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    h = {"Authorization": f"Bearer {key}"}
    if data is not None:
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, headers=h, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.load(r)


def city():
    """The demo city at SCALE, built once and kept between runs of this script."""
    if not (CITY / "demo-accounts.json").exists():
        subprocess.run(["rm", "-rf", str(CITY)], check=True)
        log(f"building the demo city at {SCALE:,} residents into {CITY} …")
        t = time.monotonic()
        subprocess.run([SHUNIU, "demo", "--data-dir", str(CITY), "--scale", str(SCALE), "--no-serve"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, SHUNIU_LOG="warn"))
        log(f"  built in {time.monotonic() - t:.0f} s")
    return json.loads((CITY / "demo-accounts.json").read_text(encoding="utf-8"))


def top_up(base, key):
    """Adds variants of the demo's definitions until the city has TARGET published indicators."""
    listed = api(base, key, "/api/v1/indicators")
    have = [i for i in listed if i["version"] > 0]
    if len(have) >= TARGET:
        return
    specs = [api(base, key, f"/api/v1/indicators/{i['code']}")["spec"] for i in have if i["code"].endswith("-MD")]
    n = len(have)
    k = 0
    while n < TARGET:
        base_spec = specs[k % len(specs)]
        variant = k // len(specs)
        k += 1
        s = dict(base_spec)
        s["code"] = f"{base_spec['code']}-V{variant}"
        if len(s["code"]) > 40:
            continue
        # The same series for one year each: what a bureau defines per plan period.
        year = 2015 + variant % 11
        s["name"] = f"{base_spec['name']}（{year}）"
        s["sql"] = base_spec["sql"].replace("WHERE ", f"WHERE substr(CAST({date_col(base_spec['sql'])} AS VARCHAR), 1, 4) = '{year}' AND ", 1)
        s["thresholds"] = {}
        s.pop("event_category", None)
        s["severity"] = "warning"
        api(base, key, "/api/v1/indicators", s)
        api(base, key, f"/api/v1/indicators/{s['code']}/submit", {})
        api(base, key, f"/api/v1/indicators/{s['code']}/review", {"publish": True})
        n += 1
        if n % 100 == 0:
            log(f"  {n} indicators")


def date_col(sql):
    return re.search(r"CAST\((\w+) AS VARCHAR\)", sql).group(1)


def specs_of(base, key):
    listed = api(base, key, "/api/v1/indicators")
    return [api(base, key, f"/api/v1/indicators/{i['code']}")["spec"] for i in listed if i["version"] > 0]


def ours_once():
    t = time.monotonic()
    out = subprocess.run([SHUNIU, "indicators", "compute", "--data-dir", str(CITY), "--json"],
                         check=True, capture_output=True, text=True, env=dict(os.environ, SHUNIU_LOG="warn")).stdout
    took = time.monotonic() - t
    runs = json.loads(out)
    failed = [r for r in runs if r["error"]]
    assert not failed, failed[:3]
    return took, len(runs)


def duckdb_once(specs):
    con = duckdb.connect()
    views = {}
    t = time.monotonic()
    answers = {}
    for s in specs:
        sql = s["sql"]
        for code in s["resources"]:
            if code not in views:
                view = "t_" + re.sub(r"[^A-Za-z0-9]", "_", code)
                con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet({active_files(CITY / 'lake' / code)!r})")
                views[code] = view
            sql = sql.replace(f'"{code}"', views[code])
        rel = con.execute(sql)
        cols = [d[0].lower() for d in rel.description]
        rows = {}
        for row in rel.fetchall():
            r = dict(zip(cols, row))
            rows[(str(r.get("period") or ""), str(r.get("district") or ""))] = None if r["value"] is None else float(r["value"])
        answers[s["code"]] = rows
    return time.monotonic() - t, answers


def compare(base, key, specs, answers, sample=60):
    """Our stored values against DuckDB's, for a spread of the indicators."""
    checked = 0
    for s in specs[:: max(1, len(specs) // sample)]:
        series = api(base, key, f"/api/v1/indicators/{s['code']}/values")["values"]
        has_period = bool(re.search(r"AS\s+period\b", s["sql"], re.I))
        ours = {}
        latest = max((p["period"] for p in series), default=None)
        for p in series:
            if p["street"] or (s["additive"] and s["dimensions"] and not p["district"]):
                continue
            if not has_period and p["period"] != latest:
                continue
            ours[(p["period"] if has_period else "", p["district"])] = p["value"]
        theirs = answers[s["code"]]
        assert ours == theirs, (s["code"], sorted(ours.items())[:4], sorted(theirs.items())[:4])
        checked += 1
    return checked


def compute():
    accounts = city()
    key = accounts["operator_api_key"]
    server, base = start_hub(CITY)
    try:
        top_up(base, key)
        specs = specs_of(base, key)
    finally:
        stop(server)
    log(f"{len(specs)} published indicators over {CITY}")
    # Warm both (the page cache, DuckDB's metadata): one untimed run each.
    ours_once()
    duckdb_once(specs)
    ours, theirs = [], []
    answers = None
    for r in range(RUNS):
        took, n = ours_once()
        ours.append(took)
        log(f"  shuniu run {r + 1}: {n} indicators in {took:.1f} s")
        took, answers = duckdb_once(specs)
        theirs.append(took)
        log(f"  duckdb run {r + 1}: {len(answers)} statements in {took:.1f} s")
    server, base = start_hub(CITY)
    try:
        checked = compare(base, key, specs, answers)
    finally:
        stop(server)
    o, t = statistics.median(ours), statistics.median(theirs)
    print(json.dumps({
        "indicators": len(specs), "scale": SCALE, "runs": RUNS,
        "shuniu_median_s": round(o, 2), "duckdb_median_s": round(t, 2), "ratio": round(o / t, 2),
        "values_compared": checked,
        "target_60s": "met" if o <= 60 else "missed", "target_1_5x": "met" if o / t <= 1.5 else "missed",
    }, indent=2))


def paint():
    from playwright.sync_api import sync_playwright

    accounts = city()
    admin = next(u for u in accounts["users"] if u["login"] == "admin")
    server, base = start_hub(CITY)
    times = []
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=["--no-sandbox"])
            ctx = b.new_context(viewport={"width": 1920, "height": 1080})
            page = ctx.new_page()
            page.goto(base + "/login")
            page.fill("#login", admin["login"])
            page.fill("#password", admin["password"])
            page.click("#login-submit")
            page.wait_for_url(base + "/")
            for r in range(RUNS + 1):
                page.goto(base + "/dashboard", wait_until="load")
                page.wait_for_selector("#district-tiles[data-drawn=true]")
                fcp = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
                drawn = page.evaluate("performance.now()")
                if r > 0:  # the first load warms the server's caches
                    times.append((fcp, drawn))
                    log(f"  load {r}: first contentful paint {fcp:.0f} ms, charts drawn at {drawn:.0f} ms")
            b.close()
    finally:
        stop(server)
    fcp = statistics.median(t[0] for t in times)
    drawn = statistics.median(t[1] for t in times)
    print(json.dumps({"scale": SCALE, "first_contentful_paint_ms": round(fcp), "charts_drawn_ms": round(drawn),
                      "target_2s": "met" if fcp <= 2000 else "missed"}, indent=2))


if __name__ == "__main__":
    {"compute": compute, "paint": paint}[sys.argv[1]]()
