"""The public licence verifier page (/verify) in headless Chromium: the QR text checked in the
browser with the vendored sm-crypto against the hub's trust key the page carries — valid,
revoked, altered — a QR image read with the vendored jsQR, and the page working offline once
loaded, until the status lists' time to live runs out."""

import datetime
import os
import pathlib
import subprocess

from test_licence_interop import BIN

TTL_HOURS = 24
ARTIFACTS = pathlib.Path(os.environ.get("SHUNIU_E2E_ARTIFACTS", "target/e2e"))
ARTIFACTS.mkdir(parents=True, exist_ok=True)


def verify(page, text):
    page.fill("#verify-text", text)
    page.click("#verify-submit")
    page.wait_for_selector("#verify-result[data-code]")
    outcome = page.get_attribute("#verify-result", "data-code")
    # Cleared for the next check.
    page.eval_on_selector("#verify-result", "e => { e.removeAttribute('data-code'); }")
    return outcome


def open_verifier(context, base_url):
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base_url}/verify")
    page.wait_for_selector("#verify-lists[data-ready=true]")
    return page, errors


def test_the_browser_verifies_licences_against_the_trust_key_it_carries(browser, base_url, accounts):
    lic = accounts["licences"]
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page, errors = open_verifier(context, base_url)
    # The page pins the hub's trust key, the one the demo published.
    assert page.get_attribute("#verifier", "data-trust-key") == lic["trust_key"]
    assert verify(page, lic["example"]["qr_text"]) == "OK"
    assert lic["example"]["holder_name"] in page.inner_text("#verify-result")
    page.screenshot(path=str(ARTIFACTS / "verifier.png"), full_page=True)
    assert verify(page, lic["revoked"]["qr_text"]) == "LICENCE_REVOKED"
    assert "LICENCE_REVOKED" in page.inner_text("#verify-result")
    # One character changed inside the signed part: the signature or the structure fails.
    qr = lic["example"]["qr_text"]
    at = len(qr) - 20
    altered = qr[:at] + ("B" if qr[at] == "A" else "A") + qr[at + 1:]
    assert verify(page, altered) in ("LICENCE_BAD_SIGNATURE", "LICENCE_MALFORMED")
    assert verify(page, "SNL1:NOT-A-LICENCE") == "LICENCE_MALFORMED"
    assert verify(page, "hello") == "LICENCE_MALFORMED"
    assert errors == []
    context.close()


def test_a_qr_image_is_read_in_the_browser(browser, base_url, accounts, tmp_path):
    data = os.environ.get("SHUNIU_E2E_DATA")
    assert data, "SHUNIU_E2E_DATA names the demo city's data directory"
    lic = accounts["licences"]
    png = tmp_path / "licence.png"
    out = subprocess.run(
        [BIN, "licence", "qr", "--data-dir", data, lic["example"]["id"], "--out", str(png)],
        capture_output=True, text=True, env={**os.environ, "SHUNIU_LOG": "warn"},
    )
    assert out.returncode == 0, out.stderr
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800})
    page, errors = open_verifier(context, base_url)
    page.set_input_files("#verify-image", str(png))
    page.wait_for_selector("#verify-result[data-code]")
    assert page.get_attribute("#verify-result", "data-code") == "OK"
    assert page.input_value("#verify-text") == lic["example"]["qr_text"]
    page.screenshot(path=str(ARTIFACTS / "verifier-375.png"), full_page=True)
    assert errors == []
    context.close()


def test_the_verifier_works_offline_until_the_lists_expire(browser, base_url, accounts):
    lic = accounts["licences"]
    context = browser.new_context(locale="zh-CN", service_workers="allow")
    page, errors = open_verifier(context, base_url)
    # The service worker holds the page and its scripts.
    page.wait_for_function("navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready.then(() => true)")
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()
    page.wait_for_selector("#verify-lists[data-ready=true]")
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#verify-lists[data-ready=true]")
    assert verify(page, lic["example"]["qr_text"]) == "OK"
    assert verify(page, lic["revoked"]["qr_text"]) == "LICENCE_REVOKED"
    # Past the lists' time to live, offline: the verifier says so rather than answer.
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=TTL_HOURS + 1)
    page.clock.set_fixed_time(later)
    assert verify(page, lic["example"]["qr_text"]) == "LICENCE_STATUS_STALE"
    assert errors == []
    context.set_offline(False)
    context.close()


def test_a_holder_sees_their_licences_and_shows_one(browser, base_url, accounts):
    """The citizen page lists the person's own licences (我的电子证照) with the QR code to show,
    and the QR code shown there verifies on the public page."""
    import json
    import urllib.request

    from conftest import valid_id

    key = accounts["operator_api_key"]

    def api(path):
        req = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    birth = next(t for t in api("/api/v1/licences/types") if t["name"] == "出生医学证明")
    rows = api(f"/api/v1/datasets/{birth['resource_code']}/preview?limit=50&purpose=e2e")
    cols = rows["columns"]
    person = next(
        r[cols.index("id_number")] for r in rows["rows"] if valid_id(r[cols.index("id_number")] or "")
    )
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(f"{base_url}/my-data")
    page.fill("input[name=name]", "测试市民")
    page.fill("#id-number", person)
    page.click("#citizen-submit")
    page.wait_for_url(f"{base_url}/my-data")
    card = page.locator("#my-licences li[data-licence]").first
    assert "出生医学证明" in card.inner_text()
    card.locator("summary").click()
    assert card.locator(".licence-qr svg").is_visible()
    page.screenshot(path=str(ARTIFACTS / "my-licences-375.png"), full_page=True)
    licence_id = card.get_attribute("data-licence")
    qr = api(f"/api/v1/licences/{licence_id}")["qr_text"]
    verifier, errors = open_verifier(context, base_url)
    assert verify(verifier, qr) == "OK"
    assert errors == []
    context.close()
