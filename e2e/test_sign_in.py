"""Signing in through a real OpenID Connect provider (oidc-provider from npm, e2e/oidc/server.mjs,
started by .ci/run): citizens on their own record, officers on the console by single sign-on,
and the answers a hub must refuse: a replayed one, one meant for another browser, and one from
a provider it does not trust. The demo server is configured with the trusted provider at
SHUNIU_E2E_OIDC; SHUNIU_E2E_OIDC_OTHER is a second provider with the same clients, trusted by
nobody.
"""

import json
import os
import urllib.parse
import urllib.request

import pytest

from conftest import person_whose_data_was_read

TRUSTED = os.environ.get("SHUNIU_E2E_OIDC", "").rstrip("/")
OTHER = os.environ.get("SHUNIU_E2E_OIDC_OTHER", "").rstrip("/")


@pytest.fixture(autouse=True)
def provider_running():
    assert TRUSTED and OTHER, "SHUNIU_E2E_OIDC and SHUNIU_E2E_OIDC_OTHER name the test identity providers (.ci/run starts them)"


def provider_login(page, login):
    """The provider's own sign-in page: any login, any password."""
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any-password")
    page.click("button[type=submit]")


def audit(base_url, accounts, **query):
    """The whole audit entries a search finds (the search lists a summary of each)."""

    def get(path):
        req = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {accounts['operator_api_key']}"})
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    found = get(f"/api/v1/audit/search?{urllib.parse.urlencode(query)}")
    return [get(f"/api/v1/audit/entries/{e['idx']}")["entry"] for e in found]


def cookies(context, name):
    return [c for c in context.cookies() if c["name"] == name]


def test_a_citizen_signs_in_through_the_provinces_identity_service(browser, base_url, accounts):
    person = person_whose_data_was_read(base_url, accounts, purpose="e2e-oidc")
    assert person
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/my-data")
    page.click("#citizen-oidc-sign-in")
    page.wait_for_url(f"{TRUSTED}/**")
    provider_login(page, person)
    page.wait_for_url(f"{base_url}/my-data")
    assert page.locator("#my-uses li").count() >= 1
    assert "e2e-oidc" in page.inner_text("#my-uses")
    assert person not in page.content(), "the number is shown masked"
    assert page.locator("#simulated-session").count() == 0, "a real sign-in is not marked as the demo's"
    assert not cookies(context, "shuniu_sign_in_flow"), "the flow's cookie is gone once answered"
    # The session is in the auth store: the same cookie works on a fresh page.
    page.goto(f"{base_url}/my-data")
    assert page.locator("#my-uses li").count() >= 1
    found = audit(base_url, accounts, action="citizen.login", limit=20)
    assert any(TRUSTED in (e.get("detail") or "") for e in found), "the sign-in is audited with its provider"
    context.close()


def test_an_officer_signs_in_with_single_sign_on_and_strangers_are_refused(browser, base_url, accounts):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/login?next=/catalog")
    page.click("#sso-sign-in")
    page.wait_for_url(f"{TRUSTED}/**")
    provider_login(page, "ga.officer")
    page.wait_for_url(f"{base_url}/catalog")
    officer = next(u for u in accounts["users"] if u["login"] == "ga.officer")
    assert officer["display_name"] in page.inner_text("header")
    context.close()

    # Somebody the provider knows and the hub does not: refused, and no session.
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/login")
    page.click("#sso-sign-in")
    provider_login(page, "somebody.unknown")
    page.wait_for_url(f"{base_url}/login/sso/callback**")
    assert "SSO_NO_SUCH_USER" in page.content()
    assert not cookies(context, "shuniu_session")
    page.goto(f"{base_url}/")
    page.wait_for_url(f"{base_url}/login**")
    context.close()


