"""The public open-data portal in headless Chromium: browsing without an account, facets,
the dataset page with its preview and downloads, the English switch, an enterprise's
application and token, a public data request, and a data officer changing the open rules in
the console."""

import json

from conftest import sign_in


def test_the_public_browses_filters_previews_and_downloads(page, base_url, accounts, tmp_path):
    page.goto(f"{base_url}/open")
    total = int(page.inner_text("#dataset-total"))
    assert total == accounts["open"]["datasets"]
    # The landing page's search with nothing typed lists every dataset.
    page.click("#portal-search button")
    page.wait_for_selector("#portal-results")
    assert page.locator("#portal-results li[data-dataset]").count() == min(total, 20)

    # A department facet narrows the list and the count.
    facet = page.locator("[data-facet=organization] li a").first
    expected = int(page.locator("[data-facet=organization] li small").first.inner_text())
    facet.click()
    page.wait_for_url("**organization=*")
    assert page.locator("#portal-results li[data-dataset]").count() == min(expected, 20)
    assert f"{expected}" in page.inner_text("#result-count")

    # The dataset page: metadata, masked fields, a preview, downloads, API help, counters.
    name = accounts["open"]["public_dataset"]
    page.goto(f"{base_url}/open/dataset/{name}")
    views = int(page.inner_text("#count-views"))
    assert views >= 1
    assert page.locator("#preview tbody tr").count() >= 1
    # The API examples are folded; opening one shows how to read the rows.
    assert "datastore_search" not in page.inner_text("#api-help")
    page.locator("#api-help details summary").nth(1).click()
    assert "datastore_search" in page.inner_text("#api-help")
    with page.expect_download() as dl:
        page.click("#downloads a[data-format=csv]")
    path = tmp_path / "open.csv"
    dl.value.save_as(path)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) >= 2
    header = lines[0].split(",")
    shown = [c.inner_text() for c in page.locator("#dataset-fields tbody code").all()]
    assert header == shown

    # English.
    page.click("#lang-en")
    page.wait_for_url(f"**/open/dataset/{name}")
    assert "Preview" in page.content() and "Download" in page.content()
    page.click("#lang-zh")


def test_an_enterprise_reads_conditional_data_with_its_token(page, base_url, accounts):
    cond = accounts["open"]["conditional_dataset"]
    page.goto(f"{base_url}/open/dataset/{cond}")
    # Without a token: no preview, an invitation to apply.
    assert page.locator("#preview").count() == 0
    assert page.locator("#apply-section").count() == 1

    page.goto(f"{base_url}/open/login")
    page.fill("#portal-login-form input[name=login]", accounts["open"]["login"])
    page.fill("#portal-login-form input[name=password]", accounts["open"]["password"])
    page.click("#portal-login-form button")
    page.wait_for_url(f"{base_url}/open/account")
    row = page.locator("#my-applications tr[data-state=approved]").first
    assert row.count() == 1
    row.locator("button.issue-token").click()
    token = page.inner_text("#token-value")
    assert token.startswith("snd_")

    # The token opens the dataset: preview through the page, data through the CKAN API.
    page.goto(f"{base_url}/open/dataset/{cond}?token={token}")
    assert page.locator("#preview tbody tr").count() >= 1
    r = page.request.get(
        f"{base_url}/api/3/action/datastore_search?resource_id={cond}&limit=1",
        headers={"Authorization": token},
    )
    assert r.status == 200 and r.json()["success"] is True
    # The token written to demo-accounts.json was replaced (here or by test_ckan): it no
    # longer works.
    r = page.request.get(
        f"{base_url}/api/3/action/datastore_search?resource_id={cond}&limit=1",
        headers={"Authorization": accounts["open"]["token"]},
    )
    assert r.status == 403


def test_the_public_posts_a_data_request_and_sees_answers(page, base_url):
    page.goto(f"{base_url}/open/requests")
    answered = page.locator("#open-requests tr[data-state=answered]").count()
    assert answered >= 1
    page.fill("#request-form input[name=title]", "城市绿道和公园设施数据")
    page.fill("#request-form textarea[name=description]", "希望开放全市绿道线路、公园位置和公共卫生间等设施数据。")
    page.click("#request-form button")
    page.wait_for_url(f"{base_url}/open/requests")
    assert "城市绿道和公园设施数据" in page.inner_text("#open-requests")
    # Too short: the form comes back with the reason, in Chinese.
    page.fill("#request-form input[name=title]", "绿道")
    page.fill("#request-form textarea[name=description]", "短")
    page.click("#request-form button")
    assert "标题" in page.inner_text("#request-error")


def test_an_officer_drops_a_field_from_the_open_rules(browser, base_url, accounts):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    # A public dataset other than the one the API tests read.
    r = page.request.get(f"{base_url}/api/3/action/package_search?fq=open_access:public&rows=1000")
    packages = [p for p in r.json()["result"]["results"] if p["name"] != accounts["open"]["public_dataset"] and p["num_resources"]]
    pkg = packages[0]
    code = next(e["value"] for e in pkg["extras"] if e["key"] == "catalog_code")
    provider = pkg["organization"]["name"].upper()
    officer = next(
        (u for u in accounts["users"] if u["role"] == "data_officer" and u["department"] == provider),
        next(u for u in accounts["users"] if u["role"] == "hub_operator"),
    )
    sign_in(page, base_url, accounts, officer["login"])
    page.goto(f"{base_url}/opendata")
    assert page.locator(f"#open-publications tr[data-code='{code}']").count() == 1
    page.goto(f"{base_url}/opendata/r/{code}")
    r = page.request.get(f"{base_url}/api/3/action/datastore_search?resource_id={pkg['name']}&limit=1")
    published = [f["id"] for f in r.json()["result"]["fields"] if f["id"] != "_id"]
    assert len(published) >= 2
    field = published[-1]
    page.select_option(f"select[name='field.{field}']", "drop")
    page.click("#rules-form button")
    assert "published" in page.inner_text("#rules-done")
    r = page.request.get(f"{base_url}/api/3/action/datastore_search?resource_id={pkg['name']}&limit=1")
    fields = [f["id"] for f in r.json()["result"]["fields"]]
    assert field not in fields
    # Publishing a personal field in the clear is refused with the reason.
    page.goto(f"{base_url}/opendata/r/{code}")
    personal = page.locator("#rule-fields tr:has(span.badge)")
    if personal.count():
        f = personal.first.get_attribute("data-field")
        page.select_option(f"select[name='field.{f}']", "keep")
        page.click("#rules-form button")
        assert "OPEN_FIELD_PERSONAL" in page.inner_text("#rules-error")
    context.close()
