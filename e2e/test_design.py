"""The pages as the people who use them see them, in headless Chromium: the main pages of each
role (the bureau's operator, a department's data officer, the public on the portal, a
citizen) at 375, 1366 and 1920 px, kept as screenshots (CI artifacts under
target/e2e/design/); no horizontal scrolling at 375 px on the portal and the citizen page; no
errors in the browser console; no serious or critical accessibility violations found by
axe-core (vendored from npm under e2e/vendor/axe-core, MPL-2.0); and the English switch
leaves no Chinese interface text (data, such as names of datasets, stays as it is)."""

import os
import pathlib
import re

import pytest

from conftest import person_whose_data_was_read, sign_in

ARTIFACTS = pathlib.Path(os.environ.get("SHUNIU_E2E_ARTIFACTS", "target/e2e")) / "design"
AXE = (pathlib.Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
WIDTHS = [375, 1366, 1920]

# The main pages of each role.
OPERATOR_PAGES = ["/", "/catalog", "/quality", "/quality/tickets", "/sharing", "/sharing/grants",
                  "/sharing/demands", "/loads", "/audit", "/audit/flows", "/sql",
                  "/events", "/events/new", "/events/statistics", "/events/intake",
                  "/indicators", "/indicators/IND-POP-REGISTERED"]
OFFICER_PAGES = ["/", "/catalog", "/quality/tickets", "/sharing", "/sharing/requests", "/loads", "/events", "/events/new", "/indicators"]
PORTAL_PAGES = ["/open", "/open?q=人口", "/open/themes", "/open/api", "/open/requests"]

CJK = re.compile(r"[\u3400-\u9fff]")
# A message key that has no text (e.g. `channel_open`) would show as itself.
RAW_KEY = re.compile(r"^[a-z]+(_[a-z]+)+$")

# Text of the interface (not of data) on a page: headings of tables, labels, buttons, menus,
# breadcrumbs' first step, the footer, placeholders and accessible names. Elements inside
# [data-data] hold data (a preview's column labels, a select of departments).
UI_TEXT_JS = """
() => {
  const out = [];
  const isData = el => el.closest('[data-data]');
  const sel = 'th, label, button, summary, legend, .sidenav a, .topnav a, .navgroup h2, footer, .listbar .total, .pager, .crumbs li:first-child, h2, option, .cards span';
  document.querySelectorAll(sel).forEach(el => {
    if (isData(el) || el.closest('[hidden]')) return;
    if (el.tagName === 'OPTION' && el.parentElement && isData(el.parentElement)) return;
    // A heading or label that names a datum carries it in a child marked data-data.
    const copy = el.cloneNode(true);
    copy.querySelectorAll('[data-data], .name-code, code, .code').forEach(d => d.remove());
    out.push(copy.textContent.trim());
  });
  document.querySelectorAll('[placeholder], [aria-label]').forEach(el => {
    if (isData(el)) return;
    out.push(el.getAttribute('placeholder') || '');
    out.push(el.getAttribute('aria-label') || '');
  });
  return out.filter(Boolean);
}
"""


def shot(page, name, width):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)


def slug(path):
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


