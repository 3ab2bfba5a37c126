import os
import pathlib
import re
import time

from conftest import person_whose_data_was_read, sign_in

ARTIFACTS = pathlib.Path(os.environ.get("SHUNIU_E2E_ARTIFACTS", "target/e2e"))
ARTIFACTS.mkdir(parents=True, exist_ok=True)


def total(page):
    return int(page.inner_text("#total"))


def test_wrong_password_is_refused(page, base_url):
    page.goto(f"{base_url}/catalog")
    assert "/login" in page.url
    page.fill("#login", "admin")
    page.fill("#password", "not-the-password")
    page.click("#login-submit")
    assert page.is_visible("#login-error")
    assert "用户名或密码错误" in page.inner_text("#login-error")


def test_search_in_chinese_with_facets(page, base_url, accounts):
    sign_in(page, base_url, accounts, "admin")
    assert "数据资源目录" in page.inner_text(".sidenav")
    page.click(".sidenav a[data-nav=catalog]")
    page.wait_for_url(f"{base_url}/catalog")
    everything = total(page)
    assert everything >= 300
    page.fill("#q", "户籍人口")
    page.click("#search-button")
    page.wait_for_url(re.compile(r".*q=.*"))
    found = total(page)
    assert 0 < found < everything
    assert "户籍人口基本信息" in page.inner_text(".results")
    # Facet: only conditionally shared entries.
    page.click("[data-facet=share_type] a[data-value=conditional]")
    page.wait_for_url(re.compile(r".*share_type=conditional.*"))
    assert total(page) <= found
    page.screenshot(path=str(ARTIFACTS / "catalog-search.png"), full_page=True)
    page.click("#clear-filters")
    assert total(page) == found
    # Detail page with data items and history.
    page.click("li.resource h2 a >> nth=0")
    page.wait_for_selector("#data-items")
    assert page.locator("#data-items tbody tr").count() >= 3
    assert page.locator("#history tbody tr").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "resource-detail.png"), full_page=True)


def test_english_switch_persists(page, base_url, accounts):
    sign_in(page, base_url, accounts, "ga.officer")
    page.click("#lang-en")
    page.wait_for_selector("html[lang=en]")
    assert "Data catalog" in page.inner_text(".sidenav")
    page.goto(f"{base_url}/negative-list")
    assert "Negative list" in page.inner_text("h1")
    page.reload()
    assert page.locator("html").get_attribute("lang") == "en"
    page.click("#lang-zh")
    page.wait_for_selector("html[lang=zh-CN]")
    assert "负面清单" in page.inner_text("h1")


def test_negative_list_shows_legal_basis(page, base_url, accounts):
    sign_in(page, base_url, accounts, "mz.officer")
    page.goto(f"{base_url}/negative-list")
    rows = page.locator("#negative-list tbody tr")
    assert rows.count() >= 4
    bases = page.locator("#negative-list td.basis").all_inner_texts()
    assert all("《" in b for b in bases)


