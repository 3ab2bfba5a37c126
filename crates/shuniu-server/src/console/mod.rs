//! The web console: server-rendered pages in Simplified Chinese with an English switch
//! (remembered in a cookie). Console users sign in with a password; the session cookie is
//! HttpOnly and SameSite=Lax, and every form carries the session's CSRF token.

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use minijinja::Value;
use serde::Serialize;
use shuniu_types::{
    CategoryKind, DataType, MaskingRule, OpenType, ResourceFormat, SecurityLevel, SemanticType,
    ShareMethod, ShareType, UpdateCycle,
};
use std::collections::BTreeMap;

macro_rules! choices {
    ($t:ty) => {
        <$t>::ALL
            .iter()
            .map(|v| Choice {
                code: v.code(),
                zh: v.zh(),
                en: v.en(),
            })
            .collect::<Vec<_>>()
    };
}

/// The value of an engine read, or else the handler answers with the error page: a failed
/// read never shows as an empty list.
macro_rules! tried {
    ($user:expr, $read:expr) => {
        match $read {
            Ok(v) => v,
            Err(e) => return $user.fail(e),
        }
    };
}

mod admin;
pub(crate) mod audit;
mod cases;
mod catalog;
mod citizen;
mod data;
mod enterprise;
mod events;
mod federated;
mod indicators;
mod libraries;
mod licences;
mod my_services;
mod nav;
mod opendata;
mod policies;
mod quality;
mod session;
mod sharing;
mod workbench;

pub(crate) use session::{ConsoleUser, page, urlencode};

use crate::AppState;
use crate::web::ser;

#[derive(Serialize)]
struct Choice {
    code: &'static str,
    zh: &'static str,
    en: &'static str,
}

/// The options of a list's state filter: each state's code and its name in the user's language.
fn options<T: shuniu_types::Vocabulary>(
    lang: crate::i18n::Lang,
) -> Vec<(&'static str, &'static str)> {
    T::all()
        .iter()
        .map(|v| (v.code(), lang.pick(v.zh(), v.en())))
        .collect()
}

fn vocabularies() -> Value {
    ser(BTreeMap::from([
        ("category", choices!(CategoryKind)),
        ("share_type", choices!(ShareType)),
        ("open_type", choices!(OpenType)),
        ("share_method", choices!(ShareMethod)),
        ("update_cycle", choices!(UpdateCycle)),
        ("level", choices!(SecurityLevel)),
        ("format", choices!(ResourceFormat)),
        ("data_type", choices!(DataType)),
        ("semantic_type", choices!(SemanticType)),
        ("masking", choices!(MaskingRule)),
    ]))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(workbench::workbench))
        .route(
            "/login",
            get(session::login_page).post(session::login_submit),
        )
        .route("/login/sso", get(federated::sso_start))
        .route("/login/sso/callback", get(federated::sso_callback))
        .route("/logout", post(session::logout))
        .route("/lang/{lang}", get(session::set_lang))
        .route("/catalog", get(catalog::catalog_page))
        .route(
            "/catalog/new",
            get(catalog::new_form).post(catalog::new_submit),
        )
        .route("/catalog/r/{code}", get(catalog::resource_page))
        .route(
            "/catalog/r/{code}/edit",
            get(catalog::edit_form).post(catalog::edit_submit),
        )
        .route("/catalog/r/{code}/{action}", post(catalog::resource_action))
        .route("/review", get(catalog::review_page))
        .route("/negative-list", get(catalog::negative_page))
        .route(
            "/lists",
            get(|| async { Redirect::to("/lists/aggregation") }),
        )
        .route("/lists/{kind}", get(catalog::lists_page))
        .route("/departments", get(catalog::departments_page))
        .route(
            "/import",
            get(catalog::import_page).post(catalog::import_submit),
        )
        .route("/export.xlsx", get(catalog::export_xlsx))
        .route("/admin/users", get(admin::users_page).post(admin::add_user))
        .route(
            "/admin/applications",
            get(admin::applications_page).post(admin::add_application),
        )
        .route(
            "/admin/applications/{id}/revoke",
            post(admin::revoke_application),
        )
        .merge(data::router())
        .merge(audit::router())
        .merge(citizen::router())
        .merge(enterprise::router())
        .merge(quality::router())
        .merge(libraries::router())
        .merge(events::router())
        .merge(indicators::router())
        .merge(policies::router())
        .merge(cases::router())
        .merge(my_services::router())
        .merge(licences::router())
        .merge(sharing::router())
        .merge(opendata::router())
}

#[cfg(test)]
mod tests {
    use super::catalog::input_from_form;
    use super::session::safe_next;

    #[test]
    fn redirects_stay_on_site() {
        assert_eq!(safe_next(Some(&"/catalog?q=x".to_string())), "/catalog?q=x");
        assert_eq!(safe_next(Some(&"//evil.example".to_string())), "/");
        assert_eq!(safe_next(Some(&"https://evil.example".to_string())), "/");
        assert_eq!(safe_next(Some(&"/\\evil".to_string())), "/");
    }

    #[test]
    fn form_parsing_skips_blank_rows_and_keeps_bad_numbers_visible() {
        let form: Vec<(String, String)> = vec![
            ("name".into(), "人口".into()),
            ("item_code".into(), "abc".into()),
            ("items-0-name".into(), "id_number".into()),
            ("items-0-label".into(), "身份证号".into()),
            ("items-0-length".into(), "x".into()),
            ("items-0-personal".into(), "on".into()),
            ("items-1-name".into(), "".into()),
            ("items-1-label".into(), "".into()),
        ];
        let input = input_from_form(&form);
        assert_eq!(input.item_code, 0);
        assert_eq!(input.data_items.len(), 1);
        assert_eq!(input.data_items[0].length, Some(0));
        assert!(input.data_items[0].personal);
    }
}
