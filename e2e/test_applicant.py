"""The applicant's own page (一件事一次办, /my-services) on a phone: a founder signs in, finds
企业开办一件事, sees the form pre-filled from the population library, is refused whole without
the upload and the consent, applies with the lease as a PDF; the market regulator's officer
reads the upload in the console, approves with the new enterprise's credit code, and the
business licence the hub issues from the market register reaches the founder's case page as a
document to download."""

import json
import os
import pathlib
import time
import urllib.request

ARTIFACTS = pathlib.Path(os.environ.get("SHUNIU_E2E_ARTIFACTS", "target/e2e"))
ARTIFACTS.mkdir(parents=True, exist_ok=True)
LEASE = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def api(base_url, key, path):
    req = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def test_a_founder_applies_once_and_receives_the_business_licence(browser, page, base_url, accounts):
    from conftest import person_whose_data_was_read, sign_in

    founder = person_whose_data_was_read(base_url, accounts, purpose="e2e-applicant")
    assert founder, "a person of the register"
    phone = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800}).new_page()
    phone.goto(f"{base_url}/my-services")
    assert phone.locator("#my-service-list").count() == 0, "signed out: no services, the sign-in"
    phone.fill("input[name=name]", "测试创业者")
    phone.fill("#id-number", founder)
    phone.click("#citizen-submit")
    phone.wait_for_url(f"{base_url}/my-services")
    assert phone.locator("#my-service-list li[data-service=SVC-QIYE-KAIBAN]").count() == 1
    assert phone.locator("#my-service-list li[data-service=SVC-SHENGU]").count() == 0, "nobody applies for that one"
    phone.screenshot(path=str(ARTIFACTS / "my-services.png"), full_page=True)
    phone.click("li[data-service=SVC-QIYE-KAIBAN] a.apply")
    phone.wait_for_url(f"{base_url}/my-services/SVC-QIYE-KAIBAN")
    # Pre-filled from the population library: the legal representative's name.
    assert phone.locator("#prefill-note").count() == 1
    assert phone.input_value("input[name=legal_rep]").strip()
    # The representative's identity comes from the register (consented), not from paper.
    assert phone.locator("#apply-materials li[data-material=rep_id]").get_attribute("data-by") == "lookup"
    phone.fill("input[name=ent_name]", "青岛端到端测试科技有限公司")
    phone.fill("input[name=address]", "青岛市市南区香港中路 100 号")
    phone.fill("input[name=capital]", "50")
    phone.select_option("select[name=seal]", "是")
    phone.select_option("select[name=invoice]", "否")
    phone.select_option("select[name=housing_fund]", "否")
    phone.screenshot(path=str(ARTIFACTS / "my-service-apply.png"), full_page=True)
    # Refused whole: the lease missing and no consent.
    phone.click("#apply-submit")
    phone.wait_for_selector("#apply-error")
    error = phone.inner_text("#apply-error")
    assert "住所使用证明" in error and "授权" in error, error
    assert phone.input_value("input[name=ent_name]") == "青岛端到端测试科技有限公司", "kept as typed"
    phone.set_input_files(
        "input[name='material:premises']",
        files=[{"name": "住所租赁合同.pdf", "mimeType": "application/pdf", "buffer": LEASE}],
    )
    phone.check("#apply-consent")
    phone.click("#apply-submit")
    phone.wait_for_url(f"{base_url}/my-services/cases/**")
    case = phone.inner_text("#case-id").strip()
    assert phone.locator("#my-case-steps li[data-step=licence]").get_attribute("data-state") == "ready"
    assert phone.locator("#my-case-materials li[data-material=premises] a").inner_text() == "住所租赁合同.pdf"

    # The market regulator's officer reads the lease and approves with the new credit code.
    credit_code = accounts["licences"]["example"]["holder"]
    sign_in(page, base_url, accounts, "sj.officer")
    page.goto(f"{base_url}/cases/{case}")
    with page.expect_download() as d:
        page.click("#case-materials li[data-material=premises] a.material-file")
    assert pathlib.Path(d.value.path()).read_bytes() == LEASE
    step = page.locator("#case-step-list li[data-step=licence]")
    step.locator("button.approve").click()
    page.wait_for_selector("#case-notice")
    assert "统一社会信用代码" in page.inner_text("#case-notice"), "the licence needs its holder"
    step = page.locator("#case-step-list li[data-step=licence]")
    step.locator("input[name=holder]").fill(credit_code)
    step.locator("input[name=note]").fill("营业执照已核发")
    step.locator("button.approve").click()
    page.wait_for_url(f"{base_url}/cases/{case}")
    key = accounts["operator_api_key"]
    deadline = time.time() + 60
    while True:
        detail = api(base_url, key, f"/api/v1/cases/{case}")
        state = next(s["state"] for s in detail["steps"] if s["step"] == "licence")
        if state == "done" or time.time() > deadline:
            break
        time.sleep(0.5)
    assert state == "done", detail
    assert [r["type_name"] for r in detail["results"]] == ["营业执照"], detail
    assert {s["step"]: s["state"] for s in detail["steps"]}["seal"] == "ready", "the next departments follow"

    # The founder finds the licence on the case page and downloads it.
    phone.reload()
    results = phone.locator("#my-results li")
    assert results.count() == 1
    assert "营业执照" in results.inner_text()
    with phone.expect_download() as d:
        phone.click("#my-results a.result-pdf")
    assert pathlib.Path(d.value.path()).read_bytes().startswith(b"%PDF-")
    phone.screenshot(path=str(ARTIFACTS / "my-service-case.png"), full_page=True)