def test_register_submit_review_publish(browser, base_url, accounts):
    officer_ctx = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1200})
    officer = officer_ctx.new_page()
    sign_in(officer, base_url, accounts, "ga.officer")
    officer.click("a[data-nav=register]")
    officer.wait_for_selector("#f-name")
    # Saving without a name shows the error at the field and keeps what was typed.
    officer.fill("#f-item_code", "1")
    officer.fill("#f-item_name", "人口")
    officer.fill("#f-subject_code", "9")
    officer.fill("#f-subject_name", "境外人员")
    officer.fill("#f-summary", "境外人员临时住宿登记信息")
    officer.fill("#f-share_conditions", "用于出入境管理和政务服务核验")
    officer.fill("input[name=items-0-name]", "passport_no")
    officer.fill("input[name=items-0-label]", "护照号码")
    officer.fill("input[name=items-0-length]", "20")
    officer.click("#save")
    officer.wait_for_selector("#form-errors")
    assert officer.is_visible("[data-error-for=name]")
    assert officer.input_value("input[name=items-0-label]") == "护照号码"
    # Fix it, add a data item with the button, save.
    stamp = str(int(time.time()))
    name = f"境外人员住宿登记信息{stamp}"
    officer.fill("#f-name", name)
    rows_before = officer.locator("tr.item-row").count()
    officer.click("#add-item")
    assert officer.locator("tr.item-row").count() == rows_before + 1
    last = officer.locator("tr.item-row").last
    last.locator("input[name$=-name]").fill("checkin_date")
    last.locator("input[name$=-label]").fill("入住日期")
    last.locator("select[name$=-data_type]").select_option("date")
    officer.click("#save")
    officer.wait_for_selector("#resource-status[data-status=draft]")
    code = officer.inner_text("#resource-code")
    assert officer.locator("#data-items tbody tr").count() == 2
    officer.click("#submit")
    officer.wait_for_selector("#resource-status[data-status=submitted]")

    admin_ctx = browser.new_context(locale="zh-CN")
    admin = admin_ctx.new_page()
    sign_in(admin, base_url, accounts, "admin")
    admin.click("a[data-nav=review]")
    row = admin.locator(f"#review-queue tr[data-code='{code}']")
    row.wait_for()
    row.locator("button.publish").click()
    admin.wait_for_url(f"{base_url}/review")
    assert admin.locator(f"#review-queue tr[data-code='{code}']").count() == 0

    officer.reload()
    assert officer.get_attribute("#resource-status", "data-status") == "published"
    officer.fill("#q", name) if officer.locator("#q").count() else None
    officer.goto(f"{base_url}/catalog?q={name}")
    assert total(officer) == 1
    officer.screenshot(path=str(ARTIFACTS / "registered.png"), full_page=True)
    officer_ctx.close()
    admin_ctx.close()


def test_a_data_officer_uploads_a_file_and_reads_the_load_report(page, base_url, accounts, tmp_path):
    """Console upload: GBK CSV with Chinese headers, a rejected row, the report, the preview."""
    sign_in(page, base_url, accounts, "ga.officer")
    page.goto(f"{base_url}/catalog?q=户籍人口基本信息")
    page.locator("a", has_text="户籍人口基本信息").first.click()
    assert page.locator("#data-version").get_attribute("data-version") != ""
    page.click("#load-data")
    csv = "公民身份号码,姓名,性别,出生日期,民族,住址,户号,与户主关系,行政区划代码\n" \
          "370202199001010011,张三,1,1990-01-01,01,青岛市市南区香港中路1号,H1,01,370202\n" \
          "370202199001010038,李四,2,1990-02-30,01,青岛市市北区,H2,01,370203\n"
    f = tmp_path / "户籍.csv"
    f.write_bytes(csv.encode("gbk"))
    page.select_option("#mode", "append")
    page.set_input_files("#file", str(f))
    page.click("#upload")
    page.wait_for_selector("#load-status[data-status='succeeded']", timeout=30000)
    assert page.inner_text("#rows-accepted") == "1"
    assert page.inner_text("#rows-rejected") == "1"
    assert "IMPOSSIBLE_DATE" in page.inner_text("#rejections-by-code")
    assert page.locator("#download-rejects").count() == 1
    page.screenshot(path=str(ARTIFACTS / "load-report.png"), full_page=True)
    # Back on the resource page: a new version and its history.
    page.locator("p.meta a[href^='/catalog/r/']").first.click()
    assert page.locator("#loads tbody tr").count() >= 2
    assert page.locator("#preview tbody tr").count() > 0


def test_the_hub_runs_sql_and_other_departments_cannot(page, base_url, accounts):
    sign_in(page, base_url, accounts, "admin")
    page.goto(f"{base_url}/sql")
    first = page.locator("#sql-tables tbody tr td code").first.inner_text().strip('"')
    page.fill("#sql", f'SELECT count(*) AS n FROM "{first}"')
    page.click("#run-sql")
    assert int(page.inner_text("#sql-result tbody td")) > 0
    page.fill("#sql", f'DROP TABLE "{first}"')
    page.click("#run-sql")
    assert page.locator("#sql-error").count() == 1


