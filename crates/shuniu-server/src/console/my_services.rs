//! The applicant's own page for integrated services (一件事一次办), mobile first, as the
//! provincial app embeds it: the person signed in as on their record page chooses a service,
//! finds the form pre-filled from the base libraries, sees which materials their e-licences
//! and the departments' shared data replace, consents to those lookups, uploads only what
//! remains, follows the case, corrects it when a department asks (补正), downloads what it
//! issued (e-licences) and rates the service (好差评).
//!
//! Every decision about the case is the engine's (`shuniu_cases::Cases`): this module only
//! reads the form and shows the answer.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use minijinja::context;
use shuniu_cases::{
    Applicant, CaseSubject, CasesError, MaterialSource, ServiceDefinition, Trigger,
};
use shuniu_types::Classified;

use super::citizen::{CITIZEN_CSRF_COOKIE, citizen_of, csrf_of};
use super::enterprise::ENTERPRISE_COOKIE;
use crate::AppState;
use crate::i18n::Lang;
use crate::web::forms::CsrfSession;
use crate::web::{CheckedMultipart, lang_of, problem_page, render, ser};

/// A request may carry a few uploads of at most 10 MB each.
const BODY_LIMIT: usize = 4 * shuniu_cases::MAX_UPLOAD_BYTES;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/my-services", get(home))
        .route("/my-services/{code}", get(apply_page).post(apply))
        .route("/my-services/cases/{id}", get(case_page).post(case_action))
        .route(
            "/my-services/cases/{id}/materials/{code}",
            get(own_material),
        )
        .route(
            "/my-services/cases/{id}/results/{licence}",
            get(result_document),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Who applies: a person signed in as on their record, or an enterprise signed in by its legal
/// person as on its own page.
#[derive(Clone)]
pub(crate) struct Who {
    subject: CaseSubject,
    name: String,
    /// The ID number masked, or the (public) credit code.
    shown: String,
    kind: Applicant,
    /// The applicant's own record page.
    home: &'static str,
}

async fn who_of(state: &AppState, jar: &CookieJar) -> Option<Who> {
    if let Some(s) = citizen_of(state, jar).await {
        let id = s.person.as_str();
        return Some(Who {
            shown: format!("{}********{}", &id[..6], &id[14..]),
            subject: CaseSubject::Person(s.person.clone()),
            name: s.name,
            kind: Applicant::Person,
            home: "/my-data",
        });
    }
    let token = jar.get(ENTERPRISE_COOKIE)?.value().to_string();
    let s = state
        .engines
        .accounts
        .enterprise_session(&token)
        .await
        .ok()
        .flatten()?;
    Some(Who {
        shown: s.enterprise.to_string(),
        subject: CaseSubject::Enterprise(s.enterprise.clone()),
        name: s.name,
        kind: Applicant::Enterprise,
        home: "/my-enterprise",
    })
}

/// A signed-in applicant whose form carried their CSRF token (for [`CheckedMultipart`]); with
/// no session the browser is sent to sign in.
pub(crate) struct Applying {
    session: Who,
    csrf: String,
    lang: Lang,
}

impl FromRequestParts<AppState> for Applying {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let lang = lang_of(&jar);
        let Some(session) = who_of(state, &jar).await else {
            return Err(Redirect::to("/my-services").into_response());
        };
        let csrf = jar
            .get(CITIZEN_CSRF_COOKIE)
            .map(|c| c.value().to_string())
            .unwrap_or_default();
        Ok(Applying {
            session,
            csrf,
            lang,
        })
    }
}

impl CsrfSession for Applying {
    fn expected_csrf(&self) -> &str {
        &self.csrf
    }
    fn lang(&self) -> Lang {
        self.lang
    }
}

fn subject(session: &Who) -> CaseSubject {
    session.subject.clone()
}

/// The services this applicant may apply for: those taking applications from their kind.
fn takes(def: &ServiceDefinition, who: &Who) -> bool {
    matches!(def.trigger, Trigger::Application { applicant } if applicant == who.kind)
}

/// The page's frame: language, CSRF token, sign-in options, the person.
fn frame(
    state: &AppState,
    lang: Lang,
    csrf: &str,
    session: Option<&Who>,
    next: &str,
) -> minijinja::Value {
    context! {
        lang => lang.code(),
        site_name => state.settings.site_name.clone(),
        csrf => csrf,
        simulated => state.settings.simulated_citizen_sign_in,
        oidc => state.settings.citizen_sign_in.is_some(),
        next => next,
        person => session.map(|s| context! {
            name => s.name.clone(), masked => s.shown.clone(), home => s.home,
            enterprise => s.kind == Applicant::Enterprise,
        }),
    }
}

fn department_name(state: &AppState, code: &str) -> String {
    state.names.department(code).unwrap_or(code.to_string())
}