def new_page(browser, width, lang="zh-CN"):
    context = browser.new_context(locale=lang, viewport={"width": width, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def visit(page, base_url, path):
    r = page.goto(f"{base_url}{path}")
    assert r.status < 400, f"{path} answered {r.status}"
    page.wait_for_load_state("networkidle")


def overflow(page):
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def axe_violations(page):
    # Evaluated through the DevTools protocol: the hub's Content-Security-Policy (rightly)
    # refuses inline scripts, and bypassing it would hide the violations this suite looks for.
    page.evaluate(AXE + "\n;0")
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def check_role_pages(browser, base_url, accounts, login, name, paths, width, axe_width):
    """Signs in as `login`, screenshots each page, and runs axe-core at `axe_width`."""
    context, page, errors = new_page(browser, width)
    sign_in(page, base_url, accounts, login)
    problems = []
    for path in paths:
        visit(page, base_url, path)
        shot(page, f"{name}-{slug(path)}", width)
        if width == axe_width:
            problems += [f"{path}: {v}" for v in axe_violations(page)]
    assert not errors, errors
    assert not problems, "\n".join(problems)
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_operator_s_pages(browser, base_url, accounts, width):
    check_role_pages(browser, base_url, accounts, "admin", "operator", OPERATOR_PAGES, width, 1366)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_city_screen(browser, base_url, accounts, width):
    # The screen keeps a server-sent-events stream open: the network is never idle, so it is
    # visited until loaded and its charts drawn.
    context, page, errors = new_page(browser, width)
    sign_in(page, base_url, accounts, "admin")
    page.goto(f"{base_url}/dashboard")
    page.wait_for_selector("#district-tiles[data-drawn=true]")
    shot(page, "operator-dashboard", width)
    assert overflow(page) <= 1, "the screen fits its width"
    if width == 1366:
        assert not axe_violations(page)
    assert not errors, errors
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_data_officer_s_pages(browser, base_url, accounts, width):
    check_role_pages(browser, base_url, accounts, "ga.officer", "officer", OFFICER_PAGES, width, 375)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_portal_for_the_public(browser, base_url, accounts, width):
    context, page, errors = new_page(browser, width)
    paths = PORTAL_PAGES + [f"/open/dataset/{accounts['open']['public_dataset']}",
                            f"/open/dataset/{accounts['open']['conditional_dataset']}",
                            f"/open/events/{accounts['open311']['example_request']}"]
    problems = []
    for path in paths:
        visit(page, base_url, path)
        shot(page, f"portal-{slug(path)}", width)
        if width == 375:
            assert overflow(page) <= 0, f"{path} scrolls sideways at 375 px by {overflow(page)} px"
        problems += [f"{path}: {v}" for v in axe_violations(page)] if width != 1920 else []
    assert not errors, errors
    assert not problems, "\n".join(problems)
    context.close()


def test_the_portal_finds_what_its_own_example_word_means(page, base_url):
    # The search box suggests 人口: a search for it finds the population statistics.
    visit(page, base_url, "/open")
    assert "人口" in page.get_attribute("#portal-q", "placeholder")
    page.fill("#portal-q", "人口")
    page.press("#portal-q", "Enter")
    page.wait_for_selector("#portal-results")
    titles = page.locator("#portal-results li[data-dataset] a.title").all_inner_texts()
    assert any("人口" in t for t in titles), titles
    # The landing page leads with themes, newest and most used datasets.
    visit(page, base_url, "/open")
    assert page.locator("#landing-themes a").count() >= 5
    assert page.locator("#newest li").count() >= 1 and page.locator("#most-used li").count() >= 1
    titles = page.locator("#landing-themes a span").all_inner_texts()
    assert len(titles) == len(set(titles)), f"a theme appears twice: {titles}"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_citizen_page(browser, base_url, accounts, width):
    context, page, errors = new_page(browser, width)
    visit(page, base_url, "/my-data")
    shot(page, "citizen-sign-in", width)
    assert not axe_violations(page)
    person = person_whose_data_was_read(base_url, accounts, purpose="design")
    page.fill("input[name=name]", "测试市民")
    page.fill("#id-number", person)
    page.click("#citizen-submit")
    page.wait_for_selector("#my-uses li")
    shot(page, "citizen-my-data", width)
    if width == 375:
        assert overflow(page) <= 0, f"the citizen page scrolls sideways by {overflow(page)} px"
    # Each use reads as a sentence: who, what, concerning which data.
    sentence = page.inner_text("#my-uses li .sentence")
    assert sentence.startswith("由") and sentence.endswith("。"), sentence
    assert not axe_violations(page)
    assert not errors, errors
    context.close()


def test_the_english_switch_leaves_no_chinese_interface_text(browser, base_url, accounts):
    context, page, errors = new_page(browser, 1366, lang="en-US")
    sign_in(page, base_url, accounts, "admin")
    page.click("#lang-en")
    page.wait_for_load_state("networkidle")
    found = []
    for path in OPERATOR_PAGES + PORTAL_PAGES[:4] + [f"/open/dataset/{accounts['open']['public_dataset']}", "/my-data"]:
        visit(page, base_url, path)
        for text in page.evaluate(UI_TEXT_JS):
            if CJK.search(text) or RAW_KEY.match(text):
                found.append(f"{path}: {text[:80]}")
    assert not found, "Chinese left in the English interface:\n" + "\n".join(sorted(set(found))[:60])
    assert not errors, errors
    context.close()


def test_an_error_page_sits_in_the_layout_and_says_what_to_do(page, base_url, accounts):
    sign_in(page, base_url, accounts, "ga.officer")
    r = page.goto(f"{base_url}/catalog/r/999999-370200XX-99999")
    assert r.status == 404
    assert page.locator(".sidenav").count() == 1, "inside the console's layout"
    assert page.locator("#problem").count() == 1
    assert page.inner_text("#problem-detail").strip()
    assert "下一步" in page.content()


def test_lists_are_paged_filtered_and_exported_as_filtered(page, base_url, accounts):
    sign_in(page, base_url, accounts, "admin")
    visit(page, base_url, "/sharing/demands")
    total = int(page.inner_text(".list-total"))
    assert total > 50, "the demo files a few hundred demands"
    assert page.locator("#sharing-demands tbody tr").count() == 50
    assert page.locator("nav.pager a[rel=next]").count() == 1
    page.select_option("#f-state", "routed")
    page.click("#list-filter")
    page.wait_for_url("**state=routed**")
    routed = int(page.inner_text(".list-total"))
    assert 0 < routed < total
    assert set(page.locator("#sharing-demands tbody tr").evaluate_all("rs => rs.map(r => r.dataset.state)")) == {"routed"}
    with page.expect_download() as dl:
        page.click(".listbar a.export")
    text = pathlib.Path(dl.value.path()).read_text(encoding="utf-8-sig")
    assert len(text.strip().splitlines()) == routed + 1, "the export holds the filtered rows and a heading"
    # Every load and every grant have a page.
    visit(page, base_url, "/loads?status=failed")
    assert page.locator("#loads tbody tr").count() >= 0
    visit(page, base_url, "/sharing/grants")
    assert page.locator("#sharing-grants tbody tr").count() >= 1
