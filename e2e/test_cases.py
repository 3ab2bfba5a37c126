"""Integrated services (一件事一次办) on the demo city: the outside interface lists cases of every
shipped service in several states, death-triggered ones among them; a service's process is drawn
by bpmn-js from the hub's own BPMN, which a modeler could open and which imports back; and a
department's officer handles a step from the queue in the browser."""

import json
import os
import pathlib
import urllib.error
import urllib.request

ARTIFACTS = pathlib.Path(os.environ.get("SHUNIU_E2E_ARTIFACTS", "target/e2e"))
ARTIFACTS.mkdir(parents=True, exist_ok=True)
SERVICES = {"SVC-CHUSHENG", "SVC-QIYE-KAIBAN", "SVC-SHENGU"}


def api(base_url, key, path, method="GET", body=None, content_type="application/json"):
    req = urllib.request.Request(f"{base_url}{path}", method=method, data=body, headers={"Authorization": f"Bearer {key}"})
    if body is not None:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req) as r:
        raw = r.read()
        return json.loads(raw) if r.headers.get_content_type() == "application/json" else raw.decode("utf-8")


def test_cases_of_every_service_in_several_states(base_url, accounts):
    key = accounts["operator_api_key"]
    cases = api(base_url, key, "/api/v1/cases?limit=1000")
    for c in cases:
        assert {"id", "service", "state", "opened_at"} <= set(c), c
    assert {c["service"] for c in cases} >= SERVICES
    assert {"open", "completed", "refused"} <= {c["state"] for c in cases}
    deaths = api(base_url, key, "/api/v1/cases?service=SVC-SHENGU")
    assert deaths and all(c["service"] == "SVC-SHENGU" for c in deaths)
    assert all(c["origin"].startswith("event:") for c in deaths), "nobody applied for these"
    # Other keys do not list every case.
    other = next(a for a in accounts["applications"] if a["role"] != "hub_operator")
    req = urllib.request.Request(f"{base_url}/api/v1/cases", headers={"Authorization": f"Bearer {other['api_key']}"})
    try:
        urllib.request.urlopen(req)
        raise AssertionError("an application listed every case")
    except urllib.error.HTTPError as e:
        assert e.code == 403


def test_the_process_is_drawn_from_bpmn_that_imports_back(page, base_url, accounts):
    from conftest import sign_in

    key = accounts["operator_api_key"]
    xml = api(base_url, key, "/api/v1/cases/services/SVC-QIYE-KAIBAN/bpmn")
    assert "bpmn:parallelGateway" in xml and "bpmndi:BPMNDiagram" in xml
    before = api(base_url, key, "/api/v1/cases/services/SVC-QIYE-KAIBAN")
    answer = api(base_url, key, "/api/v1/cases/services/SVC-QIYE-KAIBAN/bpmn", "PUT", xml.encode("utf-8"), "application/xml")
    after = api(base_url, key, "/api/v1/cases/services/SVC-QIYE-KAIBAN")
    assert answer["version"] >= 2
    norm = lambda d: sorted((s["id"], s["department"], sorted(s.get("after", [])), s.get("when"), s["deadline_days"]) for s in d["steps"])
    assert norm(before) == norm(after)
    sign_in(page, base_url, accounts, "admin")
    page.goto(f"{base_url}/cases/services/SVC-QIYE-KAIBAN")
    page.wait_for_selector("#bpmn[data-drawn=true]", timeout=15000)
    drawn = page.inner_text("#bpmn")
    for name in ("营业执照办理", "公章刻制备案", "社会保险登记", "住房公积金缴存登记"):
        assert name in drawn, drawn
    assert page.locator("#bpmn .djs-shape").count() >= 8
    page.screenshot(path=str(ARTIFACTS / "case-service.png"), full_page=True)


def test_an_officer_handles_a_step_from_the_queue(page, base_url, accounts):
    from conftest import sign_in

    sign_in(page, base_url, accounts, "rs.officer")
    page.goto(f"{base_url}/cases")
    rows = page.locator("#case-queue tr[data-step=pension]")
    assert rows.count() >= 1, "a death registration put 养老金停发 in the RS queue"
    case = rows.first.get_attribute("data-case")
    page.goto(f"{base_url}/cases/{case}")
    step = page.locator("#case-step-list li[data-step=pension]")
    assert step.get_attribute("data-state") == "ready"
    step.locator("input[name=note]").fill("已停发养老金")
    step.locator("button.approve").click()
    page.wait_for_url(f"{base_url}/cases/{case}")
    assert page.locator("#case-step-list li[data-step=pension]").get_attribute("data-state") == "done"
    # 丧葬补助 waited for it and is now the department's to handle.
    assert page.locator("#case-step-list li[data-step=funeral]").get_attribute("data-state") == "ready"
    assert "已停发养老金" in page.inner_text("#case-events")
    page.set_viewport_size({"width": 375, "height": 800})
    page.screenshot(path=str(ARTIFACTS / "case.png"), full_page=True)
    key = accounts["operator_api_key"]
    detail = api(base_url, key, f"/api/v1/cases/{case}")
    assert any(e["kind"] == "approved" and e["step"] == "pension" for e in detail["events"])
