//! E-licences (电子证照) through the HTTP API: a licence type over a department's resource, the
//! department's e-seal, licences issued from its rows (and re-issued when a row changes), the
//! QR text verified online and offline, suspension, restoration and revocation reaching the
//! verifier through the status lists, and a seal's key rotated without breaking what it signed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::audit::search_until;
use crate::harness::{Hub, error_code, json_of};
use crate::sharing::{V1, load, published, register_spec};

/// The register after 钱七 moved.
const MOVED: &str = "id_number,name,mobile,district,address\n\
370202199003070011,张三,13812345678,370202,市南区香港中路1号\n\
370203197001010039,王五,13812345670,370203,市北区延安路3号\n\
370202198505120029,钱七,13712345678,370202,市南区宁夏路9号\n\
370202199003070054,孙八,13612345678,370202,市南区湛山路7号\n\
bad-number,错号,13700000001,370202,\n";

pub(crate) fn type_code() -> String {
    let definer =
        shuniu_types::CreditCode::compose("11", "370200".parse().unwrap(), "00000123").unwrap();
    format!("{definer}001")
}

async fn call(hub: &Hub, key: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    json_of(hub.post(key, path, body).await).await
}

async fn verify(hub: &Hub, qr: &str) -> Value {
    let r = hub
        .client
        .post(hub.url("/api/v1/licences/verify"))
        .json(&json!({ "qr": qr }))
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn holder_licence(hub: &Hub, id_number: &str) -> Value {
    let (s, v) = json_of(
        hub.get(&hub.ga_key, &format!("/api/v1/licences?holder={id_number}"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    list[0].clone()
}

/// A holder's current licence once `done` holds (the server issues from change logs by
/// itself, a moment after a load).
async fn until(hub: &Hub, id_number: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = holder_licence(hub, id_number).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{id_number}: {last}");
}

#[tokio::test]
async fn licences_are_issued_from_a_departments_data_and_verified_offline() {
    let hub = Hub::start().await;
    let register = published(&hub, &register_spec("户籍人口信息", "有条件共享")).await;
    load(&hub, &register, V1).await;
    let code = type_code();
    let spec = json!({
        "code": code, "name": "户籍证明", "definer": "370200GA", "issuers": ["370200GA"],
        "resource_code": register, "holder_item": "id_number", "holder_name_item": "name",
        "fields": [["address", "住址"], ["district", "行政区划"]], "validity_years": 1
    });
    // Types are the hub's to register; a department may not.
    let (s, _) = call(&hub, &hub.ga_key, "/api/v1/licences/types", &spec).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut wrong = spec.clone();
    wrong["holder_item"] = json!("address");
    let (s, e) = call(&hub, &hub.operator_key, "/api/v1/licences/types", &wrong).await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "LICENCE_TYPE_HOLDER"),
        "{e}"
    );
    let (s, t) = call(&hub, &hub.operator_key, "/api/v1/licences/types", &spec).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["code"], code.as_str());

    // No seal yet: nothing can be signed.
    let issue = format!("/api/v1/licences/types/{code}/issue");
    let (s, e) = call(&hub, &hub.ga_key, &issue, &json!({})).await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "LICENCE_NO_SEAL"),
        "{e}"
    );
    let (s, seal) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/licences/seals",
        &json!({"department": "370200GA"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{seal}");
    assert_eq!(seal["public_key"].as_str().unwrap().len(), 130);
    // Its GB/T 38540 structure, public, signed by the hub as the seal maker.
    let r = hub
        .client
        .get(hub.url(&format!(
            "/api/v1/licences/seals/{}/ses",
            seal["code"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ses = r.bytes().await.unwrap();
    let (_, trust) = json_of(
        hub.client
            .get(hub.url("/api/v1/licences/trust-list"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let maker = shuniu_licences::seal::SealPublicKey::from_hex(
        trust["trust_key"].as_str().unwrap(),
        shuniu_licences::seal::DEFAULT_SIGNER_ID,
    )
    .unwrap();
    assert_eq!(shuniu_licences::ses::verify(&ses, &maker), Ok(()));
    // 民政 does not issue the police's licences.
    let (s, _) = call(&hub, &hub.mz_key, &issue, &json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, r) = call(&hub, &hub.ga_key, &issue, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["rows_read"].as_u64(), r["issued"].as_u64()),
        (Some(4), Some(4)),
        "{r}"
    );

    let zhang = holder_licence(&hub, "370202199003070011").await;
    let id = zhang["id"].as_str().unwrap().to_string();
    assert!(id.parse::<shuniu_types::LicenceId>().is_ok(), "{id}");
    assert_eq!(zhang["holder_shown"], "370202********0011");
    assert_eq!(zhang["state"], "valid");
    let qr = zhang["qr_text"].as_str().unwrap().to_string();
    assert!(qr.starts_with("SNL1:"));

    // Online: valid, with what the face says.
    let v = verify(&hub, &qr).await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["licence"]["claims"]["hn"], "张三");
    assert_eq!(
        v["licence"]["claims"]["f"][0],
        json!(["住址", "市南区香港中路1号"])
    );
    // A changed character: not this licence.
    let mut tampered = qr.clone().into_bytes();
    let at = tampered.len() - 20;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let v = verify(&hub, &String::from_utf8(tampered).unwrap()).await;
    assert_eq!(v["valid"], false, "{v}");
    assert!(
        ["LICENCE_MALFORMED", "LICENCE_BAD_SIGNATURE"].contains(&v["code"].as_str().unwrap()),
        "{v}"
    );

    // Offline: the trust list and status lists fetched once, checked against the hub's key.
    let fetch = |path: &'static str| {
        let hub = &hub;
        async move {
            let r = hub.client.get(hub.url(path)).send().await.unwrap();
            let (s, v) = json_of(r).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v
        }
    };
    let trust = fetch("/api/v1/licences/trust-list").await;
    let root = shuniu_licences::seal::SealPublicKey::from_hex(
        trust["trust_key"].as_str().unwrap(),
        shuniu_licences::seal::DEFAULT_SIGNER_ID,
    )
    .unwrap();
    let signed =
        |v: Value| -> shuniu_licences::lists::Signed { serde_json::from_value(v).unwrap() };
    let offline = shuniu_licences::verify::Verifier::new(
        &root,
        &signed(trust.clone()),
        &[
            signed(fetch("/api/v1/licences/status/revocation").await),
            signed(fetch("/api/v1/licences/status/suspension").await),
        ],
    )
    .unwrap();
    let now = chrono::Utc::now();
    assert_eq!(offline.verify(&qr, now).unwrap().claims.holder_name, "张三");
    assert_eq!(
        offline
            .verify(&qr, now + chrono::Duration::hours(25))
            .unwrap_err(),
        shuniu_licences::Rejection::StatusStale,
        "offline past the lists' time to live"
    );

    // The W3C Verifiable Credential: the face as its subject, both status entries, a proof
    // by the issuing seal that the trust list's key verifies; another department gets nothing.
    let (s, vc) = json_of(
        hub.get(&hub.ga_key, &format!("/api/v1/licences/{id}/credential"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{vc}");
    assert_eq!(vc["@context"][0], "https://www.w3.org/ns/credentials/v2");
    assert_eq!(vc["credentialSubject"]["name"], "张三");
    assert_eq!(
        vc["credentialSubject"]["licence"]["identifier"],
        id.as_str()
    );
    assert_eq!(
        vc["credentialStatus"][0]["statusPurpose"], "revocation",
        "{vc}"
    );
    assert_eq!(
        vc["credentialStatus"][0]["statusListIndex"].as_str(),
        Some(
            offline
                .verify(&qr, now)
                .unwrap()
                .claims
                .status_index
                .to_string()
                .as_str()
        )
    );
    let method = vc["proof"]["verificationMethod"].as_str().unwrap();
    let kid = method.rsplit('#').next().unwrap();
    let list: shuniu_licences::lists::TrustList = signed(trust.clone()).open(&root).unwrap();
    let signer = list
        .seals
        .iter()
        .find(|s| s.kid == kid)
        .expect("the proof names a trusted seal");
    let seal_key =
        shuniu_licences::seal::SealPublicKey::from_hex(&signer.public_key, &signer.signer_id)
            .unwrap();
    assert_eq!(shuniu_licences::credential::verify(&vc, &seal_key), Ok(()));
    let mut forged = vc.clone();
    forged["credentialSubject"]["name"] = json!("李四");
    assert!(shuniu_licences::credential::verify(&forged, &seal_key).is_err());
    let (s, _) = json_of(
        hub.get(&hub.mz_key, &format!("/api/v1/licences/{id}/credential"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The licence document: a PDF with the credential attached, for the issuer only.
    let r = hub
        .client
        .get(hub.url(&format!("/api/v1/licences/{id}/document")))
        .bearer_auth(&hub.ga_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(
        pdf.windows(23).any(|w| w == b"licence-credential.json"),
        "the credential is attached"
    );
    let r = hub
        .client
        .get(hub.url(&format!("/api/v1/licences/{id}/document")))
        .bearer_auth(&hub.mz_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Suspended, restored, revoked: each reaches the verifier; a revoked licence stays so.
    let state = format!("/api/v1/licences/{id}/state");
    let (s, _) = call(
        &hub,
        &hub.mz_key,
        &state,
        &json!({"change": "suspend", "reason": "核查"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = call(
        &hub,
        &hub.ga_key,
        &state,
        &json!({"change": "suspend", "reason": " "}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "LICENCE_REASON")
    );
    let (s, l) = call(
        &hub,
        &hub.ga_key,
        &state,
        &json!({"change": "suspend", "reason": "户籍信息核查中"}),
    )
    .await;
    assert_eq!(
        (s, l["state"].as_str()),
        (StatusCode::OK, Some("suspended")),
        "{l}"
    );
    assert_eq!(verify(&hub, &qr).await["code"], "LICENCE_SUSPENDED");
    let (s, _) = call(
        &hub,
        &hub.ga_key,
        &state,
        &json!({"change": "restore", "reason": "核查完毕"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(verify(&hub, &qr).await["valid"], true);

    // The register changes: from its change log, 钱七's licence is re-issued as version 2 by
    // itself, and the old version stops verifying; a bulk issue afterwards finds nothing to do.
    let qian_v1 = holder_licence(&hub, "370202198505120029").await;
    load(&hub, &register, MOVED).await;
    let qian_v2 = until(&hub, "370202198505120029", |l| l["version"] == 2).await;
    let (s, r) = call(&hub, &hub.ga_key, &issue, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (
            r["reissued"].as_u64(),
            r["unchanged"].as_u64(),
            r["holders_invalid"].as_u64()
        ),
        (Some(0), Some(4), Some(1)),
        "{r}"
    );
    assert_eq!(qian_v2["version"], 2);
    assert_eq!(qian_v2["serial"], qian_v1["serial"]);
    assert_eq!(qian_v2["fields"][0], json!(["住址", "市南区宁夏路9号"]));
    assert_eq!(
        verify(&hub, qian_v2["qr_text"].as_str().unwrap()).await["valid"],
        true
    );
    assert_eq!(
        verify(&hub, qian_v1["qr_text"].as_str().unwrap()).await["code"],
        "LICENCE_REVOKED",
        "a re-issue cancels the old version"
    );
    let (s, old) = json_of(
        hub.get(
            &hub.ga_key,
            &format!("/api/v1/licences/{}", qian_v1["id"].as_str().unwrap()),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{old}");
    assert_eq!(old["state"], "cancelled");
    assert_eq!(old["superseded_by"], qian_v2["id"]);
    assert_eq!(old["events"][1]["action"], "reissue", "{old}");

    // The seal's key is rotated: new licences are signed with the new key, and what the old
    // key signed still verifies (the retired seal stays in the trust list).
    let (s, rotated) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/licences/seals",
        &json!({"department": "370200GA", "valid_years": 5}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["kid"], seal["kid"]);
    let (_, seals) = json_of(hub.get(&hub.operator_key, "/api/v1/licences/seals").await).await;
    let states: Vec<&str> = seals
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["retired", "active"], "{seals}");
    assert_eq!(verify(&hub, &qr).await["valid"], true);

    // 孙八 leaves the register: his licence is cancelled (注销) from the change log.
    let left = MOVED.replace(
        "370202199003070054,孙八,13612345678,370202,市南区湛山路7号\n",
        "",
    );
    load(&hub, &register, &left).await;
    let sun = until(&hub, "370202199003070054", |l| l["state"] == "cancelled").await;
    assert_eq!(
        verify(&hub, sun["qr_text"].as_str().unwrap()).await["code"],
        "LICENCE_REVOKED"
    );

    let (s, l) = call(
        &hub,
        &hub.ga_key,
        &state,
        &json!({"change": "revoke", "reason": "户籍注销"}),
    )
    .await;
    assert_eq!(
        (s, l["state"].as_str()),
        (StatusCode::OK, Some("revoked")),
        "{l}"
    );
    assert_eq!(verify(&hub, &qr).await["code"], "LICENCE_REVOKED");
    let (s, e) = call(
        &hub,
        &hub.ga_key,
        &state,
        &json!({"change": "restore", "reason": "误操作"}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "LICENCE_STATE"),
        "{e}"
    );
    let (s, _) = json_of(
        hub.get(&hub.ga_key, "/api/v1/licences/1.2.156.3005.2.X")
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Issuing read the register's rows: on the record, with the provider.
    search_until(
        &hub,
        &hub.operator_key,
        &format!("resource={register}"),
        |rows| rows.iter().any(|r| r["action"] == "licence.issue"),
    )
    .await;
}

/// 免证办: a service department reads a citizen's licence in place of paper — by ID number under
/// its grant, or because the holder showed the QR code — each read audited with its purpose,
/// counted, and on the holder's own record; a system without a grant, without a purpose, or
/// with a revoked licence is refused.
#[tokio::test]
async fn a_service_department_reads_licences_in_place_of_paper() {
    let hub = Hub::start().await;
    let register = published(&hub, &register_spec("户籍人口信息", "有条件共享")).await;
    load(&hub, &register, V1).await;
    let code = type_code();
    let spec = json!({
        "code": code, "name": "户籍证明", "definer": "370200GA", "issuers": ["370200GA"],
        "resource_code": register, "holder_item": "id_number", "holder_name_item": "name",
        "fields": [["address", "住址"]], "validity_years": 1
    });
    let (s, t) = call(&hub, &hub.operator_key, "/api/v1/licences/types", &spec).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let (s, _) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/licences/seals",
        &json!({"department": "370200GA"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // On demand, one holder: issued from their row; an unknown or malformed holder is not.
    let one = format!("/api/v1/licences/types/{code}/issue-one");
    let (s, first) = call(
        &hub,
        &hub.ga_key,
        &one,
        &json!({"holder": "370202199003070011"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(
        (first["holder_name"].as_str(), first["version"].as_i64()),
        (Some("张三"), Some(1))
    );
    let (s, again) = call(
        &hub,
        &hub.ga_key,
        &one,
        &json!({"holder": "370202199003070011"}),
    )
    .await;
    assert_eq!(
        (s, &again["id"]),
        (StatusCode::OK, &first["id"]),
        "unchanged data: the same licence"
    );
    let (s, e) = call(
        &hub,
        &hub.ga_key,
        &one,
        &json!({"holder": "37020219900307001"}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "LICENCE_HOLDER"),
        "{e}"
    );
    let (s, e) = call(
        &hub,
        &hub.ga_key,
        &one,
        &json!({"holder": "110101199003070011"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, _) = call(
        &hub,
        &hub.mz_key,
        &one,
        &json!({"holder": "370202199003070011"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, r) = call(
        &hub,
        &hub.ga_key,
        &format!("/api/v1/licences/types/{code}/issue"),
        &json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["issued"].as_u64(), r["unchanged"].as_u64()),
        (Some(3), Some(1)),
        "{r}"
    );
    let holder = "370202199003070011";
    let by_holder = format!("/api/v1/services/licences/holders/{holder}");

    // 民政 holds no grant on the register: refused, whoever the holder is.
    for who in [holder, "370203197001010039"] {
        let (s, e) = json_of(
            hub.get(
                &hub.mz_key,
                &format!("/api/v1/services/licences/holders/{who}"),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, error_code(&e)),
            (StatusCode::FORBIDDEN, "NO_GRANT"),
            "{e}"
        );
    }
    // Granted (social assistance checks household registration), 民政 reads the licence.
    let (_, req) = json_of(
        hub.post(
            &hub.mz_key,
            "/api/v1/sharing/requests",
            &crate::sharing::request(&register, "mz"),
        )
        .await,
    )
    .await;
    let req_id = req["id"].as_str().unwrap().to_string();
    let (s, d) = call(
        &hub,
        &hub.ga_key,
        &format!("/api/v1/sharing/requests/{req_id}/decision"),
        &json!({"approve": true, "reason": "同意"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let (s, read) = json_of(hub.get(&hub.mz_key, &by_holder).await).await;
    assert_eq!(s, StatusCode::OK, "{read}");
    let list = read.as_array().unwrap();
    assert_eq!(list.len(), 1, "{read}");
    assert_eq!(list[0]["type_name"], "户籍证明");
    assert_eq!(list[0]["holder_name"], "张三");
    assert_eq!(list[0]["fields"][0], json!(["住址", "市南区香港中路1号"]));
    assert_eq!(list[0]["basis"], "grant");
    assert_eq!(list[0]["uses"], 1);
    let id = list[0]["id"].as_str().unwrap().to_string();
    // Not an identifier: a clear error, not an empty list.
    let (s, e) = json_of(
        hub.get(&hub.mz_key, "/api/v1/services/licences/holders/12345")
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    // At a counter: the holder shows the QR code; the counter's system states why it reads.
    let qr = holder_licence(&hub, holder).await["qr_text"]
        .as_str()
        .unwrap()
        .to_string();
    let presented = "/api/v1/services/licences/presented";
    let (s, e) = call(
        &hub,
        &hub.mz_key,
        presented,
        &json!({"qr": qr, "purpose": " "}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::FORBIDDEN, "PURPOSE_REQUIRED"),
        "{e}"
    );
    let (s, one) = call(
        &hub,
        &hub.mz_key,
        presented,
        &json!({"qr": qr, "purpose": "临时救助申请核对户籍"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert_eq!(
        (one["id"].as_str(), one["basis"].as_str()),
        (Some(id.as_str()), Some("presented"))
    );
    assert_eq!(one["uses"], 2);
    let mut tampered = qr.clone().into_bytes();
    let at = tampered.len() - 20;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let (s, e) = call(
        &hub,
        &hub.mz_key,
        presented,
        &json!({"qr": String::from_utf8(tampered).unwrap(), "purpose": "核对"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        ["LICENCE_MALFORMED", "LICENCE_BAD_SIGNATURE"].contains(&error_code(&e)),
        "{e}"
    );
    // Revoked: it no longer serves in place of paper.
    let (s, _) = call(
        &hub,
        &hub.ga_key,
        &format!("/api/v1/licences/{id}/state"),
        &json!({"change": "revoke", "reason": "户籍注销"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = call(
        &hub,
        &hub.mz_key,
        presented,
        &json!({"qr": qr, "purpose": "核对"}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "LICENCE_REVOKED"),
        "{e}"
    );

    // Counted (用证次数) and audited with each purpose, on the provider's side as well.
    assert_eq!(holder_licence(&hub, holder).await["uses"], 2);
    let uses = search_until(
        &hub,
        &hub.operator_key,
        "principal=app:mz&action=licence.use&limit=20",
        |r| r.len() >= 5,
    )
    .await;
    let ok: Vec<&Value> = uses.iter().filter(|u| u["result"] == "ok").collect();
    assert_eq!(ok.len(), 2, "{uses:?}");
    assert!(
        ok.iter().any(|u| u["purpose"] == "临时救助申请核对户籍"),
        "{uses:?}"
    );
    assert!(
        ok.iter().any(|u| u["purpose"] == "社会救助对象户籍核查"),
        "{uses:?}"
    );
    assert!(
        uses.iter().any(|u| u["result"] == "LICENCE_REVOKED"),
        "{uses:?}"
    );

    // The holder sees the uses on their own record, and their licence with its QR code.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = crate::audit::citizen_csrf(&hub, &client).await;
    let html = client
        .post(hub.url("/my-data/login"))
        .form(&[("name", "张三"), ("id_number", holder), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("临时救助申请核对户籍"), "{html}");
    assert!(html.contains("用证（免证办）"), "{html}");
    assert!(html.contains(&format!("data-licence=\"{id}\"")), "{html}");
    assert!(html.contains("<svg"), "the QR code to show");
    // The holder downloads their own licence document; another holder's is not found.
    let r = client
        .get(hub.url(&format!("/my-data/licences/{id}/document.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF-"));
    let other = holder_licence(&hub, "370203197001010039").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = client
        .get(hub.url(&format!("/my-data/licences/{other}/document.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// The licence library (电子证照库): every current licence with its holder's identifier; a
/// granted system finds a holder's licences by their ID number through the unified service;
/// and the library follows a revocation without anyone rebuilding it.
#[tokio::test]
async fn the_licence_library_finds_a_holders_licences_and_follows_the_register() {
    let hub = Hub::start().await;
    let register = published(&hub, &register_spec("户籍人口信息", "有条件共享")).await;
    load(&hub, &register, V1).await;
    let libraries = "/api/v1/libraries";
    // No licence type yet: nothing to derive the library from.
    let (s, e) = call(
        &hub,
        &hub.operator_key,
        libraries,
        &json!({"kind": "licence"}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "LIBRARY_NO_LICENCE_TYPES"),
        "{e}"
    );
    let code = type_code();
    let spec = json!({
        "code": code, "name": "户籍证明", "definer": "370200GA", "issuers": ["370200GA"],
        "resource_code": register, "holder_item": "id_number", "holder_name_item": "name",
        "fields": [["address", "住址"]]
    });
    let (s, t) = call(&hub, &hub.operator_key, "/api/v1/licences/types", &spec).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let seal = json!({"department": "370200GA"});
    let (s, _) = call(&hub, &hub.operator_key, "/api/v1/licences/seals", &seal).await;
    assert_eq!(s, StatusCode::OK);
    let issue = format!("/api/v1/licences/types/{code}/issue");
    let (s, r) = call(&hub, &hub.ga_key, &issue, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let issued = r["issued"].as_u64().unwrap();
    assert!(issued >= 3, "{r}");

    // Only the hub defines it.
    let (s, _) = call(&hub, &hub.ga_key, libraries, &json!({"kind": "licence"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, lib) = call(
        &hub,
        &hub.operator_key,
        libraries,
        &json!({"kind": "电子证照库"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{lib}");
    assert_eq!(lib["name"], "电子证照库");
    let items: Vec<&str> = lib["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(items[0], "licence_id");
    for item in [
        "holder_id_number",
        "holder_credit_code",
        "state",
        "valid_until",
    ] {
        assert!(items.contains(&item), "{lib}");
    }
    let library = lib["code"].as_str().unwrap().to_string();
    let (s, b) = call(
        &hub,
        &hub.operator_key,
        &format!("{libraries}/{library}/build"),
        &json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["rows_written"].as_u64(), Some(issued), "{b}");
    assert_eq!(b["sources"][0]["code"], register.as_str(), "{b}");

    // 民政's system, granted lookups on the library, finds 张三's licence by his ID number.
    let holder = "370202199003070011";
    let lookup = format!("/api/v1/services/{library}/records/{holder}");
    let (s, e) = json_of(hub.get(&hub.mz_key, &lookup).await).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no grant yet: {e}");
    let mut req = crate::sharing::request(&library, "mz");
    req["fields"] = json!([]);
    req["row_scope"] = json!("");
    req["services"] = json!(["lookup"]);
    req["purpose"] = json!("临时救助申请时核验户籍证明（免证办）");
    let (s, filed) = json_of(
        hub.post(&hub.mz_key, "/api/v1/sharing/requests", &req)
            .await,
    )
    .await;
    assert!(s.is_success(), "{filed}");
    let req_id = filed["id"].as_str().unwrap().to_string();
    let (s, d) = call(
        &hub,
        &hub.operator_key,
        &format!("/api/v1/sharing/requests/{req_id}/decision"),
        &json!({"approve": true, "reason": "同意，仅用于免证办核验"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let licence = holder_licence(&hub, holder).await;
    let id = licence["id"].as_str().unwrap().to_string();
    let found = async || {
        for _ in 0..100 {
            let (s, v) = json_of(hub.get(&hub.mz_key, &lookup).await).await;
            if s == StatusCode::OK {
                return v;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("the library's lookup never answered");
    };
    let v = found().await;
    let records = v["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{v}");
    assert_eq!(
        (
            records[0]["licence_id"].as_str(),
            records[0]["type_name"].as_str(),
            records[0]["holder_name"].as_str(),
            records[0]["state"].as_str(),
            records[0]["holder_credit_code"].as_str(),
        ),
        (
            Some(id.as_str()),
            Some("户籍证明"),
            Some("张*"),
            Some("有效"),
            None
        ),
        "the grant's masking applies as to any lookup: {v}"
    );
    assert_eq!(records[0]["holder_id_number"], "370202********0011", "{v}");
    // A number without licences finds nothing, and says so.
    let (s, _) = json_of(
        hub.get(
            &hub.mz_key,
            &format!("/api/v1/services/{library}/records/110101199003070011"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Revoked: the library follows by itself.
    let (s, _) = call(
        &hub,
        &hub.ga_key,
        &format!("/api/v1/licences/{id}/state"),
        &json!({"change": "revoke", "reason": "户籍注销"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let mut state = String::new();
    for _ in 0..150 {
        let v = found().await;
        state = v["records"][0]["state"].as_str().unwrap_or("").to_string();
        if state == "吊销" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(state, "吊销", "the library did not follow the revocation");
}