/// The problem in the page's language: its text with every field's message (shown above the
/// form), and the fields by name (shown beside each).
fn problem_of(lang: Lang, e: &CasesError) -> (Vec<String>, BTreeMap<String, String>) {
    let p = e.problem();
    let mut fields = BTreeMap::new();
    let mut lines = vec![lang.pick(p.message_zh, p.message_en)];
    for f in &p.fields {
        let message = lang.pick(f.message_zh.clone(), f.message_en.clone());
        lines.push(message.clone());
        fields.entry(f.field.clone()).or_insert(message);
    }
    (lines, fields)
}

async fn home(State(state): State<AppState>, jar: CookieJar) -> Response {
    let lang = lang_of(&jar);
    let (csrf, jar) = csrf_of(&state, jar);
    let session = who_of(&state, &jar).await;
    let base = frame(&state, lang, &csrf, session.as_ref(), "/my-services");
    let Some(session) = session else {
        return (jar, render(&state, "my_services.html", base)).into_response();
    };
    state.names.refresh_if_stale(&state.engines).await;
    let c = &state.engines.cases;
    let mut services = Vec::new();
    let mut names = BTreeMap::new();
    for s in c.services().await.unwrap_or_default() {
        let Ok(def) = c.definition(&s.code, None).await else {
            continue;
        };
        names.insert(s.code.clone(), s.name.clone());
        if !takes(&def, &session) {
            continue;
        }
        let uploads = def
            .materials
            .iter()
            .filter(|m| matches!(m.source, MaterialSource::Upload))
            .count();
        services.push(context! {
            code => def.code.clone(), name => def.name.clone(), description => def.description.clone(),
            deadline_days => def.deadline_days, before => ser(&def.before), uploads,
            departments => s.departments.iter().map(|d| department_name(&state, d)).collect::<Vec<_>>(),
        });
    }
    let cases: Vec<minijinja::Value> = match c.of_subject(&subject(&session)).await {
        Ok(rows) => rows
            .iter()
            .map(|r| {
                context! {
                    service_name => names.get(&r.service).cloned().unwrap_or(r.service.clone()),
                    ..ser(r)
                }
            })
            .collect(),
        Err(e) => return problem_page(lang, &e.problem()),
    };
    (
        jar,
        render(
            &state,
            "my_services.html",
            context! { services, cases, ..base },
        ),
    )
        .into_response()
}

/// The application form: fields pre-filled, each material with how it is satisfied.
async fn apply_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(code): Path<String>,
) -> Response {
    let lang = lang_of(&jar);
    let (csrf, jar) = csrf_of(&state, jar);
    let Some(session) = who_of(&state, &jar).await else {
        return Redirect::to("/my-services").into_response();
    };
    let prefill = match state.engines.cases.prefill(&code, &subject(&session)).await {
        Ok(p) => p,
        Err(e) => return problem_page(lang, &e.problem()),
    };
    let values: BTreeMap<String, String> = prefill.clone();
    (
        jar,
        form_page(&state, lang, &csrf, &session, &code, values, prefill, None).await,
    )
        .into_response()
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &AppState,
    lang: Lang,
    csrf: &str,
    session: &Who,
    code: &str,
    values: BTreeMap<String, String>,
    prefill: BTreeMap<String, String>,
    error: Option<(Vec<String>, BTreeMap<String, String>)>,
) -> Response {
    let c = &state.engines.cases;
    let def = match c.definition(code, None).await {
        Ok(d) if takes(&d, session) => d,
        Ok(_) => {
            return problem_page(
                lang,
                &CasesError::NotFound(format!("service {code}")).problem(),
            );
        }
        Err(e) => return problem_page(lang, &e.problem()),
    };
    state.names.refresh_if_stale(&state.engines).await;
    let held: Vec<String> = state
        .engines
        .licences
        .of_holder(session.subject.key())
        .await
        .map(|ls| {
            ls.into_iter()
                .filter(|l| l.state == "valid")
                .map(|l| l.type_code)
                .collect()
        })
        .unwrap_or_default();
    let catalog = state.engines.catalog.clone();
    let mut materials = Vec::new();
    for m in &def.materials {
        let (by, source) = match &m.source {
            MaterialSource::Licence { licence_type } if held.contains(licence_type) => {
                ("licence", String::new())
            }
            MaterialSource::Licence { .. } => ("missing_licence", String::new()),
            MaterialSource::Lookup { resource } => {
                let provider = catalog
                    .get(&shuniu_types::Actor::local_operator(), resource)
                    .await
                    .map(|r| department_name(state, &r.spec.provider))
                    .unwrap_or_default();
                ("lookup", provider)
            }
            MaterialSource::Upload => ("upload", String::new()),
        };
        materials.push(context! { code => m.code.clone(), name => m.name.clone(), by, source });
    }
    let steps: Vec<minijinja::Value> = def
        .order()
        .unwrap_or_default()
        .iter()
        .map(|s| context! { name => s.name.clone(), department => department_name(state, &s.department), when => s.when.clone() })
        .collect();
    let (error, field_errors) = error.unwrap_or_default();
    render(
        state,
        "my_service_apply.html",
        context! {
            service => context! {
                code => def.code.clone(), name => def.name.clone(), description => def.description.clone(),
                deadline_days => def.deadline_days, before => ser(&def.before),
            },
            fields => ser(&def.fields), values, prefill, materials, steps,
            consent_needed => def.materials.iter().any(|m| matches!(m.source, MaterialSource::Lookup { .. })),
            error => (!error.is_empty()).then_some(error), field_errors,
            ..frame(state, lang, csrf, Some(session), &format!("/my-services/{code}"))
        },
    )
}

