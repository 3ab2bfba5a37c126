//! The one shape every validation failure takes: a stable code, the field it concerns, and
//! a message in Simplified Chinese and in English.

use serde::Serialize;

/// Something that can explain itself to a user in both console languages.
pub trait Localized {
    /// Stable machine-readable code, e.g. `CATALOG_NAME_REQUIRED`. Never changes once shipped.
    fn code(&self) -> &'static str;
    fn message_zh(&self) -> String;
    fn message_en(&self) -> String;
}

/// One invalid field of a submitted object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `data_items[3].length`.
    pub field: String,
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code,
            message_zh: zh.into(),
            message_en: en.into(),
        }
    }

    /// The same error, for a field nested under `prefix`.
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} / {}",
            self.field, self.message_zh, self.message_en
        )
    }
}

impl std::error::Error for FieldError {}

/// What kind of failure an error is. Every engine error is classified once, by its own crate
/// ([`Classified`]); the server maps each kind once to an HTTP status, a console or portal
/// page and a CKAN error type, so no caller ever matches on another crate's error variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request cannot be read at all (bad syntax, unknown parameter shapes): 400.
    BadRequest,
    /// The request was read but what it asks is invalid; `fields` names each offence: 422.
    Invalid,
    /// Who is asking is not established (no or bad credentials): 401.
    Unauthenticated,
    /// The actor is known and refused: 403.
    Denied,
    /// The thing does not exist, or the actor may not learn that it exists: 404.
    NotFound,
    /// The thing is not in a state that allows this, or was changed meanwhile: 409.
    Conflict,
    /// Past a rate limit or quota; `retry_after` says when to try again: 429.
    Limited,
    /// A service the hub depends on (the control plane, the audit log) is down; retry: 503.
    Unavailable,
    /// A fault of the hub. The user sees a generic message; the detail goes to the log: 500.
    Internal,
}

impl ErrorKind {
    /// Whether the fault is the hub's (logged as an error) rather than the caller's.
    pub fn is_server_fault(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::Internal)
    }
}

/// An error explained for people and programs: its kind, a stable code, messages in both
/// console languages and, for invalid input, every offending field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ErrorKind,
    /// Stable machine-readable code, e.g. `VALIDATION_FAILED`. Never changes once shipped.
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
    pub fields: Vec<FieldError>,
    /// Seconds until a retry may succeed (`Limited`).
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(
        kind: ErrorKind,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Problem {
        Problem {
            kind,
            code,
            message_zh: zh.into(),
            message_en: en.into(),
            fields: Vec::new(),
            retry_after: None,
        }
    }

    /// Something asked for that is not there, named in the messages (`request SQ…`).
    pub fn not_found(what: &str) -> Problem {
        Problem::new(
            ErrorKind::NotFound,
            "NOT_FOUND",
            format!("未找到：{what}"),
            format!("{what} not found"),
        )
    }

    /// Input refused with its own code and messages.
    pub fn invalid(code: &'static str, zh: &str, en: &str) -> Problem {
        Problem::new(ErrorKind::Invalid, code, zh, en)
    }

    /// Invalid input, every offending field named.
    pub fn invalid_fields(errors: &[FieldError]) -> Problem {
        Problem {
            fields: errors.to_vec(),
            ..Problem::new(
                ErrorKind::Invalid,
                "VALIDATION_FAILED",
                format!("有 {} 处填写有误", errors.len()),
                format!("{} field(s) are invalid", errors.len()),
            )
        }
    }

    /// A fault of the hub, explained by `detail` (for the log; pages show a generic text).
    pub fn internal(code: &'static str, detail: &dyn std::fmt::Display) -> Problem {
        Problem::new(
            ErrorKind::Internal,
            code,
            format!("内部错误：{detail}"),
            format!("internal error: {detail}"),
        )
    }
}

/// An error that knows its own [`Problem`]. Each library's error type implements it once,
/// delegating to the errors it wraps.
pub trait Classified: std::error::Error + Send + Sync + 'static {
    fn problem(&self) -> Problem;

    fn kind(&self) -> ErrorKind {
        self.problem().kind
    }
}

impl Classified for FieldError {
    fn problem(&self) -> Problem {
        Problem::invalid_fields(std::slice::from_ref(self))
    }
}
