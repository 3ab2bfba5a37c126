//! Hostile tenants: application B (教育局's system, no grant) tries to reach what application A
//! (民政's system) was granted and holds — records, verification, A's comparison job and its
//! result, the change feed, A's subscription and its deliveries, extracts, SQL, previews,
//! quality samples, A's request and the audit entries of A's calls — through every path the
//! API offers. Every attempt is refused (403, or 404 where the policy hides that a thing
//! exists), no refusal carries A's data or A's identifiers, and the data-service attempts are
//! in the audit log under B's name.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Hub, json_of};
use crate::sharing::{V1, load, published, register_spec, request};

#[tokio::test]
async fn another_tenant_reaches_nothing_of_a_grant_it_does_not_hold() {
    let hub = Hub::start().await;
    let code = published(&hub, &register_spec("户籍人口基本信息", "有条件共享")).await;
    load(&hub, &code, V1).await;

    // A: 民政's system, granted by 公安.
    let (s, req) = json_of(
        hub.post(
            &hub.mz_key,
            "/api/v1/sharing/requests",
            &request(&code, "mz"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    let req_id = req["id"].as_str().unwrap().to_string();
    let (s, decided) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/sharing/requests/{req_id}/decision"),
            &json!({"approve": true, "reason": "同意"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    let grant_id = decided["grant_id"].as_str().unwrap().to_string();
    // A's own calls work, and leave things for B to go after.
    let (s, _) = json_of(
        hub.get(
            &hub.mz_key,
            &format!("/api/v1/services/{code}/records/370202199003070011"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let r = hub
        .client
        .post(hub.url(&format!("/api/v1/services/{code}/comparisons")))
        .bearer_auth(&hub.mz_key)
        .header("content-type", "text/csv")
        .body("id_number\n370202199003070011\n")
        .send()
        .await
        .unwrap();
    let (s, job) = json_of(r).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    let job_id = job["id"].as_str().unwrap().to_string();
    hub.sharing.allow_webhook_hosts(vec!["127.0.0.1".into()]);
    let (s, sub) = json_of(
        hub.post(
            &hub.mz_key,
            &format!("/api/v1/services/{code}/subscriptions"),
            &json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let sub_id = sub["id"].as_str().unwrap().to_string();
    let (_, entries) = json_of(
        hub.get(
            &hub.operator_key,
            "/api/v1/audit/search?principal=app:mz&limit=5",
        )
        .await,
    )
    .await;
    let a_entry = entries[0]["idx"].as_u64().expect("A's calls are audited");

    // B: 教育局's system, a data officer's application without any grant.
    let (s, _) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/departments",
            &json!({"code": "370200JY", "name": "青岛市教育局", "short_name": "教育", "division": "370200"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/applications",
            &json!({"id": "jy-other", "name": "教育业务系统", "department": "370200JY", "role": "data_officer"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let b_key = b["key"].as_str().unwrap().to_string();

    let secrets = [
        "张三",
        "13812345678",
        "社会救助对象户籍核查",
        grant_id.as_str(),
        "\"mz\"",
        "app:mz",
    ];
    let mut attempts: Vec<(String, StatusCode, String)> = Vec::new();
    let mut try_get = async |path: String| {
        let r = hub.get(&b_key, &path).await;
        let s = r.status();
        attempts.push((path, s, r.text().await.unwrap_or_default()));
    };
    try_get(format!(
        "/api/v1/services/{code}/records/370202199003070011"
    ))
    .await;
    try_get(format!("/api/v1/services/{code}/changes")).await;
    try_get(format!("/api/v1/services/{code}/extract?format=csv")).await;
    try_get(format!("/api/v1/services/comparisons/{job_id}")).await;
    try_get(format!("/api/v1/services/comparisons/{job_id}/result")).await;
    try_get(format!(
        "/api/v1/services/subscriptions/{sub_id}/deliveries"
    ))
    .await;
    try_get(format!("/api/v1/datasets/{code}/preview?purpose=x")).await;
    try_get(format!("/api/v1/sharing/requests/{req_id}")).await;
    try_get(format!("/api/v1/audit/entries/{a_entry}")).await;
    let mut try_send = async |method: &str, path: String, body: Value| {
        let builder = match method {
            "DELETE" => hub.client.delete(hub.url(&path)),
            _ => hub.client.post(hub.url(&path)),
        };
        let r = builder
            .bearer_auth(&b_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status();
        attempts.push((
            format!("{method} {path}"),
            s,
            r.text().await.unwrap_or_default(),
        ));
    };
    try_send(
        "POST",
        format!("/api/v1/services/{code}/verify"),
        json!({"key": "370202199003070011", "claims": {"name": "张三"}}),
    )
    .await;
    try_send(
        "DELETE",
        format!("/api/v1/services/subscriptions/{sub_id}"),
        json!({}),
    )
    .await;
    try_send(
        "POST",
        format!("/api/v1/sharing/grants/{grant_id}/revoke"),
        json!({"reason": "x"}),
    )
    .await;
    try_send(
        "POST",
        "/api/v1/sql".into(),
        json!({"sql": format!("SELECT * FROM \"{code}\"")}),
    )
    .await;
    try_send(
        "POST",
        format!("/api/v1/services/{code}/subscriptions"),
        json!({"url": "http://127.0.0.1:9/steal"}),
    )
    .await;
    // A subscription of B's own on A's grant is refused too: B names a grant it does not hold.
    for (what, status, body) in &attempts {
        assert!(
            status == &StatusCode::FORBIDDEN || status == &StatusCode::NOT_FOUND,
            "{what}: {status} {body}"
        );
        for secret in secrets {
            assert!(!body.contains(secret), "{what} leaks {secret}: {body}");
        }
    }
    // A published resource's quality report is the city's to see, but its failing rows are
    // the provider's: B gets the scores without samples.
    let (s, q) = json_of(
        hub.get(
            &b_key,
            &format!("/api/v1/quality/resources/{code}?samples=true"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(q["samples_included"], false, "{q}");
    for secret in secrets {
        assert!(
            !q.to_string().contains(secret),
            "the quality report leaks {secret}"
        );
    }
    // A's things are untouched: the subscription and the grant still stand.
    let (_, subs) = json_of(hub.get(&hub.mz_key, "/api/v1/services/subscriptions").await).await;
    assert!(
        subs.as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == sub_id.as_str() && s["active"] == true),
        "{subs}"
    );
    // The data-service attempts are in the audit log, under B's name, refused.
    let (_, b_entries) = json_of(
        hub.get(
            &hub.operator_key,
            "/api/v1/audit/search?principal=app:jy-other&limit=100",
        )
        .await,
    )
    .await;
    let refused = b_entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["result"] != "ok")
        .count();
    assert!(
        refused >= 4,
        "lookup, changes, extract and verify attempts are audited as refused: {b_entries}"
    );
}

/// A data officer of another department (卫健委) signed in to the console walks the console's
/// URLs with ids guessed or copied from elsewhere: 公安's draft entry, its load and rejected
/// rows, its quality page and tickets, 民政's request to 公安 and the grant that came of it,
/// and the audit entries of 民政's calls. Every page is refused (403, or 404 where the policy
/// hides that a thing exists) without any of their data or identifiers, and the revocation
/// form changes nothing.
#[tokio::test]
async fn console_urls_with_guessed_ids_show_nothing_of_another_department() {
    let hub = Hub::start().await;
    let code = published(&hub, &register_spec("户籍人口基本信息", "有条件共享")).await;
    // A load with a rejected row (a bad ID number) that names a person.
    let r = hub
        .client
        .post(hub.url(&format!(
            "/api/v1/datasets/{code}/loads?filename=x.csv&wait=true&max_rejects=0.5"
        )))
        .bearer_auth(&hub.ga_key)
        .body(format!(
            "{V1}37020219900307001X,赵拒绝,13900000000,370202,市南区拒绝路1号,多出一列\n"
        ))
        .send()
        .await
        .unwrap();
    let (s, l) = json_of(r).await;
    assert_eq!(s, StatusCode::OK, "{l}");
    let load_id = l["id"].as_str().unwrap().to_string();
    hub.sharing.sync_index(&code).await.expect("index");
    // 公安's draft, never submitted.
    let (s, draft) = json_of(
        hub.post(
            &hub.ga_key,
            "/api/v1/catalog/resources",
            &register_spec("在逃人员比对名单", "不予共享"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{draft}");
    let draft_code = draft["code"].as_str().unwrap().to_string();
    // 民政's request, decided into a grant; 民政's calls leave audit entries.
    let (_, req) = json_of(
        hub.post(
            &hub.mz_key,
            "/api/v1/sharing/requests",
            &request(&code, "mz"),
        )
        .await,
    )
    .await;
    let req_id = req["id"].as_str().unwrap().to_string();
    let (_, decided) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/sharing/requests/{req_id}/decision"),
            &json!({"approve": true, "reason": "同意"}),
        )
        .await,
    )
    .await;
    let grant_id = decided["grant_id"].as_str().unwrap().to_string();
    let (s, _) = json_of(
        hub.get(
            &hub.mz_key,
            &format!("/api/v1/services/{code}/records/370202199003070011"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, entries) = json_of(
        hub.get(
            &hub.operator_key,
            "/api/v1/audit/search?principal=app:mz&limit=5",
        )
        .await,
    )
    .await;
    let entry = entries[0]["idx"]
        .as_u64()
        .expect("民政's calls are audited");
    let (_, tickets) = json_of(
        hub.get(
            &hub.operator_key,
            &format!("/api/v1/quality/tickets?resource={code}"),
        )
        .await,
    )
    .await;
    let ticket = tickets
        .as_array()
        .and_then(|t| t.first())
        .and_then(|t| t["id"].as_str())
        .map(String::from);

    let (client, r) = crate::console::login(&hub, "wj.officer", crate::harness::PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let secrets = [
        "张三",
        "赵拒绝",
        "13812345678",
        "社会救助对象户籍核查",
        "在逃人员比对名单",
        grant_id.as_str(),
    ];
    let mut paths = vec![
        format!("/catalog/r/{draft_code}"),
        format!("/catalog/r/{draft_code}/edit"),
        format!("/quality/r/{draft_code}"),
        format!("/loads/{load_id}"),
        format!("/loads/{load_id}/rejects.csv"),
        format!("/sharing/requests/{req_id}"),
        format!("/audit/entries/{entry}"),
    ];
    if let Some(t) = &ticket {
        paths.push(format!("/quality/tickets/{t}"));
    }
    // The pages exist: the hub operator sees each of them.
    let (operator, _) = crate::console::login(&hub, "admin", crate::harness::PASSWORD).await;
    for path in &paths {
        let r = operator.get(hub.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path} for the operator");
    }
    for path in &paths {
        let r = client.get(hub.url(path)).send().await.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert!(
            matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{path}: {status}"
        );
        for s in secrets {
            assert!(!body.contains(s), "{path} shows {s}");
        }
    }
    // The revocation form with the officer's own valid CSRF token: refused, the grant stands.
    let page = client
        .get(hub.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::console::extract(&page, "name=\"csrf\" value=\"").to_string();
    let r = client
        .post(hub.url(&format!("/sharing/grants/{grant_id}/revoke")))
        .form(&[("csrf", csrf.as_str()), ("reason", "越权撤销")])
        .send()
        .await
        .unwrap();
    assert!(
        matches!(r.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{}",
        r.status()
    );
    let (s, _) = json_of(
        hub.get(
            &hub.mz_key,
            &format!("/api/v1/services/{code}/records/370202199003070011"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "民政's grant still works");
}

/// A member of the public registers on the portal, applies for `name` and, once the provider
/// approves, takes the application's token. Returns the signed-in portal client, its form
/// token, the application id and the data token.
async fn portal_applicant(
    hub: &Hub,
    login: &str,
    name: &str,
) -> (reqwest::Client, String, String, String) {
    use crate::open::{csrf_of, officer};
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser
        .get(hub.url("/open/register"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&page);
    let r = browser
        .post(hub.url("/open/register"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", login),
            ("password", "Passw0rd-long"),
            ("name", "研究者"),
            ("kind", "researcher"),
            ("org_name", "青岛大学"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = browser
        .post(hub.url(&format!("/open/dataset/{name}/apply")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("purpose", "研究低保救助金额的区域分布"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let account = browser
        .get(hub.url("/open/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = account.find("data-application=\"").unwrap() + 18;
    let app_id = account[at..].split('"').next().unwrap().to_string();
    hub.open
        .decide_application(&officer(), &app_id, true, "")
        .await
        .unwrap();
    let page = browser
        .post(hub.url(&format!("/open/account/token/{app_id}")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("id=\"token-value\">").expect("token shown") + 17;
    let token = page[at..].split('<').next().unwrap().to_string();
    (browser, csrf, app_id, token)
}

/// Two members of the public, each with a token for one conditionally open dataset: neither
/// token opens the other dataset (CKAN datastore calls, downloads), and neither person can see
/// or mint the other's token from the portal.
#[tokio::test]
async fn an_open_data_token_opens_only_its_own_dataset() {
    use crate::open::{RELIEF, load, published, relief_spec, wait_version};
    let hub = Hub::start().await;
    let x = published(&hub, &relief_spec()).await;
    let mut other = relief_spec();
    other["name"] = json!("低保救助对象统计明细（区级）");
    let y = published(&hub, &other).await;
    load(&hub, &x, RELIEF).await;
    load(&hub, &y, RELIEF).await;
    let (xn, yn) = (x.to_lowercase(), y.to_lowercase());
    wait_version(&hub, &xn, "0").await;
    wait_version(&hub, &yn, "0").await;
    let (_, _, _, token_a) = portal_applicant(&hub, "a@example.org", &xn).await;
    let (browser_b, csrf_b, app_b, token_b) = portal_applicant(&hub, "b@example.org", &yn).await;

    let datastore = async |token: &str, name: &str| {
        let r = hub
            .client
            .post(hub.url("/api/3/action/datastore_search"))
            .header("Authorization", token)
            .json(&json!({"resource_id": name}))
            .send()
            .await
            .unwrap();
        json_of(r).await
    };
    // Each token opens its own dataset …
    assert_eq!(datastore(&token_a, &xn).await.0, StatusCode::OK);
    assert_eq!(datastore(&token_b, &yn).await.0, StatusCode::OK);
    // … and not the other's.
    for (token, name) in [(&token_a, &yn), (&token_b, &xn)] {
        let (s, r) = datastore(token, name).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
        assert_eq!(r["error"]["__type"], "Authorization Error", "{r}");
        assert!(!r.to_string().contains("市北区"), "{r}");
        let dl = hub
            .client
            .get(hub.url(&format!("/open/dataset/{name}/download.csv?token={token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(dl.status(), StatusCode::FORBIDDEN);
        let r = hub
            .client
            .get(hub.url("/api/3/action/datastore_search_sql"))
            .query(&[("sql", format!("SELECT * FROM \"{name}\""))])
            .header("Authorization", token.as_str())
            .send()
            .await
            .unwrap();
        assert!(
            matches!(
                r.status(),
                StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST
            ),
            "datastore_search_sql: {}",
            r.status()
        );
        assert!(!r.text().await.unwrap().contains("800.5"));
    }
    // B, signed in to the portal, goes after A's application: its token is neither shown nor
    // minted anew for B.
    let account_a_app = {
        let apps = hub
            .open
            .applications_for(&crate::open::officer())
            .await
            .unwrap();
        apps.into_iter()
            .find(|a| a.id != app_b)
            .expect("A's application")
            .id
    };
    let r = browser_b
        .post(hub.url(&format!("/open/account/token/{account_a_app}")))
        .form(&[("csrf", csrf_b.as_str())])
        .send()
        .await
        .unwrap();
    let status = r.status();
    let page = r.text().await.unwrap();
    assert!(
        matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{status}"
    );
    assert!(!page.contains("token-value"), "no token for B");
    assert_eq!(
        datastore(&token_a, &xn).await.0,
        StatusCode::OK,
        "A's token still works"
    );
}
