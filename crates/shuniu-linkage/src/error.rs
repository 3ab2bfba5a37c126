use thiserror::Error;

/// Why a linkage cannot run. Each has a stable code and a message in Chinese and English.
#[derive(Debug, Error)]
pub enum LinkError {
    #[error("{en}")]
    Settings { zh: String, en: String },
    #[error("{en}")]
    Input {
        code: &'static str,
        zh: String,
        en: String,
    },
    #[error(
        "the blocking rules would compare {pairs} pairs, over the limit of {limit} (per rule: {per_rule:?}); make the rules narrower"
    )]
    TooManyPairs {
        pairs: u64,
        limit: u64,
        per_rule: Vec<u64>,
    },
}

impl LinkError {
    pub fn code(&self) -> &'static str {
        match self {
            LinkError::Settings { .. } => "LINK_SETTINGS",
            LinkError::Input { code, .. } => code,
            LinkError::TooManyPairs { .. } => "LINK_TOO_MANY_PAIRS",
        }
    }

    pub fn message_zh(&self) -> String {
        match self {
            LinkError::Settings { zh, .. } | LinkError::Input { zh, .. } => zh.clone(),
            LinkError::TooManyPairs {
                pairs,
                limit,
                per_rule,
            } => format!(
                "分块规则将比较 {pairs} 对记录，超过上限 {limit}（各规则：{per_rule:?}）；请收窄分块规则"
            ),
        }
    }
}
