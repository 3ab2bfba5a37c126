use crate::harness::{Hub, PASSWORD, resource};
use reqwest::{Client, StatusCode};

pub(crate) fn extract<'a>(html: &'a str, marker: &str) -> &'a str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in page"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    &html[start..end]
}

/// Signs in through the login form and returns a client holding the session cookie.
pub(crate) async fn login(hub: &Hub, login: &str, password: &str) -> (Client, reqwest::Response) {
    let client = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(hub.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = extract(&page, "name=\"csrf\" value=\"").to_string();
    let r = client
        .post(hub.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("next", "/catalog"),
            ("login", login),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    (client, r)
}

#[tokio::test]
async fn login_sessions_and_csrf() {
    let hub = Hub::start().await;
    // Anonymous visitors are sent to the login page, with the way back.
    let r = hub
        .client
        .get(hub.url("/catalog?q=户籍"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?next=/catalog")
    );

    let (_, r) = login(&hub, "admin", "wrong-password-1").await;
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("failed=1")
    );
    let (_, r) = login(&hub, "nobody", PASSWORD).await;
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("failed=1")
    );

    // A login without the form's token is refused.
    let r = hub
        .client
        .post(hub.url("/login"))
        .form(&[("login", "admin"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let (client, r) = login(&hub, "admin", PASSWORD).await;
    assert_eq!(r.headers()["location"], "/catalog");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("shuniu_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let page = client
        .get(hub.url("/catalog"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("数据资源目录") && page.contains("lang=\"zh-CN\""),
        "Chinese by default"
    );

    // Forms without the session's CSRF token change nothing.
    let r = client
        .post(hub.url("/catalog/new"))
        .form(&[("name", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let csrf = extract(&page, "name=\"csrf\" value=\"").to_string();
    let r = client
        .post(hub.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = client.get(hub.url("/catalog")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the session ended");
}

#[tokio::test]
async fn english_switch_persists() {
    let hub = Hub::start().await;
    let (client, _) = login(&hub, "ga.officer", PASSWORD).await;
    let r = client
        .get(hub.url("/lang/en?next=/negative-list"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/negative-list");
    let page = client
        .get(hub.url("/catalog"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Data catalog") && page.contains("lang=\"en\""));
    let page = client
        .get(hub.url("/departments"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Departments"),
        "still English on the next page"
    );
    client.get(hub.url("/lang/zh")).send().await.unwrap();
    let page = client
        .get(hub.url("/catalog"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("数据资源目录"));
    // Open redirects are refused.
    let r = client
        .get(hub.url("/lang/en?next=//evil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/", "the workbench instead");
}

#[tokio::test]
async fn register_form_shows_field_errors_then_saves() {
    let hub = Hub::start().await;
    let (client, _) = login(&hub, "ga.officer", PASSWORD).await;
    let page = client
        .get(hub.url("/catalog/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = extract(&page, "name=\"csrf\" value=\"").to_string();
    let mut form = vec![
        ("csrf", csrf.clone()),
        ("name", String::new()),
        ("provider", "370200GA".into()),
        ("category", "base".into()),
        ("item_code", "1".into()),
        ("item_name", "人口".into()),
        ("subject_code", "1".into()),
        ("subject_name", "户籍人口".into()),
        ("summary", "全市户籍人口".into()),
        ("format", "database".into()),
        ("share_type", "not_shared".into()),
        ("open_type", "not_open".into()),
        ("update_cycle", "daily".into()),
        ("level", "general_3".into()),
        ("items-0-name", "id_number".into()),
        ("items-0-label", "公民身份号码".into()),
        ("items-0-data_type", "text".into()),
        ("items-0-length", "18".into()),
        ("items-0-personal", "on".into()),
        ("items-0-semantic_type", "id_number".into()),
        ("items-1-name", String::new()),
        ("items-1-label", String::new()),
    ];
    let r = client
        .post(hub.url("/catalog/new"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("data-error-for=\"name\""));
    assert!(page.contains("data-error-for=\"legal_basis\""));
    assert!(
        page.contains("value=\"公民身份号码\""),
        "what was typed is kept"
    );

    form[1].1 = "户籍人口基本信息".into();
    form.push((
        "legal_basis",
        "《中华人民共和国人民警察法》第二十二条".into(),
    ));
    let r = client
        .post(hub.url("/catalog/new"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, "/catalog/r/101001-370200GA-00001");
    let page = client
        .get(hub.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("户籍人口基本信息") && page.contains("data-status=\"draft\""));
    assert!(page.contains("id=\"submit\""), "the owner may submit");
    assert!(!page.contains("id=\"publish\""), "only the hub reviews");
}

#[tokio::test]
async fn review_queue_and_import_pages() {
    let hub = Hub::start().await;
    let code = hub.register(&hub.ga_key, &resource("机动车登记信息")).await;
    hub.client
        .post(hub.url(&format!("/api/v1/catalog/resources/{code}/submit")))
        .bearer_auth(&hub.ga_key)
        .send()
        .await
        .unwrap();
    let (client, _) = login(&hub, "admin", PASSWORD).await;
    let page = client
        .get(hub.url("/review"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&code));
    let csrf = extract(&page, "name=\"csrf\" value=\"").to_string();
    let r = client
        .post(hub.url(&format!("/catalog/r/{code}/publish")))
        .header("referer", hub.url("/review"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/review");
    let page = client
        .get(hub.url("/review"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains(&code));
    // The viewer has no review queue.
    let (viewer, _) = login(&hub, "mz.viewer", PASSWORD).await;
    assert_eq!(
        viewer
            .get(hub.url("/review"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    // Import page: a broken upload is reported on the page, nothing imported.
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"not excel".to_vec()).file_name("x.xlsx"),
        );
    let page = client
        .post(hub.url("/import"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-result=\"failed\""), "{page}");
}

#[tokio::test]
async fn every_page_renders_with_real_entries() {
    let hub = Hub::start().await;
    let mut long = resource("户籍人口基本信息");
    long["summary"] = serde_json::json!("很长的摘要".repeat(60));
    let code = hub.register(&hub.ga_key, &long).await;
    hub.publish(&hub.ga_key, &code).await;
    let mut negative = resource("在逃人员信息");
    negative["share_type"] = serde_json::json!("不予共享");
    negative["legal_basis"] = serde_json::json!("《中华人民共和国刑事诉讼法》第一百五十五条");
    let neg = hub.register(&hub.ga_key, &negative).await;
    hub.publish(&hub.ga_key, &neg).await;
    let draft = hub.register(&hub.ga_key, &resource("机动车登记信息")).await;
    for (user, lang) in [("admin", "zh"), ("ga.officer", "en")] {
        let (client, _) = login(&hub, user, PASSWORD).await;
        client
            .get(hub.url(&format!("/lang/{lang}")))
            .send()
            .await
            .unwrap();
        for path in [
            "/catalog".to_string(),
            "/catalog?q=户籍&share_type=conditional".to_string(),
            format!("/catalog/r/{code}"),
            format!("/catalog/r/{neg}"),
            format!("/catalog/r/{draft}"),
            format!("/catalog/r/{draft}/edit"),
            "/catalog/new".to_string(),
            "/negative-list".to_string(),
            "/lists/aggregation".to_string(),
            "/lists/sharing".to_string(),
            "/lists/open".to_string(),
            "/departments".to_string(),
            "/import".to_string(),
        ] {
            let r = client.get(hub.url(&path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{user} {path}");
            let html = r.text().await.unwrap();
            assert!(
                html.contains("</html>") && !html.contains("template error"),
                "{user} {path}"
            );
        }
        let r = client
            .get(hub.url("/lists/open.xlsx"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = client.get(hub.url("/export.xlsx")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let (admin, _) = login(&hub, "admin", PASSWORD).await;
    let html = admin
        .get(hub.url("/catalog"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("很长的摘要很长的摘要") && html.contains('…'),
        "long summaries are shortened"
    );
    assert!(admin.get(hub.url("/review")).send().await.unwrap().status() == StatusCode::OK);
}

/// The workbench, the new list pages with their filters, paging and exports, the audit entry
/// page and error pages inside the layout.
#[tokio::test]
async fn the_workbench_lists_exports_and_error_pages() {
    let hub = Hub::start().await;
    let code = hub
        .register(&hub.ga_key, &resource("户籍人口基本信息"))
        .await;
    hub.publish(&hub.ga_key, &code).await;
    for (user, paths) in [
        (
            "admin",
            vec![
                "/",
                "/loads",
                "/loads?status=failed&q=GA",
                "/sharing",
                "/sharing/requests",
                "/sharing/grants",
                "/sharing/demands?state=open&page=2",
                "/quality",
                "/quality/tickets?show=all",
                "/audit",
                "/audit/flows?days=7",
                "/sql",
            ],
        ),
        (
            "ga.officer",
            vec![
                "/",
                "/loads",
                "/sharing/requests",
                "/sharing/demands",
                "/quality/tickets",
            ],
        ),
    ] {
        let (client, _) = login(&hub, user, PASSWORD).await;
        for path in paths {
            let r = client.get(hub.url(path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{user} {path}");
            let html = r.text().await.unwrap();
            assert!(
                html.contains("class=\"sidenav\"") && html.contains("</html>"),
                "{user} {path}: inside the layout"
            );
        }
    }
    let (admin, _) = login(&hub, "admin", PASSWORD).await;
    // The workbench shows what waits for the hub, and the city's figures.
    let home = admin
        .get(hub.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("id=\"queues\"") && home.contains("data-queue=\"wb_reviews\""));
    // Times are Beijing time in one format: the publication's audit entry is listed with a
    // date and time, never an RFC 3339 instant.
    let audit = admin
        .get(hub.url("/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!audit.contains("+08:00</td>") && audit.contains("<time datetime="));
    // A filtered export holds the filtered rows: CSV with a byte-order mark for Excel.
    let r = admin
        .get(hub.url("/sharing/demands?state=answered&format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    assert_eq!(
        String::from_utf8_lossy(&bytes[3..]).lines().count(),
        1,
        "the heading only: no demand is answered"
    );
    // The catalog export follows the search.
    let all = admin.get(hub.url("/export.xlsx")).send().await.unwrap();
    assert_eq!(all.status(), StatusCode::OK);
    let none = admin
        .get(hub.url("/export.xlsx?q=不存在的资源名称xyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::OK);
    assert!(none.bytes().await.unwrap().len() < all.bytes().await.unwrap().len());
    // An audit entry opens as a page with its proof; a wrong number is a 404 in the layout.
    let r = admin.get(hub.url("/audit/entries/0")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("id=\"entry-facts\""));
    for path in ["/audit/entries/abc", "/catalog/r/999999-370200XX-99999"] {
        let r = admin.get(hub.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("id=\"problem\"") && html.contains("class=\"sidenav\""),
            "{path}"
        );
    }
    // A department's officer does not get the hub's SQL page: refused inside the layout.
    let (officer, _) = login(&hub, "ga.officer", PASSWORD).await;
    let r = officer.get(hub.url("/sql")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("id=\"problem\""));
}

#[tokio::test]
async fn the_hub_manages_users_and_application_keys_in_the_console() {
    let hub = Hub::start().await;
    let (admin, _) = login(&hub, "admin", PASSWORD).await;
    let page = admin
        .get(hub.url("/admin/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = extract(&page, "name=\"csrf\" value=\"").to_string();

    // A weak password is refused at its field; a good one creates a user who can sign in.
    let mut form = vec![
        ("csrf", csrf.clone()),
        ("login", "mz.officer".into()),
        ("display_name", "民政管理员".into()),
        ("role", "data_officer".into()),
        ("department", "370200MZ".into()),
        ("password", "123".into()),
    ];
    let r = admin
        .post(hub.url("/admin/users"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("data-error-for=\"password\"")
    );
    form[5].1 = "Minzheng-2026".into();
    let r = admin
        .post(hub.url("/admin/users"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("id=\"user-created\""));
    let (_, r) = login(&hub, "mz.officer", "Minzheng-2026").await;
    assert_eq!(r.headers()["location"], "/catalog");

    // An application key is shown once and works at once; revoked, it stops working.
    let form = [
        ("csrf", csrf.as_str()),
        ("id", "mz-system"),
        ("name", "社会救助系统"),
        ("role", "data_officer"),
        ("department", "370200MZ"),
    ];
    let page = admin
        .post(hub.url("/admin/applications"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = page
        .split("id=\"api-key\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert!(key.starts_with("snk_"));
    assert_eq!(hub.get(&key, "/api/v1/me").await.status(), StatusCode::OK);
    let listing = admin
        .get(hub.url("/admin/applications"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listing.contains("mz-system") && !listing.contains(&key),
        "the key is never shown again"
    );
    let r = admin
        .post(hub.url("/admin/applications/mz-system/revoke"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        hub.get(&key, "/api/v1/me").await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Only the hub administers.
    let (officer, _) = login(&hub, "ga.officer", PASSWORD).await;
    assert_eq!(
        officer
            .get(hub.url("/admin/users"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        officer
            .get(hub.url("/admin/applications"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_login() {
    let hub = Hub::start().await;
    for _ in 0..shuniu_auth::accounts::MAX_FAILURES {
        let (_, r) = login(&hub, "ga.officer", "wrong-password-1").await;
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .contains("failed=1")
        );
    }
    // Now even the right password is refused, and the page says why.
    let (client, r) = login(&hub, "ga.officer", PASSWORD).await;
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("locked=1"), "{location}");
    let page = client
        .get(hub.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"login-locked\""));
    // Other logins are unaffected; names that do not exist lock the same way, revealing nothing.
    let (_, r) = login(&hub, "admin", PASSWORD).await;
    assert_eq!(r.headers()["location"], "/catalog");
    for _ in 0..shuniu_auth::accounts::MAX_FAILURES {
        login(&hub, "nobody", "x").await;
    }
    let (_, r) = login(&hub, "nobody", "x").await;
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("locked=1")
    );
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let hub = Hub::start().await;
    for path in ["/login", "/healthz", "/api/v1/me", "/static/console.js"] {
        let r = hub.client.get(hub.url(path)).send().await.unwrap();
        let h = r.headers();
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'"),
            "{path}"
        );
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    }
}