def test_the_hub_searches_the_audit_log_and_sees_flows(page, base_url, accounts):
    sign_in(page, base_url, accounts, "admin")
    page.click("a[data-nav=audit]")
    page.wait_for_url(f"{base_url}/audit")
    assert int(page.inner_text("#tree-size")) > 100
    assert page.locator("#audit-rows tbody tr").count() > 10
    page.fill("input[name=action]", "data.load")
    page.click("#audit-search button")
    actions = [c.get_attribute("data-action") for c in page.locator("#audit-rows tbody tr td[data-action]").all()]
    assert actions and all(a == "data.load" for a in actions)
    # Actions read as words, and an entry opens as a console page (not the JSON API).
    assert "汇聚数据" in page.inner_text("#audit-rows tbody tr td:nth-child(3)")
    page.locator("#audit-rows tbody tr td a").first.click()
    page.wait_for_selector("#entry-facts")
    assert "汇聚数据" in page.inner_text("#entry-facts")
    page.goto(f"{base_url}/audit/flows?days=7")
    page.wait_for_selector("#sankey[data-drawn=true] canvas")
    page.wait_for_selector("#volume-chart[data-drawn=true] canvas")
    page.screenshot(path=str(ARTIFACTS / "audit-flows.png"), full_page=True)


def test_a_citizen_sees_who_used_their_data(browser, base_url, accounts):
    person = person_whose_data_was_read(base_url, accounts)
    assert person, "some dataset holds ID numbers"
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/my-data")
    page.fill("input[name=name]", "测试市民")
    page.fill("#id-number", person)
    page.click("#citizen-submit")
    page.wait_for_url(f"{base_url}/my-data")
    rows = page.locator("#my-uses li")
    assert rows.count() >= 1
    assert "e2e" in page.inner_text("#my-uses")
    assert person not in page.content(), "the page shows the number masked"
    page.click("#lang-en")
    assert "Who used my data" in page.inner_text("h1")
    context.close()


REGISTER = "101001-370200GA-00001"  # 户籍人口基本信息, the demo's authoritative address source


def test_the_quality_dashboard_shows_departments_trend_worst_rules_and_stale_data(page, base_url, accounts):
    sign_in(page, base_url, accounts, "admin")
    page.click("nav a[data-nav=quality]")
    page.wait_for_url(f"{base_url}/quality")
    score = float(page.inner_text("#city-score"))
    assert 0 < score < 100, "the demo injects defects"
    page.wait_for_selector("#department-chart[data-drawn=true] canvas")
    page.wait_for_selector("#trend-chart[data-drawn=true] canvas")
    assert page.locator("#departments-quality tbody tr").count() >= 5
    assert page.locator("#worst-rules tbody tr").count() >= 5
    assert page.locator("#stale-datasets tbody tr").count() >= 1, "the demo backdates some loads"
    assert int(page.inner_text("#open-tickets")) > 0
    # The worst rule leads to its dataset's page, with failing rows for the hub.
    page.locator("#worst-rules tbody tr a").first.click()
    page.wait_for_selector("#rule-results")
    assert page.locator("#rule-results tr.failing").count() >= 1
    assert page.locator("table.samples tbody tr").count() >= 1
    page.click("#lang-en")
    page.wait_for_selector("#rule-results")
    assert "Data quality" in page.inner_text("h1")