def test_a_replayed_answer_or_one_for_another_browser_opens_no_session(browser, base_url, accounts):
    person = person_whose_data_was_read(base_url, accounts, purpose="e2e-oidc")
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    answers = []
    page.on("request", lambda r: answers.append(r.url) if "/my-data/callback" in r.url else None)
    page.goto(f"{base_url}/my-data")
    page.click("#citizen-oidc-sign-in")
    provider_login(page, person)
    page.wait_for_url(f"{base_url}/my-data")
    assert answers, "the provider answered at the callback"
    answer = answers[0]
    state = urllib.parse.parse_qs(urllib.parse.urlparse(answer).query)["state"][0]

    # Another browser with the same answer (login CSRF, or a leaked URL): no flow cookie.
    other = browser.new_context(locale="zh-CN")
    p2 = other.new_page()
    r = p2.goto(answer)
    assert r.status == 400 and "SIGN_IN_UNKNOWN" in p2.content()
    assert not cookies(other, "shuniu_citizen")
    # The same browser again, even with the flow's cookie put back: each answer is taken once.
    other.add_cookies([{"name": "shuniu_sign_in_flow", "value": state, "url": base_url}])
    r = p2.goto(answer)
    assert r.status == 400 and "SIGN_IN_UNKNOWN" in p2.content()
    assert not cookies(other, "shuniu_citizen")
    other.close()
    context.close()


def to_other_provider(route):
    """The hub's redirect to its provider, sent to the other provider instead (Playwright routes
    only the first request of a redirect chain, so the hub's own answer is rewritten)."""
    r = route.fetch(max_redirects=0)
    headers = dict(r.headers)
    headers["location"] = headers["location"].replace(TRUSTED, OTHER, 1)
    route.fulfill(response=r, headers=headers)


def test_an_answer_from_an_untrusted_provider_is_refused(browser, base_url, accounts):
    """A mix-up: the sign-in the hub started is finished at another provider that knows the
    same client. With the provider's `iss` in the answer the hub refuses at once; without it,
    the other provider's code is refused by the trusted one. No session opens either way."""
    person = person_whose_data_was_read(base_url, accounts, purpose="e2e-oidc")
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.route(f"{base_url}/my-data/sign-in", to_other_provider)
    page.goto(f"{base_url}/my-data")
    page.click("#citizen-oidc-sign-in")
    page.wait_for_url(f"{OTHER}/**")
    provider_login(page, person)
    page.wait_for_url(f"{base_url}/my-data/callback**")
    assert "OIDC_ISSUER_MISMATCH" in page.content()
    assert not cookies(context, "shuniu_citizen")
    context.close()

    # The same without `iss` (providers before RFC 9207 do not send it), step by step with the
    # context's own HTTP client, which keeps the browser's cookies.
    context = browser.new_context(locale="zh-CN")
    http = context.request
    r = http.get(f"{base_url}/my-data/sign-in", max_redirects=0)
    assert r.status in (302, 303)
    at = r.headers["location"].replace(TRUSTED, OTHER, 1)
    for _ in range(10):
        r = http.get(at, max_redirects=0)
        if r.status not in (302, 303):
            break
        at = urllib.parse.urljoin(at, r.headers["location"])
    form_action = urllib.parse.urljoin(at, r.text().split('action="', 1)[1].split('"', 1)[0])
    r = http.post(form_action, form={"prompt": "login", "login": person, "password": "x"}, max_redirects=0)
    at = urllib.parse.urljoin(form_action, r.headers["location"])
    while not at.startswith(f"{base_url}/my-data/callback"):
        r = http.get(at, max_redirects=0)
        at = urllib.parse.urljoin(at, r.headers["location"])
    u = urllib.parse.urlparse(at)
    assert dict(urllib.parse.parse_qsl(u.query)).get("iss") == OTHER
    q = [(k, v) for k, v in urllib.parse.parse_qsl(u.query) if k != "iss"]
    r = http.get(u._replace(query=urllib.parse.urlencode(q)).geturl(), max_redirects=0)
    assert r.status == 401 and "OIDC_REFUSED" in r.text(), r.text()[:1000]
    assert not cookies(context, "shuniu_citizen")
    context.close()
    results = {e.get("result") for e in audit(base_url, accounts, action="auth.sso", limit=50)}
    assert {"OIDC_REFUSED", "OIDC_ISSUER_MISMATCH", "SIGN_IN_UNKNOWN"} <= results, f"every refusal is audited: {results}"
