/// A failure of the input as a whole: the load stops and the previous version stays.
/// Problems with single rows are [`crate::Rejection`]s instead.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{en}")]
    Input {
        code: &'static str,
        zh: String,
        en: String,
    },
    #[error("reading the input: {0}")]
    Io(#[from] std::io::Error),
    /// The consumer of the batches gave up (e.g. the lake write failed).
    #[error("the load was stopped: {0}")]
    Stopped(String),
}

impl IngestError {
    pub fn input(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        IngestError::Input {
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::Input { code, .. } => code,
            IngestError::Io(_) => "INPUT_UNREADABLE",
            IngestError::Stopped(_) => "LOAD_STOPPED",
        }
    }

    pub fn message_zh(&self) -> String {
        match self {
            IngestError::Input { zh, .. } => zh.clone(),
            IngestError::Io(e) => format!("读取输入失败：{e}"),
            IngestError::Stopped(e) => format!("汇聚已中止：{e}"),
        }
    }
}

impl shuniu_types::Classified for IngestError {
    fn problem(&self) -> shuniu_types::Problem {
        use shuniu_types::ErrorKind as K;
        let kind = match self {
            IngestError::Input { .. } => K::Invalid,
            IngestError::Io(_) | IngestError::Stopped(_) => K::Internal,
        };
        shuniu_types::Problem::new(kind, self.code(), self.message_zh(), self.to_string())
    }
}