def test_a_data_officer_tunes_rules_and_handles_a_ticket(page, base_url, accounts):
    sign_in(page, base_url, accounts, "ga.officer")
    page.goto(f"{base_url}/quality/r/{REGISTER}")
    assert page.locator("#rule-results tr[data-rule='id_number.id_number']").count() == 1
    # A rule that cannot compile is refused when saved, with its code.
    page.select_option("#rule-form select[name=column]", "household_no")
    page.select_option("#rule-form select[name=type]", "pattern")
    page.fill("#rule-form input[name=a]", "3702[0-9")
    page.click("#save-rule")
    assert "RULE_REGEX_INVALID" in page.inner_text("#quality-error")
    page.select_option("#rule-form select[name=column]", "household_no")
    page.select_option("#rule-form select[name=type]", "pattern")
    page.fill("#rule-form input[name=a]", "[0-9A-Z]{6,20}")
    page.fill("#rule-form input[name=id]", "household_no.e2e")
    page.click("#save-rule")
    page.wait_for_selector("#rules-table tr[data-rule='household_no.e2e']")
    # The department's open tickets; the officer confirms one.
    page.goto(f"{base_url}/quality/tickets")
    rows = page.locator("#tickets tbody tr[data-state=open]")
    assert rows.count() >= 1
    rows.first.locator("a").first.click()
    page.wait_for_selector("#ticket-facts")
    page.click("#action-confirm")
    page.wait_for_selector("#ticket-state[data-state=confirmed]")
    assert page.locator("#ticket-events tbody tr").count() >= 2


def test_the_hub_sees_the_authoritative_source_and_cross_checks(page, base_url, accounts):
    sign_in(page, base_url, accounts, "admin")
    page.goto(f"{base_url}/quality/sources")
    assert page.locator("#sources tr[data-attribute=address]").count() == 1
    page.click("#run-cross-check")
    page.wait_for_selector("#cross-check-results")
    conflicts = [int(c) for c in page.locator("#cross-check-results tbody tr").evaluate_all("rows => rows.map(r => r.dataset.conflicts)")]
    assert sum(conflicts) > 0, "the demo's injected address conflicts are found"


def test_the_hub_sees_where_each_library_attribute_comes_from_and_updates_it(browser, base_url, accounts):
    page = browser.new_page()
    sign_in(page, base_url, accounts, "admin")
    page.goto(f"{base_url}/libraries")
    for kind in ("population", "legal_entity"):
        section = page.locator(f"#library-{kind}")
        assert section.count() == 1
        # Who the subject is, from every source; the designated attributes name their source.
        assert section.locator("tr[data-attribute=name], tr[data-attribute=ent_name]").count() == 1
        designated = "address" if kind == "population" else "capital"
        assert section.locator(f"tr[data-attribute={designated}] td a").count() == 1
    # The licence library: built from the licences the demo issued, from both types' data.
    licence = page.locator("#library-licence")
    assert licence.count() == 1
    assert licence.locator("table.licence-sources tbody tr").count() == 2
    page.locator("#library-population button.build-incremental").click()
    page.wait_for_selector("#build-result")
    assert page.get_attribute("#build-result", "data-mode") in ("unchanged", "incremental")
    page.screenshot(path=str(ARTIFACTS / "libraries.png"), full_page=True)
    # A department officer has no way to the page.
    officer = browser.new_page()
    sign_in(officer, base_url, accounts, "ga.officer")
    assert officer.locator("a[href='/libraries']").count() == 0
    assert officer.goto(f"{base_url}/libraries").status == 403
    page.close()
    officer.close()


def test_the_hub_reviews_an_uncertain_link_side_by_side(page, base_url, accounts):
    sign_in(page, base_url, accounts, "admin")
    page.goto(f"{base_url}/linkage/reviews")
    pending = int(page.inner_text("#pending-count"))
    assert pending > 0, "the demo queues the keyless sources' uncertain pairs"
    first = page.locator("section.review").first
    assert first.locator("table.record tbody tr").count() >= 2
    assert first.locator("table.candidate tbody tr").count() >= 2
    # The numbers are masked: no full 18-character ID number on the page.
    assert not re.search(r"\b\d{17}[\dX]\b", first.inner_text())
    first.locator("details summary").click()
    assert first.locator("table.explanation tbody tr").count() >= 3
    page.screenshot(path=str(ARTIFACTS / "linkage-review.png"), full_page=True)
    first.locator("button.reject").click()
    page.wait_for_url(f"{base_url}/linkage/reviews")
    assert int(page.inner_text("#pending-count")) == pending - 1
    page.goto(f"{base_url}/linkage/reviews?state=rejected")
    assert page.locator("section.review").count() >= 1


