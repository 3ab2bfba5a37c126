//! Sensitive data items (敏感) at rest: a resource whose ID numbers and bank accounts are
//! sensitive is loaded, upserted, served, queried, checked, extracted and compared through the
//! API; the hub answers with the values, and no file under the data directory holds one of them.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Hub, json_of};
use crate::sharing::{published, register_spec};

const ACCOUNTS: [&str; 4] = [
    "6222020200112233445",
    "6222020200112233452",
    "6222020200112233460",
    "6222020200199887766",
];

fn csv(rows: &[(&str, &str, &str)]) -> String {
    let mut s = String::from("id_number,name,mobile,district,address,bank_account\n");
    for (id, name, account) in rows {
        s.push_str(&format!(
            "{id},{name},13812345678,370202,市南区香港中路1号,{account}\n"
        ));
    }
    s
}

async fn load(hub: &Hub, code: &str, mode: &str, body: String) {
    let r = hub
        .client
        .post(hub.url(&format!(
            "/api/v1/datasets/{code}/loads?filename=x.csv&wait=true&mode={mode}"
        )))
        .bearer_auth(&hub.ga_key)
        .body(body.into_bytes())
        .send()
        .await
        .expect("upload");
    let (s, l) = json_of(r).await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["status"], "succeeded", "{l}");
}

#[tokio::test]
async fn no_file_under_the_data_directory_holds_a_sensitive_value() {
    let hub = Hub::start().await;
    let mut spec = register_spec("最低生活保障家庭信息", "有条件共享");
    let items = spec["data_items"].as_array_mut().unwrap();
    items[0]["sensitive"] = json!(true);
    items.push(
        json!({"name": "bank_account", "label": "银行账号", "data_type": "字符型",
        "length": 30, "sensitive": true, "semantic_type": "银行卡号"}),
    );
    let code = published(&hub, &spec).await;
    let ids = [
        "370202199003070011",
        "370203197001010039",
        "370202198505120029",
        "370202200001010017",
    ];
    load(
        &hub,
        &code,
        "replace",
        csv(&[
            (ids[0], "张三", ACCOUNTS[0]),
            (ids[1], "王五", ACCOUNTS[1]),
            (ids[2], "钱七", ACCOUNTS[2]),
        ]),
    )
    .await;
    // An upsert matches the sealed key: 钱七's account changes, 周九 arrives.
    load(
        &hub,
        &code,
        "upsert",
        csv(&[(ids[2], "钱七", ACCOUNTS[3]), (ids[3], "周九", ACCOUNTS[2])]),
    )
    .await;
    hub.sharing.sync_index(&code).await.expect("index");

    // The provider's own system reads its data in the clear, found by the sealed key.
    let (s, b) = json_of(
        hub.get(
            &hub.ga_key,
            &format!("/api/v1/services/{code}/records/{}", ids[2]),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["records"][0]["bank_account"], ACCOUNTS[3]);
    assert_eq!(b["records"][0]["id_number"], ids[2]);
    // SQL sees the columns as loaded (equality on a sealed column included).
    let (s, q) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/sql",
            &json!({"sql": format!(
                "SELECT count(*) AS n, min(bank_account) AS first FROM \"{code}\" WHERE bank_account LIKE '6222%'"
            )}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{q}");
    assert_eq!(q["rows"][0][0], json!("4"), "{q}");
    assert_eq!(q["rows"][0][1], json!(ACCOUNTS[0]), "{q}");
    // The preview, an extract and a quality check read it too.
    let (s, p) = json_of(
        hub.get(&hub.ga_key, &format!("/api/v1/datasets/{code}/preview"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert!(p.to_string().contains(ACCOUNTS[0]), "{p}");
    let r = hub
        .get(
            &hub.ga_key,
            &format!("/api/v1/services/{code}/extract?format=csv"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let extract = r.text().await.unwrap();
    assert!(extract.contains(ids[3]), "{extract}");
    let (s, c) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/quality/resources/{code}/check"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert!(s.is_success(), "{c}");

    // A comparison job over sensitive keys: its key file and its result are sealed on disk,
    // and the result still answers with the values.
    let keys = format!("id_number\n{}\n{}\n370202199901010000\n", ids[0], ids[3]);
    let r = hub
        .client
        .post(hub.url(&format!("/api/v1/services/{code}/comparisons")))
        .bearer_auth(&hub.ga_key)
        .header("content-type", "text/csv")
        .body(keys)
        .send()
        .await
        .unwrap();
    let (s, job) = json_of(r).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    let job_id = job["id"].as_str().unwrap().to_string();
    let mut finished = serde_json::Value::Null;
    for _ in 0..200 {
        let (_, j) = json_of(
            hub.get(
                &hub.ga_key,
                &format!("/api/v1/services/comparisons/{job_id}"),
            )
            .await,
        )
        .await;
        if j["state"] == "finished" {
            finished = j;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(finished["found"], 2, "{finished}");
    let result = hub
        .get(
            &hub.ga_key,
            &format!("/api/v1/services/comparisons/{job_id}/result"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(result.contains(&format!("{},1,", ids[3])), "{result}");
    assert!(result.contains(ACCOUNTS[2]), "{result}");
    assert!(result.contains("370202199901010000,0,"), "{result}");

    // The search reaches the files: a value that is not sensitive is there in clear.
    assert!(!crate::files_containing(hub.data_dir(), "市南区香港中路1号".as_bytes()).is_empty());
    for secret in ids.iter().chain(ACCOUNTS.iter()) {
        let found = crate::files_containing(hub.data_dir(), secret.as_bytes());
        assert!(found.is_empty(), "{secret} is stored in clear in {found:?}");
    }
}
