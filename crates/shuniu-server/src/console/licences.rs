//! Electronic licences in the console (电子证照): the types and what was issued of each, the
//! departments' e-seals, the licences a department may handle (search by holder), one licence
//! with its QR code, face and history, suspension/restoration/revocation with a reason, and a
//! counter's verification of a pasted QR text.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use shuniu_licences::StateChange;
use shuniu_store::LicenceFilter;
use shuniu_types::{Classified, ErrorKind};

use super::{ConsoleUser, page, urlencode};
use crate::AppState;
use crate::web::forms::filled;
use crate::web::{CheckedForm, ser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/licences", get(licences_page).post(verify))
        .route("/licences/{id}", get(licence_page).post(change_state))
        .route("/licences/{id}/document.pdf", get(licence_document))
        .route("/licences/seals", axum::routing::post(make_seal))
        .route("/licences/types", axum::routing::post(register_type))
        .route("/verify", get(verifier_page))
}

/// The public verifier (扫码核验): anyone — a counter clerk, a landlord, a bank — checks a
/// licence in the browser against the hub's trust key, which the page carries. No sign-in:
/// licences are shown to people who have no account.
async fn verifier_page(
    State(state): State<AppState>,
    jar: axum_extra::extract::CookieJar,
) -> Response {
    let lang = crate::web::lang_of(&jar);
    crate::web::render(
        &state,
        "verify.html",
        context! {
            lang => lang.code(),
            site_name => state.settings.site_name.clone(),
            trust_key => state.engines.licences.trust_public_hex(),
        },
    )
    .into_response()
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    holder: Option<String>,
    state: Option<String>,
}

fn view(l: &shuniu_store::LicenceRow) -> serde_json::Value {
    serde_json::json!({
        "id": l.id, "type_code": l.type_code, "holder_name": l.holder_name,
        "holder_shown": l.holder_shown, "state": l.state, "issued_at": l.issued_at,
        "version": l.version, "uses": l.uses, "issuer": l.issuer,
    })
}

async fn licences_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    render(&state, &user, q, None, None).await
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    q: ListQuery,
    verified: Option<serde_json::Value>,
    error: Option<String>,
) -> Response {
    let engine = &state.engines.licences;
    let holder = q.holder.as_deref().map(str::trim).filter(|h| !h.is_empty());
    let listed = match holder {
        Some(h) => engine.of_holder(h).await,
        None => {
            engine
                .list(&LicenceFilter {
                    state: q.state.clone().filter(|s| !s.is_empty()),
                    limit: 50,
                    ..Default::default()
                })
                .await
        }
    };
    let (types, seals, counts) = match (
        engine.types().await,
        engine.seals().await,
        engine.counts().await,
    ) {
        (Ok(t), Ok(s), Ok(c)) => (t, s, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return user.fail(e),
    };
    let (licences, error) = match listed {
        Ok(l) => (l, error),
        Err(e) if matches!(e.kind(), ErrorKind::Invalid) => (Vec::new(), Some(message(user, &e))),
        Err(e) => return user.fail(e),
    };
    let licences: Vec<serde_json::Value> = licences
        .iter()
        .filter(|l| engine.may_handle(&user.actor, l))
        .map(view)
        .collect();
    let may_manage = shuniu_policy::decide(
        &user.actor,
        shuniu_policy::Action::ManageLicences,
        shuniu_policy::Target::Hub,
    )
    .is_ok();
    let departments: Vec<serde_json::Value> = if may_manage {
        match state.engines.accounts.departments().await {
            Ok(d) => d
                .iter()
                .map(|d| serde_json::json!({"code": d.code, "name": d.name}))
                .collect(),
            Err(e) => return user.fail(e),
        }
    } else {
        Vec::new()
    };
    let total = |state: &str| -> i64 { counts.iter().filter(|c| c.1 == state).map(|c| c.2).sum() };
    let types: Vec<serde_json::Value> = types
        .iter()
        .map(|t| {
            let of = |state: &str| -> i64 {
                counts
                    .iter()
                    .filter(|c| c.0 == t.code && c.1 == state)
                    .map(|c| c.2)
                    .sum()
            };
            let uses: i64 = counts.iter().filter(|c| c.0 == t.code).map(|c| c.3).sum();
            serde_json::json!({
                "code": t.code, "name": t.name, "issuers": t.issuers,
                "resource_code": t.resource_code, "valid": of("valid"),
                "suspended": of("suspended"), "revoked": of("revoked"),
                "validity_years": t.validity_years, "uses": uses,
            })
        })
        .collect();
    let seals: Vec<serde_json::Value> = seals
        .iter()
        .map(|s| {
            serde_json::json!({
                "code": s.code, "name": s.name, "department": s.department, "kid": s.kid,
                "state": s.state, "valid_until": s.valid_until.get(..10).unwrap_or_default(),
                "picture": s.info.pointer("/picture/data").and_then(|d| d.as_str()).unwrap_or_default(),
            })
        })
        .collect();
    page(
        state,
        user,
        "licences.html",
        context! {
            types => ser(&types),
            seals => ser(&seals),
            licences => ser(&licences),
            holder => holder.unwrap_or_default(),
            filter_state => q.state.unwrap_or_default(),
            valid => total("valid"),
            suspended => total("suspended"),
            revoked => total("revoked") + total("cancelled"),
            uses => counts.iter().map(|c| c.3).sum::<i64>(),
            verified => ser(&verified),
            error => error,
            may_manage => may_manage,
            departments => ser(&departments),
        },
    )
}

/// Makes (or rotates) a department's e-seal: the hub operator's form.
async fn make_seal(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let department = filled(&form, "department").unwrap_or_default().to_string();
    let years = filled(&form, "years")
        .and_then(|y| y.parse::<u32>().ok())
        .unwrap_or(5);
    let signer_id = filled(&form, "signer_id");
    match state
        .engines
        .licences
        .make_seal(&user.actor, &department, signer_id, years)
        .await
    {
        Ok(_) => Redirect::to("/licences#seals").into_response(),
        Err(e) if matches!(e.kind(), ErrorKind::Invalid) => {
            let message = message(&user, &e);
            render(&state, &user, ListQuery::default(), None, Some(message)).await
        }
        Err(e) => user.fail(e),
    }
}

/// Registers a licence type over a resource: the hub operator's form. The face's fields are
/// written one per line as `item:label`.
async fn register_type(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let text = |k: &str| filled(&form, k).unwrap_or_default().trim().to_string();
    let fields: Vec<(String, String)> = text("fields")
        .lines()
        .filter_map(|l| {
            let (item, label) = l.split_once([':', '：'])?;
            let (item, label) = (item.trim(), label.trim());
            (!item.is_empty() && !label.is_empty()).then(|| (item.to_string(), label.to_string()))
        })
        .collect();
    let definer = text("definer");
    let input = shuniu_licences::LicenceTypeInput {
        code: text("code"),
        number: filled(&form, "number").and_then(|n| n.trim().parse().ok()),
        name: text("name"),
        issuers: vec![if text("issuer").is_empty() {
            definer.clone()
        } else {
            text("issuer")
        }],
        definer,
        resource_code: text("resource_code"),
        holder_item: text("holder_item"),
        holder_name_item: text("holder_name_item"),
        serial_item: Some(text("serial_item")).filter(|s| !s.is_empty()),
        fields,
        validity_years: filled(&form, "validity_years").and_then(|y| y.trim().parse().ok()),
    };
    match state
        .engines
        .licences
        .register_type(&user.actor, input)
        .await
    {
        Ok(_) => Redirect::to("/licences#types").into_response(),
        Err(e) if matches!(e.kind(), ErrorKind::Invalid) => {
            let message = message(&user, &e);
            render(&state, &user, ListQuery::default(), None, Some(message)).await
        }
        Err(e) => user.fail(e),
    }
}

/// A counter's check of a pasted QR text (online: the lists as of now).
async fn verify(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let qr = filled(&form, "qr").unwrap_or_default().to_string();
    let verified = match state.engines.licences.verify(&qr).await {
        Ok(Ok(v)) => serde_json::json!({"valid": true, "licence": ser(&v)}),
        Ok(Err(r)) => serde_json::json!({
            "valid": false, "code": r.code(), "reason": user.lang.pick(r.zh().to_string(), r.en().to_string()),
        }),
        Err(e) => return user.fail(e),
    };
    render(&state, &user, ListQuery::default(), Some(verified), None).await
}

async fn licence_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    render_licence(&state, &user, &id, None).await
}