def test_an_officer_views_a_profile_through_a_system_of_their_department(browser, base_url, accounts):
    app = next(a for a in accounts["applications"] if a["id"] == "mz-assistance-system")
    page = browser.new_page()
    sign_in(page, base_url, accounts, "mz.officer")
    page.goto(f"{base_url}/profiles")
    systems = page.locator("#profile-system option").evaluate_all("os => os.map(o => o.value)")
    assert systems == ["mz-assistance-system"], systems
    page.fill("#profile-key", app["example_id_number"])
    page.fill("#profile-purpose", "低保审核")
    page.click("#view-profile")
    page.wait_for_selector("section.profile-section")
    assert int(page.inner_text("#section-count")) >= 1
    # Masked as the grants say: the register's copy of the number is not shown whole.
    register = page.locator("section.profile-section[data-matched-by=key]").first
    assert register.count() == 1
    page.screenshot(path=str(ARTIFACTS / "profile.png"), full_page=True)
    # Without a purpose there is no view.
    page.goto(f"{base_url}/profiles")
    page.fill("#profile-key", app["example_id_number"])
    page.eval_on_selector("#profile-purpose", "e => e.removeAttribute('required')")
    page.click("#view-profile")
    assert page.locator("#profile-error").count() == 1
    page.close()


def test_a_counter_verifies_a_licence_and_the_issuer_suspends_and_restores_it(browser, base_url, accounts):
    lic = accounts["licences"]
    page = browser.new_page()
    sign_in(page, base_url, accounts, "admin")
    page.goto(f"{base_url}/licences")
    assert int(page.inner_text("#valid-count")) >= 1
    assert page.locator("#licence-types tbody tr[data-code]").count() >= 1
    assert page.locator("figure.seal").count() >= 1
    # A pasted QR text of the revoked licence: refused, with the reason's code.
    page.fill("#verify-qr", lic["revoked"]["qr_text"])
    page.click("#verify")
    page.wait_for_selector("#verify-result")
    assert page.get_attribute("#verify-result", "data-code") == "LICENCE_REVOKED"
    page.fill("#verify-qr", lic["example"]["qr_text"])
    page.click("#verify")
    page.wait_for_selector("#verify-result[data-valid=true]")
    assert lic["example"]["holder_name"] in page.inner_text("#verify-result")
    page.screenshot(path=str(ARTIFACTS / "licences.png"), full_page=True)
    # The hub rotates the market regulator's seal: the old one is retired but still trusted,
    # so what it signed verifies; types are registered from the same page.
    seals = page.locator("figure.seal").count()
    assert page.locator("#register-type").count() == 1
    page.select_option("#seal-department", "370200SJ")
    page.click("#make-seal")
    page.wait_for_url(re.compile(r".*/licences#seals"))
    assert page.locator("figure.seal").count() == seals + 1
    assert page.locator("figure.seal-retired").count() >= 1
    page.fill("#verify-qr", lic["example"]["qr_text"])
    page.click("#verify")
    page.wait_for_selector("#verify-result[data-valid=true]")
    # The licence itself: its face beside its QR code; suspended with a reason, then restored.
    page.goto(f"{base_url}/licences/{lic['example']['id']}")
    assert page.locator("#licence-qr svg").count() == 1
    assert int(page.inner_text("#licence-uses")) >= 1, "the demo's counter read it (免证办)"
    with page.expect_download() as download:
        page.click("#licence-pdf")
    pdf = download.value.path().read_bytes()
    assert pdf.startswith(b"%PDF-") and b"licence-credential.json" in pdf
    assert download.value.suggested_filename.endswith(".pdf")
    assert page.inner_text("#licence-holder") == lic["example"]["holder_name"]
    page.select_option("#state-change", "suspend")
    page.fill("#state-reason", "e2e 核查")
    page.click("#apply-state")
    page.wait_for_selector("#licence-state.state-suspended")
    page.screenshot(path=str(ARTIFACTS / "licence.png"), full_page=True)
    page.select_option("#state-change", "restore")
    page.fill("#state-reason", "核查完毕")
    page.click("#apply-state")
    page.wait_for_selector("#licence-state.state-valid")
    assert page.locator("#licence-events li").count() >= 3
    # Another department's officer sees none of the market regulator's licences.
    officer = browser.new_page()
    sign_in(officer, base_url, accounts, "mz.officer")
    officer.goto(f"{base_url}/licences")
    assert officer.locator("#licence-list tbody tr[data-state]").count() == 0
    assert officer.locator("#seal-form, #register-type").count() == 0, "the hub's forms only"
    assert officer.goto(f"{base_url}/licences/{lic['example']['id']}").status == 404
    page.close()
    officer.close()


