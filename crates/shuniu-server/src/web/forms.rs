//! Forms that cannot be read without a valid CSRF token. A handler that takes a
//! [`CheckedForm`] or a [`CheckedMultipart`] receives the fields only after the token the
//! form carried matched its session's (the console's signed-in session, or the portal's
//! double-submit cookie); a forged or stale form is answered 403 before the handler runs.

use std::ops::Deref;

use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shuniu_auth::accounts::csrf_matches;

use crate::AppState;
use crate::i18n::Lang;
use crate::web::error_page;

/// Who submits a form, as far as CSRF is concerned: the token their forms must carry.
pub(crate) trait CsrfSession:
    FromRequestParts<AppState, Rejection = Response> + Send
{
    fn expected_csrf(&self) -> &str;
    fn lang(&self) -> Lang;
}

/// The first value of `key`, trimmed; "" when absent.
pub(crate) fn text<'a>(form: &'a [(String, String)], key: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}

/// The first value of `key`, trimmed, if it is there and not blank.
pub(crate) fn filled<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    Some(text(form, key)).filter(|v| !v.is_empty())
}

/// Every non-blank value of a repeated `key` (checkboxes, multi-selects), trimmed.
pub(crate) fn all<'a>(form: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    form.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .collect()
}

/// A form's fields in the order they were sent (a repeated name keeps every value).
#[derive(Debug, Default)]
pub(crate) struct FormFields(Vec<(String, String)>);

impl FormFields {
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The fields by name (the first value of a repeated name), e.g. to show a form again.
    pub fn to_map(&self) -> std::collections::HashMap<String, String> {
        let mut map = std::collections::HashMap::new();
        for (k, v) in &self.0 {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        map
    }

    /// The first value of `key`, trimmed; "" when absent.
    pub fn text(&self, key: &str) -> &str {
        text(&self.0, key)
    }
}

impl Deref for FormFields {
    type Target = [(String, String)];
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

fn refused(lang: Lang) -> Response {
    error_page(
        lang,
        StatusCode::FORBIDDEN,
        "CSRF token missing or wrong / 表单已过期，请刷新页面后重试",
    )
}

/// A URL-encoded form whose `csrf` field matched the session's token: the session, then the
/// fields (`CheckedForm(user, form): CheckedForm<ConsoleUser>` in a handler's arguments).
pub(crate) struct CheckedForm<S>(pub S, pub FormFields);

impl<S: CsrfSession> FromRequest<AppState> for CheckedForm<S> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = S::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(req, state)
            .await
            .map_err(|e| error_page(session.lang(), StatusCode::BAD_REQUEST, &e.body_text()))?;
        let fields = FormFields(fields);
        if !csrf_matches(session.expected_csrf(), fields.text("csrf")) {
            return Err(refused(session.lang()));
        }
        Ok(CheckedForm(session, fields))
    }
}

/// A multipart form (file uploads) whose first field is `csrf` and matched the session's
/// token: nothing of the upload is read before the token is checked.
pub(crate) struct CheckedMultipart<S>(pub S, pub Multipart);

impl<S: CsrfSession> FromRequest<AppState> for CheckedMultipart<S> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = S::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let lang = session.lang();
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let token = match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("csrf") => {
                field.text().await.unwrap_or_default()
            }
            Ok(_) => String::new(),
            Err(e) => return Err(error_page(lang, StatusCode::BAD_REQUEST, &e.body_text())),
        };
        if !csrf_matches(session.expected_csrf(), &token) {
            return Err(refused(lang));
        }
        Ok(CheckedMultipart(session, multipart))
    }
}
