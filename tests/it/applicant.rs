//! The applicant's own page for integrated services (`/my-services`), over HTTP as a phone's
//! browser uses it: signed in, the service chosen, the form refused whole (a missing upload, a
//! file that is no image, no e-licence held), then sent with its uploads; the department reads
//! the upload, approves, and the licence the step issues reaches the applicant's case page as
//! a document; a correction asked for and made with a new upload; the rating. Then, holding the
//! licence the first case issued, the applicant's second application needs no paper for it.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::cases::PNG;
use crate::harness::{Hub, json_of};
use crate::licences::type_code;
use crate::sharing::{V1, load, published, register_spec};

const HOLDER: &str = "370202199003070011";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

async fn text(client: &reqwest::Client, hub: &Hub, path: &str) -> String {
    let r = client.get(hub.url(path)).send().await.unwrap();
    r.text().await.unwrap()
}

/// The CSRF token of the page at `path`.
async fn token(client: &reqwest::Client, hub: &Hub, path: &str) -> String {
    let html = text(client, hub, path).await;
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker).expect("a CSRF field") + marker.len();
    html[at..at + 64].to_string()
}

async fn send(
    client: &reqwest::Client,
    hub: &Hub,
    path: &str,
    form: Form,
) -> (StatusCode, String, String) {
    let r = client
        .post(hub.url(path))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let at = r.url().path().to_string();
    (status, at, r.text().await.unwrap())
}

fn file(name: &str, bytes: &[u8]) -> Part {
    Part::bytes(bytes.to_vec()).file_name(name.to_string())
}

