"""Policy matching (免申即享) on the demo city: its ten policies are listed by the API, and what
the hub says qualifies — through the command line and the API — equals DuckDB's answer to the
same rules computed independently over the population library's Parquet files."""

import json
import os
import pathlib
import subprocess
import urllib.error
import urllib.request

import duckdb

from test_interop import active_files

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = os.environ.get("SHUNIU_BIN", str(ROOT / "target" / "debug" / "shuniu"))
ARTIFACTS = pathlib.Path(os.environ.get("SHUNIU_E2E_ARTIFACTS", "target/e2e"))
ARTIFACTS.mkdir(parents=True, exist_ok=True)
CITY = "('370202','370203','370211','370212','370213','370214','370215','370281','370283','370285')"


def api(base_url, key, path):
    req = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def duckdb_gaoling(data: pathlib.Path):
    """高龄津贴 for January 2025, written directly in SQL: age on 2025-01-31 ≥ 80 (the value in
    force since 2024-07-01), registered in the city, no cremation recorded (the civil-affairs
    bureau's records, matched on the keyed digest the lake keeps beside each sealed ID number);
    500 from 100, 200 from 90, else 100."""
    rows = api_library(data)
    cremations = active_files(data / "lake" / "101006-370200MZ-00001")
    con = duckdb.connect()
    return con.execute(
        f"""WITH p AS (SELECT (CAST(strftime(DATE '2025-01-31', '%Y%m%d') AS BIGINT)
                              - CAST(strftime(birth_date, '%Y%m%d') AS BIGINT)) // 10000 AS age, division,
                              "id_number#sm3" AS k
                       FROM read_parquet(?)),
                 c AS (SELECT "id_number#sm3" AS k, event_date FROM read_parquet(?))
            SELECT count(*), coalesce(sum(CASE WHEN age >= 100 THEN 500 WHEN age >= 90 THEN 200 ELSE 100 END), 0)
            FROM p LEFT JOIN c USING (k)
            WHERE age >= 80 AND division IN {CITY} AND c.event_date IS NULL""",
        [rows, cremations],
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


def beijing_month(months_back=0):
    import datetime

    d = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date().replace(day=1)
    for _ in range(months_back):
        d = (d - datetime.timedelta(days=1)).replace(day=1)
    return d.strftime("%Y-%m")


def test_the_department_reviews_its_lists_and_exports_payments(page, base_url, accounts):
    """The civil-affairs data officer: this month's figures on the policies page equal the API's;
    last month's 高龄津贴 list is confirmed with the payer's outcomes; its payment file carries
    one real ID number per eligible person."""
    from conftest import sign_in, valid_id

    key = accounts["operator_api_key"]
    lists = api(base_url, key, "/api/v1/policies/POL-GAOLING/lists")
    now = next(l for l in lists if l["period"] == beijing_month())
    last = next(l for l in lists if l["period"] == beijing_month(1))
    assert last["state"] == "confirmed" and last["payments"]["paid"] + last["payments"]["failed"] == last["eligible"]

    sign_in(page, base_url, accounts, "mz.officer")
    page.goto(f"{base_url}/policies")
    row = page.locator("#policies tr[data-policy=POL-GAOLING]")
    assert row.locator("td").nth(4).inner_text().strip() == str(now["eligible"])
    page.screenshot(path=str(ARTIFACTS / "policies.png"), full_page=True)
    page.goto(f"{base_url}/policies/POL-GAOLING/lists/{last['period']}")
    assert page.inner_text("#list-eligible").strip() == str(last["eligible"])
    assert page.locator("#list-entries tbody tr").count() == min(50, last["eligible"])
    assert all("*" in k for k in page.locator("#list-entries tbody td code").all_inner_texts()), "masked"
    with page.expect_download() as d:
        page.click("#payments-csv")
    text = pathlib.Path(d.value.path()).read_text(encoding="utf-8-sig")
    rows = list(__import__("csv").reader(text.splitlines()))[1:]
    assert len(rows) == last["eligible"]
    assert all(valid_id(r[1]) or len(r[1]) == 18 for r in rows)
    assert sum(float(r[3]) for r in rows) == last["amount"]
    # The hub operator runs the platform; it does not export payment files.
    req = urllib.request.Request(
        f"{base_url}/api/v1/policies/POL-GAOLING/lists/{last['period']}/payments",
        headers={"Authorization": f"Bearer {key}"},
    )
    try:
        urllib.request.urlopen(req)
        raise AssertionError("the operator exported a payment file")
    except urllib.error.HTTPError as e:
        assert e.code == 403


def test_a_trace_explains_a_decision_and_the_person_sees_it(browser, page, base_url, accounts):
    """The officer asks why someone on last month's list qualifies: every condition holds, with the
    value read and the parameter's legal reference; the person, signed in, finds 高龄津贴 among
    the policies they qualify for, and the officer's lookup on their own record."""
    from conftest import sign_in, valid_id

    sign_in(page, base_url, accounts, "mz.officer")
    period = beijing_month(1)
    with page.expect_download() as d:
        page.goto(f"{base_url}/policies/POL-GAOLING/lists/{period}")
        page.click("#payments-csv")
    rows = list(__import__("csv").reader(pathlib.Path(d.value.path()).read_text(encoding="utf-8-sig").splitlines()))[1:]
    # The demo registers today's deaths among the oldest residents, after last month's list was
    # confirmed: such a person stays on the confirmed list (it is what was paid) but no longer
    # qualifies, and the trace says why — the cremation record and nothing else. The first person
    # still alive is traced in full.
    person = None
    page.goto(f"{base_url}/policies/POL-GAOLING")
    for candidate in [r[1] for r in rows if valid_id(r[1])][:12]:
        page.fill("#trace-key", candidate)
        page.fill("#trace-form input[name=period]", period)
        with page.expect_navigation():
            page.click("#trace-run")
        page.wait_for_selector("#trace-result")
        failing = page.locator("#trace-result .policy-trace li.fails")
        if failing.count() == 0:
            person = candidate
            break
        assert failing.count() == 1 and "死亡火化信息" in failing.inner_text(), failing.all_inner_texts()
    assert person, "someone on last month's list still qualifies"
    # Age, residence, and no cremation record — the last read from the civil-affairs bureau's
    # own cremation records, joined by ID number, named as its source.
    assert page.locator("#trace-result .policy-trace li.holds").count() == 3
    assert "第二条" in page.inner_text("#trace-result")
    assert "死亡火化信息" in page.inner_text("#trace-result")
    assert person not in page.content(), "the key is masked even for the department"
    page.screenshot(path=str(ARTIFACTS / "policy-trace.png"), full_page=True)

    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800})
    me = context.new_page()
    me.goto(f"{base_url}/my-data")
    me.fill("input[name=name]", "测试市民")
    me.fill("#id-number", person)
    me.click("#citizen-submit")
    me.wait_for_url(f"{base_url}/my-data")
    mine = me.locator("#my-policies li[data-policy=POL-GAOLING]")
    assert mine.count() == 1, "高龄津贴 applies this month too"
    assert "元/月" in mine.inner_text()
    me.screenshot(path=str(ARTIFACTS / "my-policies.png"), full_page=True)
    assert "POL-GAOLING" in me.inner_text("#my-uses") or "高龄津贴" in me.inner_text("#my-uses")
    context.close()