/// The licence document (PDF), for those who may handle the licence; audited by the engine.
async fn licence_document(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    match state.engines.licences.document(&user.actor, &id).await {
        Ok(pdf) => crate::web::licence_pdf(&id, pdf),
        Err(e) => user.fail(e),
    }
}

async fn render_licence(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
    error: Option<String>,
) -> Response {
    let engine = &state.engines.licences;
    let l = match engine.licence_for(&user.actor, id).await {
        Ok(l) => l,
        Err(e) => return user.fail(e),
    };
    let events = match engine.events(id).await {
        Ok(e) => e,
        Err(e) => return user.fail(e),
    };
    let qr = shuniu_licences::qr::svg(&l.envelope).unwrap_or_default();
    page(
        state,
        user,
        "licence.html",
        context! {
            licence => ser(view(&l)),
            claims => ser(&l.claims),
            qr_svg => qr,
            qr_text => l.envelope.clone(),
            superseded_by => l.superseded_by.clone(),
            events => ser(events.iter().map(|e| serde_json::json!({
                "at": e.at, "actor": e.actor, "action": e.action, "from": e.from_state,
                "to": e.to_state, "reason": e.reason,
            })).collect::<Vec<_>>()),
            error => error,
        },
    )
}

async fn change_state(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let change = match filled(&form, "change") {
        Some("suspend") => StateChange::Suspend,
        Some("restore") => StateChange::Restore,
        _ => StateChange::Revoke,
    };
    let reason = filled(&form, "reason").unwrap_or_default().to_string();
    match state
        .engines
        .licences
        .change_state(&user.actor, &id, change, &reason)
        .await
    {
        Ok(_) => Redirect::to(&format!("/licences/{}", urlencode(&id))).into_response(),
        Err(e) if matches!(e.kind(), ErrorKind::Invalid) => {
            let msg = message(&user, &e);
            render_licence(&state, &user, &id, Some(msg)).await
        }
        Err(e) => user.fail(e),
    }
}

fn message(user: &ConsoleUser, e: &shuniu_licences::LicenceError) -> String {
    let p = e.problem();
    user.lang.pick(p.message_zh, p.message_en)
}