/// Reads a multipart form: text fields, and each file for `material:CODE` kept through the
/// engine (checked and sealed) and named in the form by its reference.
async fn read_form(
    state: &AppState,
    code: &str,
    mut multipart: Multipart,
) -> Result<(BTreeMap<String, String>, bool), CasesError> {
    let mut form = BTreeMap::new();
    let mut consent = false;
    let mut problems = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(CasesError::Fields(vec![shuniu_types::FieldError::new(
                    "form",
                    "CASE_FORM_READ",
                    format!("表单无法读取（文件可能过大）：{}", e.body_text()),
                    format!(
                        "the form could not be read (a file may be too large): {}",
                        e.body_text()
                    ),
                )]));
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(String::from);
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Err(CasesError::Fields(vec![shuniu_types::FieldError::new(
                    name,
                    "CASE_UPLOAD_TOO_LARGE",
                    format!("文件无法读取（可能超过大小限制）：{}", e.body_text()),
                    format!(
                        "the file could not be read (it may be too large): {}",
                        e.body_text()
                    ),
                )]));
            }
        };
        match (name.strip_prefix("material:"), file_name) {
            (Some(material), Some(file_name)) => {
                if bytes.is_empty() {
                    continue;
                }
                match state
                    .engines
                    .cases
                    .upload(code, material, &file_name, &bytes)
                    .await
                {
                    Ok(r) => {
                        form.insert(name, r.text());
                    }
                    Err(CasesError::Fields(f)) => problems.extend(f),
                    Err(e) => return Err(e),
                }
            }
            _ if name == "consent" => consent = !bytes.is_empty(),
            _ => {
                let v = String::from_utf8_lossy(&bytes).trim().to_string();
                form.insert(name, v);
            }
        }
    }
    if !problems.is_empty() {
        return Err(CasesError::Fields(problems));
    }
    Ok((form, consent))
}

async fn apply(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CheckedMultipart(who, multipart): CheckedMultipart<Applying>,
) -> Response {
    let lang = who.lang;
    let refused = |e: CasesError, shown: BTreeMap<String, String>| {
        let state = state.clone();
        let (code, who_csrf) = (code.clone(), who.csrf.clone());
        let session = who.session.clone();
        async move {
            if !matches!(e, CasesError::Fields(_)) {
                return problem_page(lang, &e.problem());
            }
            // The form comes back as typed; files are chosen again (a browser cannot be
            // handed them back).
            let values = shown
                .into_iter()
                .filter(|(k, _)| !k.starts_with("material:") && k != "csrf")
                .collect();
            let err = problem_of(lang, &e);
            form_page(
                &state,
                lang,
                &who_csrf,
                &session,
                &code,
                values,
                BTreeMap::new(),
                Some(err),
            )
            .await
        }
    };
    let (mut form, consent) = match read_form(&state, &code, multipart).await {
        Ok(f) => f,
        Err(e) => return refused(e, BTreeMap::new()).await,
    };
    form.remove("csrf");
    let shown = form.clone();
    match state
        .engines
        .cases
        .apply(&subject(&who.session), &code, form, consent, "portal")
        .await
    {
        Ok(case) => Redirect::to(&format!("/my-services/cases/{}", case.id)).into_response(),
        Err(e) => refused(e, shown).await,
    }
}

async fn case_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let lang = lang_of(&jar);
    let (csrf, jar) = csrf_of(&state, jar);
    let Some(session) = who_of(&state, &jar).await else {
        return Redirect::to("/my-services").into_response();
    };
    let notice = q.get("done").map(|d| d.as_str()).and_then(|d| match d {
        "resubmitted" => Some("my_services_resubmitted"),
        "rated" => Some("my_services_thanks"),
        _ => None,
    });
    (
        jar,
        own_case(&state, lang, &csrf, &session, &id, notice, None).await,
    )
        .into_response()
}

