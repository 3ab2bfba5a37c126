"""The event centre (一网统管) in headless Chromium and over HTTP, as its people use it: a grid
inspector reports a problem from a phone with a photo and the phone's position; the command
centre sees it; the department it is dispatched to accepts and handles it with a photo of
the repair; the command centre verifies it with the caller's satisfaction; the public status
page shows it closed and nobody's name. A camera's signed alert becomes one event however
often it is sent; the hotline's GBK export is imported from the intake page, and a file with
a bad row is refused whole."""

import hashlib
import hmac
import json
import os
import pathlib
import random
import re
import time
import urllib.error
import urllib.request

from conftest import sign_in

ARTIFACTS = pathlib.Path(os.environ.get("SHUNIU_E2E_ARTIFACTS", "target/e2e")) / "events"

def png():
    """A 2×2 PNG (red, green, blue, white), made here: a real image for the browser to decode."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"\x00\xff\x00\x00\x00\xff\x00" + b"\x00\x00\x00\xff\xff\xff\xff"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG = png()


def shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def api(base_url, key, path, body=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {"Authorization": f"Bearer {key}"} if key else {}
    if body is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    req = urllib.request.Request(f"{base_url}{path}", data=data, headers=h, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def officer_of(accounts, department):
    return next(u for u in accounts["users"] if u.get("department") == department and u.get("role") == "data_officer")


def test_an_inspector_s_report_is_handled_verified_and_shown_closed_to_the_public(browser, base_url, accounts):
    # The inspector, on a phone: the form with a photo and the phone's position.
    # South-west of 市南区's centre, beyond where the demo places its events, jittered per run:
    # no open event of the same kind within 100 m to merge with.
    rnd = random.Random()
    lat, lon = 36.040 + rnd.uniform(-0.003, 0.003), 120.350 + rnd.uniform(-0.003, 0.003)
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800},
                              geolocation={"latitude": lat, "longitude": lon}, permissions=["geolocation"])
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, base_url, accounts, "admin")
    page.goto(f"{base_url}/events/new")
    page.fill("#event-description", "香港中路人行道井盖缺失，行人容易踩空")
    page.select_option("#event-category", "0301")
    page.click("#use-location")
    page.wait_for_function("document.getElementById('event-lat').value !== ''")
    assert abs(float(page.input_value("#event-lat")) - lat) < 1e-5
    page.set_input_files("#event-photos", files=[{"name": "cover.png", "mimeType": "image/png", "buffer": PNG}])
    shot(page, "report-375")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.click("#event-submit")
    page.wait_for_url(re.compile(r".*/events/E\d{8}-[0-9a-f]+$"))
    event_id = page.inner_text("#event-id").strip()
    assert page.get_attribute("#event-map", "data-drawn") == "true", "the map of its place is drawn"
    photo = page.locator("#event-timeline img").first
    assert photo.evaluate("img => img.complete && img.naturalWidth") == 2, "the photo is served and decodes"
    shot(page, "event-375")
    ctx.close()

    # Dispatched by the rule for 井盖; the handling department accepts and handles it.
    key = accounts["operator_api_key"]
    _, e = api(base_url, key, f"/api/v1/events/{event_id}")
    assert e["state"] == "dispatched" and e["district"] == "370202", e
    handler = officer_of(accounts, e["department"])
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(page, base_url, accounts, handler["login"])
    page.goto(f"{base_url}/events")
    assert page.locator(f"#events tr[data-event='{event_id}']").count() == 1, "in the department's inbox"
    page.click(f"#events tr[data-event='{event_id}'] a")
    assert "*" in page.inner_text("#event-reporter"), "the reporter is masked to the handler"
    assert page.locator("#do-dispatch").count() == 0, "a handler does not dispatch"
    page.check("#do-accept")
    page.fill("#act-note", "已安排人员前往")
    page.click("#act-submit")
    page.wait_for_selector("#event-timeline li[data-action=accept]")
    page.check("#do-handle")
    page.fill("#act-note", "已补装井盖")
    page.set_input_files("#act-photos", files=[{"name": "after.png", "mimeType": "image/png", "buffer": PNG}])
    page.click("#act-submit")
    page.wait_for_selector("#event-timeline li[data-action=handle] img")
    shot(page, "event-handled-1366")
    page.close()

    # The command centre verifies it (回访) with the caller's satisfaction.
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(page, base_url, accounts, "admin")
    page.goto(f"{base_url}/events/{event_id}")
    assert "*" not in page.inner_text("#event-reporter"), "the command centre sees the reporter"
    page.check("#do-verify")
    page.select_option("#act-satisfaction", "5")
    page.click("#act-submit")
    page.wait_for_selector("#event-timeline li[data-action=verify]")
    assert page.get_attribute(".page-head .status", "data-state") == "closed"
    page.goto(f"{base_url}/events/statistics")
    assert int(page.inner_text("#total-events")) >= 1
    assert page.get_attribute("#district-map", "data-drawn") == "true"
    assert page.locator("#department-ranking tbody tr").count() >= 1
    shot(page, "statistics-1366")
    page.close()

    # The public status page: closed, with the category and place, and nobody's name.
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.goto(f"{base_url}/open/events/{event_id}")
    assert page.get_attribute("#event-state", "data-state") == "closed"
    text = page.inner_text("main")
    assert "井盖" in text and "已安排人员前往" not in text, "no handling notes in public"
    assert handler["login"] not in page.content()
    shot(page, "public-375")
    page.close()
    assert not errors, errors


def test_a_camera_s_signed_alert_is_one_event(base_url, accounts):
    o = accounts["open311"]
    device, secret = o["device_id"], o["device_secret"]
    alert_id = f"e2e-{int(time.time() * 1000)}"
    body = json.dumps({"alert_id": alert_id, "description": "检测到暴露垃圾", "score": 0.91}).encode()

    def post(ts, signature):
        return api(base_url, None, f"/api/v1/events/devices/{device}/alerts", raw=body,
                   headers={"Content-Type": "application/json", "X-Shuniu-Timestamp": str(ts),
                            "X-Shuniu-Signature": signature})

    def sign(ts, key=secret):
        mac = hmac.new(key.encode(), f"{ts}.".encode() + body, lambda: hashlib.new("sm3"))
        return "hmac-sm3=" + mac.hexdigest()

    now = int(time.time())
    status, first = post(now, sign(now))
    assert status == 200, first
    assert first["category"] == "0101" and first["district"] == "370202", first
    status, again = post(now, sign(now))
    assert status == 200 and again["id"] == first["id"], "the same alert is one event"
    status, e = post(now, sign(now, "dvsec_not-the-key"))
    assert status == 401 and e["error"]["code"] == "EVENT_SIGNATURE", e
    status, e = post(now - 3600, sign(now - 3600))
    assert status == 401, "an hour-old signature is a replay"


def test_the_hotline_s_gbk_export_is_imported_and_a_bad_file_refused(browser, base_url, accounts):
    stamp = int(time.time())
    good = ("工单编号,受理时间,诉求内容,事发地址,诉求分类,来电人,联系电话\n"
            f"E2E-{stamp}-1,2026-12-01 09:15:00,延安三路路灯不亮,青岛市市北区延安三路20号,路灯不亮,张先生,13800001111\n"
            f"E2E-{stamp}-2,2026-12-01 10:20:00,辽阳西路有人乱贴小广告,青岛市崂山区辽阳西路100号,,王女士,13800002222\n")
    bad = good + f"E2E-{stamp}-3,2026-12-01 11:00:00,,青岛市市南区香港中路1号,,李先生,13800003333\n"
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(page, base_url, accounts, "admin")
    page.goto(f"{base_url}/events/intake")
    assert page.locator("#device-list tbody tr[data-device]").count() == accounts["open311"]["devices"]
    page.set_input_files("#import-file", files=[{"name": "12345.csv", "mimeType": "text/csv", "buffer": bad.encode("gbk")}])
    page.click("#import-submit")
    page.wait_for_selector("#import-error")
    assert "line 4" in page.inner_text("#import-rows")
    page.set_input_files("#import-file", files=[{"name": "12345.csv", "mimeType": "text/csv", "buffer": good.encode("gbk")}])
    page.click("#import-submit")
    page.wait_for_selector("#import-result")
    assert page.inner_text("#import-created") == "2", "the refused file left nothing behind"
    shot(page, "intake-1366")
    page.set_input_files("#import-file", files=[{"name": "12345.csv", "mimeType": "text/csv", "buffer": good.encode("gbk")}])
    page.click("#import-submit")
    page.wait_for_selector("#import-result")
    assert (page.inner_text("#import-created"), page.inner_text("#import-known")) == ("0", "2")
    page.close()
