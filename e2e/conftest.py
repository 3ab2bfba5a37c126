"""End-to-end console tests in a real headless Chromium (Debian's package), driven by
Playwright. The server is started by .ci/run (or by hand) with the demo city:

    shuniu demo --data-dir DIR --listen 127.0.0.1:PORT
    SHUNIU_E2E_URL=http://127.0.0.1:PORT SHUNIU_E2E_DATA=DIR pytest e2e
"""

import json
import os
import pathlib

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def base_url():
    return os.environ.get("SHUNIU_E2E_URL", "http://127.0.0.1:8080").rstrip("/")


@pytest.fixture(scope="session")
def accounts():
    data = pathlib.Path(os.environ.get("SHUNIU_E2E_DATA", "shuniu-data"))
    return json.loads((data / "demo-accounts.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    yield p
    context.close()


def user(accounts, login):
    return next(u for u in accounts["users"] if u["login"] == login)


def sign_in(page, base_url, accounts, login):
    u = user(accounts, login)
    page.goto(f"{base_url}/login")
    page.fill("#login", u["login"])
    page.fill("#password", u["password"])
    page.click("#login-submit")
    page.wait_for_url(f"{base_url}/")
    return u


def valid_id(v):
    """GB 11643: the demo injects numbers with wrong check digits; a person signs in with a real one."""
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    if len(v) != 18 or not v[:17].isdigit():
        return False
    return "10X98765432"[sum(int(c) * k for c, k in zip(v[:17], w)) % 11] == v[17].upper()


def person_whose_data_was_read(base_url, accounts, purpose="e2e"):
    """An ID number that a department's spot check actually read: previews are audited with
    the ID numbers they returned, so this person's record lists the preview."""
    import urllib.request

    key = accounts["operator_api_key"]

    def api(path):
        req = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    for d in api("/api/v1/datasets"):
        rows = api(f"/api/v1/datasets/{d['code']}/preview?limit=5&purpose={purpose}")
        cols = rows["columns"]
        for name in ("id_number", "legal_rep_id"):
            if name in cols:
                for r in rows["rows"]:
                    v = r[cols.index(name)]
                    if v and valid_id(v):
                        return v
    return None