async fn own_case(
    state: &AppState,
    lang: Lang,
    csrf: &str,
    session: &Who,
    id: &str,
    notice: Option<&str>,
    error: Option<(Vec<String>, BTreeMap<String, String>)>,
) -> Response {
    let c = &state.engines.cases;
    let detail = match c.own_detail(&subject(session), id).await {
        Ok(d) => d,
        Err(e) => return problem_page(lang, &e.problem()),
    };
    let def = match c
        .definition(&detail.case.service, Some(detail.case.version))
        .await
    {
        Ok(d) => d,
        Err(e) => return problem_page(lang, &e.problem()),
    };
    state.names.refresh_if_stale(&state.engines).await;
    let steps: Vec<minijinja::Value> = detail
        .steps
        .iter()
        .map(|s| context! { department_name => department_name(state, &s.department), ..ser(s) })
        .collect();
    let returned: Vec<String> = detail
        .steps
        .iter()
        .filter(|s| s.state == "returned")
        .map(|s| s.note.clone())
        .collect();
    let form = def.labelled(&detail.form);
    let (error, field_errors) = error.unwrap_or_default();
    render(
        state,
        "my_service_case.html",
        context! {
            c => ser(&detail.case), service_name => detail.service_name.clone(),
            steps, returned, form, fields => ser(&def.fields), values => ser(&detail.form),
            materials => ser(&detail.materials), results => ser(&detail.results),
            uploads => def.materials.iter().filter(|m| !matches!(m.source, MaterialSource::Lookup { .. })).map(|m| context! { code => m.code.clone(), name => m.name.clone() }).collect::<Vec<_>>(),
            notice, error => (!error.is_empty()).then_some(error), field_errors,
            ..frame(state, lang, csrf, Some(session), &format!("/my-services/cases/{id}"))
        },
    )
}

/// 补正 (the corrected form, new uploads) or 好差评.
async fn case_action(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedMultipart(who, multipart): CheckedMultipart<Applying>,
) -> Response {
    let lang = who.lang;
    let c = &state.engines.cases;
    let me = subject(&who.session);
    // Which service the uploads belong to: the case row alone, not its whole page.
    let service = match c.own_case(&me, &id).await {
        Ok((case, _)) => case.service,
        Err(e) => return problem_page(lang, &e.problem()),
    };
    let done = async {
        let (mut form, _) = read_form(&state, &service, multipart).await?;
        let action = form.remove("action").unwrap_or_default();
        form.remove("csrf");
        match action.as_str() {
            "rate" => {
                let rating = form
                    .get("rating")
                    .and_then(|r| r.parse::<i64>().ok())
                    .unwrap_or(0);
                let note = form.get("note").cloned().unwrap_or_default();
                c.rate(&me, &id, rating, &note).await.map(|_| "rated")
            }
            _ => {
                form.remove("rating");
                form.remove("note");
                c.resubmit(&me, &id, form).await.map(|_| "resubmitted")
            }
        }
    }
    .await;
    match done {
        Ok(what) => Redirect::to(&format!("/my-services/cases/{id}?done={what}")).into_response(),
        Err(e)
            if matches!(
                e.problem().kind,
                shuniu_types::ErrorKind::Invalid | shuniu_types::ErrorKind::Conflict
            ) =>
        {
            let err = problem_of(lang, &e);
            own_case(&state, lang, &who.csrf, &who.session, &id, None, Some(err)).await
        }
        Err(e) => problem_page(lang, &e.problem()),
    }
}

async fn own_material(
    State(state): State<AppState>,
    jar: CookieJar,
    Path((id, code)): Path<(String, String)>,
) -> Response {
    let lang = lang_of(&jar);
    let Some(session) = who_of(&state, &jar).await else {
        return Redirect::to("/my-services").into_response();
    };
    match state
        .engines
        .cases
        .own_material(&subject(&session), &id, &code)
        .await
    {
        Ok(f) => crate::web::attachment(&f.mime, &f.name, f.bytes),
        Err(e) => problem_page(lang, &e.problem()),
    }
}

async fn result_document(
    State(state): State<AppState>,
    jar: CookieJar,
    Path((id, licence)): Path<(String, String)>,
) -> Response {
    let lang = lang_of(&jar);
    let Some(session) = who_of(&state, &jar).await else {
        return Redirect::to("/my-services").into_response();
    };
    let licence = licence.trim_end_matches(".pdf").to_string();
    match state
        .engines
        .cases
        .result_document(&subject(&session), &id, &licence)
        .await
    {
        Ok(pdf) => crate::web::licence_pdf(&licence, pdf),
        Err(e) => problem_page(lang, &e.problem()),
    }
}