def test_an_enterprise_signs_in_and_finds_its_policies(browser, base_url):
    """惠企通: the legal person of a going concern registered over a year ago signs in through the
    province's legal-person identity service (the credit code as a claim) on a phone and finds
    失业保险稳岗返还 among the policies it qualifies for, with why. The enterprise is chosen
    independently of the hub, by DuckDB over the legal-entity library's Parquet files."""
    from test_sign_in import TRUSTED, provider_login

    data = pathlib.Path(os.environ.get("SHUNIU_E2E_DATA", "shuniu-data"))
    files = active_files(data / "lake" / "102002-370200DSJ-00001")
    row = duckdb.connect().execute(
        """SELECT credit_code FROM read_parquet(?)
           WHERE ent_status = '01' AND reg_date <= current_date - INTERVAL 2 YEAR
           ORDER BY credit_code LIMIT 1""",
        [files],
    ).fetchone()
    assert row, "the demo city has a going concern registered two years ago"
    code = row[0]
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(f"{base_url}/my-enterprise")
    page.click("#enterprise-oidc-sign-in")
    page.wait_for_url(f"{TRUSTED}/**")
    provider_login(page, code)
    page.wait_for_url(f"{base_url}/my-enterprise")
    assert page.inner_text("#enterprise-code") == code
    assert page.locator("#simulated-session").count() == 0
    mine = page.locator("#my-policies li[data-policy=POL-WENGANG]")
    assert mine.count() == 1, page.inner_text("#main")
    mine.locator("summary").click()
    assert "第二条" in mine.inner_text()
    page.screenshot(path=str(ARTIFACTS / "my-enterprise.png"), full_page=True)
    # The publication's list named it: that use is on the enterprise's own record.
    assert "计算享受名单" in page.inner_text("#my-uses")
    context.close()