def test_a_department_requests_data_and_the_provider_approves_it(browser, base_url, accounts):
    # 卫健's officer asks 公安 for the household register, for its own system.
    consumer = browser.new_context()
    page = consumer.new_page()
    sign_in(page, base_url, accounts, "wj.officer")
    page.goto(f"{base_url}/catalog/r/{REGISTER}")
    page.click("#request-sharing")
    page.wait_for_selector("#request-form")
    # A purpose too short to say anything: refused with the reason, the form kept.
    page.fill("#request-form input[name=purpose]", "核验")
    page.fill("#request-form input[name=scenario]", "出生医学证明签发时核对父母户籍")
    page.fill("#request-form input[name=legal_basis]", "《母婴保健法》第二十三条")
    page.click("#submit-request")
    page.wait_for_selector("#form-error")
    assert "PURPOSE_REQUIRED" in page.inner_text("#form-error")
    assert page.input_value("#request-form input[name=scenario]") == "出生医学证明签发时核对父母户籍"
    page.fill("#request-form input[name=purpose]", "出生医学证明办理户籍核验")
    page.fill("#request-form input[name=row_scope]", "division ^= 370202")
    page.click("#submit-request")
    page.wait_for_selector("#request-state[data-state=pending]")
    request_id = page.url.rsplit("/", 1)[1]
    page.screenshot(path=str(ARTIFACTS / "sharing-request.png"), full_page=True)
    consumer.close()

    # 公安's officer finds it in the inbox and approves it with stronger masking.
    provider = browser.new_context()
    page = provider.new_page()
    sign_in(page, base_url, accounts, "ga.officer")
    page.goto(f"{base_url}/sharing")
    assert page.locator(f"#sharing-inbox tr[data-request='{request_id}']").count() == 1
    page.click(f"#sharing-inbox tr[data-request='{request_id}'] a")
    page.wait_for_selector("#decision-form")
    page.select_option("#decision-form select[name='mask.address']", "null")
    page.fill("#decision-form input[name=reason]", "同意，住址不提供")
    page.click("#approve")
    page.wait_for_selector("#request-state[data-state=granted]")
    grant = page.inner_text("#grant-id")
    assert page.locator("#request-events tr[data-action=approved]").count() == 1
    # The grant is listed with its usage, and the provider can revoke it.
    page.goto(f"{base_url}/sharing/grants")
    row = page.locator(f"#sharing-grants tr[data-grant='{grant}']")
    assert row.get_attribute("data-state") == "active"
    row.locator("input[name=reason]").fill("测试撤销")
    row.locator("form.revoke button").click()
    page.wait_for_selector(f"#sharing-grants tr[data-grant='{grant}'][data-state=revoked]")
    # The satisfaction rate of the demo's demands is shown.
    page.goto(f"{base_url}/sharing")
    assert page.inner_text("#satisfaction-rate").endswith("%")
    provider.close()
