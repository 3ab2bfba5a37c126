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
