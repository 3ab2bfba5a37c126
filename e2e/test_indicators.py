"""Indicators: every value the hub computed equals DuckDB's answer to the same SQL over the
same Parquet files (read through the Delta log, without the hub), and the values table the hub
wrote is itself a Delta table DuckDB reads. A threshold crossing in the demo raised an alert
that became an event routed to the indicator's department."""

import json
import os
import pathlib
import re
import time
import urllib.request

import duckdb

from test_interop import active_files


def api(base_url, key, path):
    req = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def files_at(table: pathlib.Path, version: int):
    """Replays the Delta log up to `version`: the Parquet files of that version (what a run that
    recorded it read), even if other loads came since."""
    files = {}
    for n in range(version + 1):
        commit = table / "_delta_log" / f"{n:020d}.json"
        for line in commit.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            action = json.loads(line)
            if "add" in action:
                files[action["add"]["path"]] = True
            elif "remove" in action:
                files.pop(action["remove"]["path"], None)
    return [str(table / p) for p in files]


def duckdb_values(con, data, spec, versions):
    """Runs the definition's SQL in DuckDB, its tables replaced by the Parquet files of the
    version the hub's latest run read."""
    sql = spec["sql"]
    for code in spec["resources"]:
        files = files_at(data / "lake" / code, versions[code])
        view = "t_" + re.sub(r"[^A-Za-z0-9]", "_", code)
        con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM read_parquet({files!r})")
        sql = sql.replace(f'"{code}"', view)
    rel = con.execute(sql)
    cols = [d[0] for d in rel.description]
    out = {}
    for row in rel.fetchall():
        r = dict(zip(cols, row))
        period = str(r.get("period") or "")
        key = (period, str(r.get("district") or ""), str(r.get("street") or ""))
        out[key] = None if r["value"] is None else float(r["value"])
    return out


def test_indicator_values_equal_duckdbs_answers_to_the_same_sql(base_url, accounts):
    data = pathlib.Path(os.environ.get("SHUNIU_E2E_DATA", "shuniu-data"))
    key = accounts["operator_api_key"]
    listed = api(base_url, key, "/api/v1/indicators")
    assert len(listed) >= 300, "the demo city defines several hundred indicators"
    for i in listed[:3]:
        assert {"code", "name", "unit", "value"} <= set(i), i
    computed = [i for i in listed if i["value"] is not None]
    assert len(computed) > 0.9 * len(listed), "the demo computed them"
    con = duckdb.connect()
    # Each shape: a count, a breakdown by district, a monthly series, both.
    sample = [i for i in computed if i["code"].startswith("IND-POP-") or i["code"] in ("IND-BIRTHS", "IND-ENT-NEW")]
    for suffix in ("-N", "-D", "-M", "-MD"):
        sample += [i for i in computed if i["code"].endswith(suffix)][:3]
    checked = 0
    for ind in sample:
        detail = api(base_url, key, f"/api/v1/indicators/{ind['code']}")
        spec = detail["spec"]
        run = detail["runs"][0]
        assert run["state"] == "succeeded", run
        # The run names the versions it read, and they are in the tables' logs.
        for s in run["sources"]:
            log = data / "lake" / s["resource"] / "_delta_log"
            assert (log / f"{s['version']:020d}.json").exists(), s
        theirs = duckdb_values(con, data, spec, {s["resource"]: s["version"] for s in run["sources"]})
        series = api(base_url, key, f"/api/v1/indicators/{ind['code']}/values")["values"]
        ours = {(p["period"], p["district"], p["street"]): p["value"] for p in series}
        if "period" not in [c.strip().lower() for c in re.findall(r"AS\s+(\w+)", spec["sql"], re.I)]:
            # A snapshot: the hub stamps the run's period; DuckDB's rows have none.
            latest = max(p for p, _, _ in ours)
            ours = {("", d, s): v for (p, d, s), v in ours.items() if p == latest}
        else:
            theirs = {(p[:7] if spec["grain"] == "month" else p, d, s): v for (p, d, s), v in theirs.items()}
        # The hub adds the city's figure of an additive breakdown; DuckDB's query has none.
        if spec["additive"] and spec["dimensions"]:
            ours = {k: v for k, v in ours.items() if k[1] or k[2]}
        assert ours == theirs, (ind["code"], sorted(ours.items())[:5], sorted(theirs.items())[:5])
        checked += 1
    assert checked >= 12


def test_the_values_table_is_a_delta_table_duckdb_reads(base_url, accounts):
    data = pathlib.Path(os.environ.get("SHUNIU_E2E_DATA", "shuniu-data"))
    files = active_files(data / "lake" / "_indicator_values")
    con = duckdb.connect()
    n, indicators, runs = con.execute(
        "SELECT count(*), count(DISTINCT indicator), count(DISTINCT run_id) FROM read_parquet(?)", [files]
    ).fetchone()
    listed = api(base_url, accounts["operator_api_key"], "/api/v1/indicators")
    assert indicators >= len([i for i in listed if i["value"] is not None])
    assert n > indicators and runs >= indicators
    sources = con.execute("SELECT sources FROM read_parquet(?) LIMIT 1", [files]).fetchone()[0]
    assert json.loads(sources)[0]["version"] >= 0