#[tokio::test]
async fn an_applicant_applies_online_and_receives_the_licence_the_case_issues() {
    let hub = Hub::start().await;
    // The police's register and its licence type (户籍证明), sealed by the police.
    let register = published(&hub, &register_spec("户籍人口信息", "有条件共享")).await;
    load(&hub, &register, V1).await;
    let code = type_code();
    let (s, t) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/licences/types",
            &json!({
                "code": code, "name": "户籍证明", "definer": "370200GA", "issuers": ["370200GA"],
                "resource_code": register, "holder_item": "id_number", "holder_name_item": "name",
                "fields": [["address", "住址"]]
            }),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let (s, seal) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/licences/seals",
            &json!({"department": "370200GA"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{seal}");
    let def = json!({
        "code": "SVC-HUJI", "name": "迁入落户一件事", "deadline_days": 5,
        "trigger": {"kind": "application", "applicant": "person"},
        "fields": [
            {"name": "reason", "label": "迁入原因", "required": true, "choices": ["工作", "投靠"]},
            {"name": "address", "label": "落户地址", "required": true}
        ],
        "materials": [
            {"code": "proof", "name": "户籍证明", "by": "licence", "licence_type": code},
            {"code": "photo", "name": "本人照片", "by": "upload"}
        ],
        "steps": [
            {"id": "register", "name": "落户登记", "department": "370200GA", "deadline_days": 3,
             "materials": ["proof", "photo"], "issues": {"licence_type": code}},
            {"id": "card", "name": "换领社保卡", "department": "370200GA", "deadline_days": 2,
             "after": ["register"]}
        ]
    });
    let (s, v) = json_of(
        hub.put(&hub.operator_key, "/api/v1/cases/services/SVC-HUJI", &def)
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Signed in (the demo's simulated sign-in), back on the services page.
    let phone = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = token(&phone, &hub, "/my-services").await;
    let r = phone
        .post(hub.url("/my-data/login"))
        .form(&[
            ("name", "张三"),
            ("id_number", HOLDER),
            ("csrf", &csrf),
            ("next", "/my-services"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.url().path(), "/my-services");
    let html = r.text().await.unwrap();
    assert!(html.contains("data-service=\"SVC-HUJI\""), "{html}");
    assert!(html.contains("id=\"no-cases\""), "{html}");

    // The form: no 户籍证明 held yet, so it asks for an upload.
    let page = text(&phone, &hub, "/my-services/SVC-HUJI").await;
    assert!(
        page.contains("data-material=\"proof\" data-by=\"missing_licence\""),
        "{page}"
    );
    assert!(page.contains("name=\"material:photo\""), "{page}");

    // Refused whole: nothing uploaded, and an executable for the photo.
    let csrf = token(&phone, &hub, "/my-services/SVC-HUJI").await;
    let (s, _, html) = send(
        &phone,
        &hub,
        "/my-services/SVC-HUJI",
        Form::new()
            .text("csrf", csrf.clone())
            .text("reason", "工作")
            .text("address", "市南区香港中路1号"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("id=\"apply-error\""), "{html}");
    assert!(html.contains("请上传“本人照片”"), "{html}");
    assert!(
        html.contains("您名下没有有效的“户籍证明”电子证照"),
        "{html}"
    );
    assert!(
        html.contains("value=\"市南区香港中路1号\""),
        "the form comes back as typed"
    );
    let (_, _, html) = send(
        &phone,
        &hub,
        "/my-services/SVC-HUJI",
        Form::new()
            .text("csrf", csrf.clone())
            .text("reason", "工作")
            .text("address", "市南区香港中路1号")
            .part("material:photo", file("photo.exe", b"MZ\x90\x00program"))
            .part("material:proof", file("证明.pdf", PDF)),
    )
    .await;
    assert!(html.contains("只接受 PDF、OFD、JPEG 或 PNG 文件"), "{html}");
    let (_, cases) = json_of(
        hub.get(&hub.operator_key, "/api/v1/cases?service=SVC-HUJI")
            .await,
    )
    .await;
    assert_eq!(
        cases.as_array().map(Vec::len),
        Some(0),
        "nothing opened: {cases}"
    );
    // A form without the page's token is not read.
    let (s, _, _) = send(
        &phone,
        &hub,
        "/my-services/SVC-HUJI",
        Form::new()
            .text("csrf", "0".repeat(64))
            .text("reason", "工作"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Sent with its uploads: the case page.
    let (s, at, html) = send(
        &phone,
        &hub,
        "/my-services/SVC-HUJI",
        Form::new()
            .text("csrf", csrf.clone())
            .text("reason", "工作")
            .text("address", "市南区香港中路1号")
            .part("material:photo", file("我的照片.png", PNG))
            .part("material:proof", file("证明.pdf", PDF)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{html}");
    let id = at
        .strip_prefix("/my-services/cases/")
        .expect("the case page")
        .to_string();
    assert!(
        html.contains("data-step=\"register\" data-state=\"ready\""),
        "{html}"
    );
    assert!(html.contains("我的照片.png"), "{html}");

    // The police read the photo (on the applicant's record); another department does not.
    let r = hub
        .get(&hub.ga_key, &format!("/api/v1/cases/{id}/materials/photo"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()[reqwest::header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    let r = hub
        .get(&hub.mz_key, &format!("/api/v1/cases/{id}/materials/photo"))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Approved: the step is issuing, then done with the licence issued from the register.
    let (s, v) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/cases/{id}/steps/register/decision"),
            &json!({"decision": "approve", "note": "准予落户"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let step = |v: &serde_json::Value, step: &str| {
        v["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|x| x["step"] == step))
            .map(|x| x["state"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(step(&v, "register"), "issuing", "{v}");
    let cases = hub.engines.cases.clone();
    let mut detail = v;
    for _ in 0..100 {
        cases.run_jobs().await.expect("jobs");
        let (_, d) = json_of(hub.get(&hub.ga_key, &format!("/api/v1/cases/{id}")).await).await;
        detail = d;
        if step(&detail, "register") == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(step(&detail, "register"), "done", "{detail}");
    assert_eq!(step(&detail, "card"), "ready", "{detail}");
    let results = detail["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), 1, "{detail}");
    assert_eq!(results[0]["type_code"], code.as_str());
    assert_eq!(results[0]["holder_name"], "张三");
    let licence = results[0]["licence_id"].as_str().unwrap().to_string();
    assert!(
        !detail["form"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with('@')),
        "the hub's own keys stay out of the form: {detail}"
    );

    // On the applicant's page: the result and its document; not for another person.
    let html = text(&phone, &hub, &format!("/my-services/cases/{id}")).await;
    assert!(
        html.contains(&format!("data-licence=\"{licence}\"")),
        "{html}"
    );
    let r = phone
        .get(hub.url(&format!("/my-services/cases/{id}/results/{licence}.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF-"));
    let r = phone
        .get(hub.url(&format!("/my-services/cases/{id}/materials/photo")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG, "their own upload");
    let stranger = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf_other = token(&stranger, &hub, "/my-services").await;
    let r = stranger
        .post(hub.url("/my-data/login"))
        .form(&[
            ("name", "王五"),
            ("id_number", "370203197001010039"),
            ("csrf", &csrf_other),
            ("next", "//evil.example/my-services"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.url().path(),
        "/my-data",
        "another site's next is not followed"
    );
    for path in [
        format!("/my-services/cases/{id}"),
        format!("/my-services/cases/{id}/results/{licence}.pdf"),
        format!("/my-services/cases/{id}/materials/photo"),
    ] {
        let r = stranger.get(hub.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // 补正: the card step asks for a new photo; the applicant sends one from the case page.
    let (s, v) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/cases/{id}/steps/card/decision"),
            &json!({"decision": "return", "note": "照片不清晰，请重新上传"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let case_path = format!("/my-services/cases/{id}");
    let csrf = token(&phone, &hub, &case_path).await;
    let html = text(&phone, &hub, &case_path).await;
    assert!(html.contains("照片不清晰，请重新上传"), "{html}");
    let (_, at, _) = send(
        &phone,
        &hub,
        &case_path,
        Form::new()
            .text("csrf", csrf.clone())
            .text("action", "resubmit")
            .text("reason", "工作")
            .text("address", "市南区香港中路1号")
            .part(
                "material:photo",
                file("新照片.jpg", b"\xff\xd8\xff\xe0 a jpeg"),
            ),
    )
    .await;
    assert_eq!(at, case_path);
    let r = hub
        .get(&hub.ga_key, &format!("/api/v1/cases/{id}/materials/photo"))
        .await;
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        b"\xff\xd8\xff\xe0 a jpeg"
    );
    let (s, _) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/cases/{id}/steps/card/decision"),
            &json!({"decision": "approve"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // Completed: rated once from the page.
    let (_, _, html) = send(
        &phone,
        &hub,
        &case_path,
        Form::new()
            .text("csrf", csrf.clone())
            .text("action", "rate")
            .text("rating", "4")
            .text("note", "不用跑腿"),
    )
    .await;
    assert!(html.contains("id=\"my-rating\""), "{html}");
    let (_, stats) = json_of(hub.get(&hub.operator_key, "/api/v1/cases/stats").await).await;
    let mine = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "SVC-HUJI")
        .expect("stats")
        .clone();
    assert_eq!(
        (mine["completed"].as_i64(), mine["rating"].as_f64()),
        (Some(1), Some(4.0)),
        "{mine}"
    );

    // Holding the licence now, the second application needs no paper for it.
    let page = text(&phone, &hub, "/my-services/SVC-HUJI").await;
    assert!(
        page.contains("data-material=\"proof\" data-by=\"licence\""),
        "{page}"
    );
    let (_, at, html) = send(
        &phone,
        &hub,
        "/my-services/SVC-HUJI",
        Form::new()
            .text("csrf", csrf)
            .text("reason", "投靠")
            .text("address", "市南区香港中路1号")
            .part("material:photo", file("照片.png", PNG)),
    )
    .await;
    assert!(at.starts_with("/my-services/cases/"), "{html}");
    let html = text(&phone, &hub, "/my-services").await;
    assert_eq!(html.matches("data-case=\"").count(), 2, "{html}");
}