def test_an_enterprise_applies_with_its_own_business_licence(browser, base_url, accounts):
    """企业注销一件事 from the enterprise's own page: its legal person signs in, finds the service
    (and not the ones for persons), the form pre-filled from the legal-entity library, the
    business licence it holds in place of paper, and applies with the one upload left."""
    holder = accounts["licences"]["example"]["holder"]
    phone = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800}).new_page()
    phone.goto(f"{base_url}/my-enterprise")
    phone.fill("#enterprise-login input[name=name]", accounts["licences"]["example"]["holder_name"])
    phone.fill("#credit-code", holder)
    phone.click("#enterprise-submit")
    phone.wait_for_url(f"{base_url}/my-enterprise")
    phone.click("#to-my-services")
    phone.wait_for_url(f"{base_url}/my-services")
    assert phone.locator("#my-service-list li[data-service=SVC-QIYE-ZHUXIAO]").count() == 1
    assert phone.locator("#my-service-list li[data-service=SVC-CHUSHENG]").count() == 0, "a person's service"
    phone.click("li[data-service=SVC-QIYE-ZHUXIAO] a.apply")
    phone.wait_for_url(f"{base_url}/my-services/SVC-QIYE-ZHUXIAO")
    assert phone.input_value("input[name=ent_name]").strip(), "pre-filled from the legal-entity library"
    assert phone.locator("#apply-materials li[data-material=licence]").get_attribute("data-by") == "licence"
    phone.select_option("select[name=reason]", "决议解散")
    phone.select_option("select[name=employees]", "否")
    phone.set_input_files(
        "input[name='material:pledge']",
        files=[{"name": "承诺书.pdf", "mimeType": "application/pdf", "buffer": LEASE}],
    )
    phone.click("#apply-submit")
    phone.wait_for_url(f"{base_url}/my-services/cases/**")
    assert phone.locator("#my-case-steps li[data-step=tax]").get_attribute("data-state") == "ready"
    assert phone.locator("#my-case-materials li[data-material=licence]").get_attribute("data-by") == "licence"
    assert phone.inner_text("#to-my-data") == "企业专属空间（惠企通）"
    phone.screenshot(path=str(ARTIFACTS / "my-service-enterprise.png"), full_page=True)