def test_the_hubs_built_in_indicators_measure_the_hub_itself(base_url, accounts):
    """The hub's figures are a Delta table DuckDB reads; the built-in indicator of the catalog's
    size equals both DuckDB's answer over that table and the catalog's own aggregation list."""
    data = pathlib.Path(os.environ.get("SHUNIU_E2E_DATA", "shuniu-data"))
    key = accounts["operator_api_key"]
    listed = {i["code"]: i for i in api(base_url, key, "/api/v1/indicators")}
    builtin = [c for c in listed if c.startswith("HUB-")]
    assert len(builtin) >= 15, builtin
    ind = listed["HUB-CATALOG-RESOURCES"]
    published = api(base_url, key, "/api/v1/catalog/lists/aggregation")["total"]
    detail = api(base_url, key, "/api/v1/indicators/HUB-CATALOG-RESOURCES")
    version = detail["runs"][0]["sources"][0]["version"]
    assert detail["runs"][0]["sources"][0]["resource"] == "_hub_figures"
    con = duckdb.connect()
    files = files_at(data / "lake" / "_hub_figures", version)
    day, value = con.execute(
        "SELECT CAST(day AS VARCHAR), value FROM read_parquet(?) WHERE figure = 'catalog.resources' "
        "AND department = '' AND district = '' ORDER BY day DESC LIMIT 1",
        [files],
    ).fetchone()
    assert (ind["period"], ind["value"]) == (day, value), (ind, day, value)
    # Recorded when the demo finished; other suites may have published more since.
    assert 0 < ind["value"] <= published, (ind, published)
    # Event closure on time, by district, for the map.
    ontime = api(base_url, key, "/api/v1/indicators/HUB-EVENTS-ONTIME/values")["values"]
    assert any(p["district"] for p in ontime), ontime[:3]
    assert all(0 <= p["value"] <= 100 for p in ontime if p["value"] is not None), ontime[:3]


def test_a_threshold_crossing_in_the_demo_became_an_event_for_the_owner(base_url, accounts):
    key = accounts["operator_api_key"]
    alerts = api(base_url, key, "/api/v1/indicators/alerts?state=open")
    assert alerts, "the demo's bounds are crossed somewhere"
    filed = [a for a in alerts if a["event_id"]]
    assert filed, alerts[:3]
    a = filed[0]
    event = api(base_url, key, f"/api/v1/events/{a['event_id']}")
    owner = api(base_url, key, f"/api/v1/indicators/{a['indicator']}")["department"]
    assert event["channel"] == "indicator" and event["department"] == owner, event


def test_the_city_screen_loads_narrows_to_a_district_and_refreshes_itself(browser, base_url, accounts):
    from conftest import sign_in

    artifacts = pathlib.Path(os.environ.get("SHUNIU_E2E_ARTIFACTS", "target/e2e")) / "indicators"
    artifacts.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, base_url, accounts, "admin")
    page.goto(f"{base_url}/dashboard")
    page.wait_for_selector("#district-tiles[data-drawn=true]")
    cards = page.locator("#key-indicators .skpi")
    assert cards.count() >= 4
    assert page.locator("#key-indicators .chart.spark[data-drawn=true]").count() == cards.count()
    assert page.locator("#flows-chart[data-drawn=true], #flows-chart.chart-empty").count() <= 1
    # Everything on one wall screen, no scrolling.
    assert page.evaluate("document.documentElement.scrollHeight") <= 1080 + 40
    page.screenshot(path=str(artifacts / "dashboard-1920.png"))
    # A district alone.
    page.goto(f"{base_url}/dashboard?district=370202")
    assert page.locator("#screen-district").inner_text() == "市南区"
    page.wait_for_selector("#district-tiles[data-drawn=true]")
    # A computation elsewhere reaches the open screen without a reload.
    page.goto(f"{base_url}/dashboard")
    page.wait_for_selector("#district-tiles[data-drawn=true]")
    time.sleep(6)  # the stream's first message: where things stand
    req = urllib.request.Request(
        f"{base_url}/api/v1/indicators/IND-POP-REGISTERED/compute", data=b"{}",
        headers={"Authorization": f"Bearer {accounts['operator_api_key']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        assert json.load(r)["state"] == "succeeded"
    page.wait_for_selector("#screen[data-refreshed]", timeout=30_000)
    assert not errors, errors
    for width, height in ((1366, 768), (375, 800)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{base_url}/dashboard")
        page.wait_for_selector("#district-tiles[data-drawn=true]")
        page.screenshot(path=str(artifacts / f"dashboard-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, width
    context.close()


def test_an_indicator_page_shows_its_definition_history_and_sources(page, base_url, accounts):
    from conftest import sign_in

    sign_in(page, base_url, accounts, "admin")
    page.goto(f"{base_url}/indicators?q=户籍人口数")
    page.click("#indicators a[href='/indicators/IND-POP-REGISTERED']")
    assert "IND-POP-REGISTERED" in page.inner_text("h1")
    page.wait_for_selector("#district-chart[data-drawn=true]")
    assert "division" in page.inner_text("#definition pre")
    assert page.locator("#runs tbody tr").count() >= 1
    assert re.search(r"v\d+", page.inner_text("#runs tbody tr:first-child"))
    with page.expect_download() as d:
        page.click("#export-xlsx")
    assert d.value.suggested_filename == "IND-POP-REGISTERED.xlsx"
    page.click("#compute-now")
    assert "已计算" in page.inner_text("#indicator-notice")
