//! The public side of the portal: accounts of enterprises and researchers, their
//! applications for conditionally open data (有条件开放: the provider approves, the applicant
//! then gets a token for that one dataset, shown once and stored as an SM3 digest), and the
//! public's data requests (数据需求征集) that the hub answers. Every step is audited.

use shuniu_audit::{Entry, Kind};
use shuniu_policy::open::OpenAccess;
use shuniu_policy::{Action, Target, decide};
use shuniu_store::{ApplicationFilter, OpenApplicationRow, OpenRequestRow, OpenUserRow};
use shuniu_types::{Actor, CreditCode};

use crate::error::{OpenError, Result};
use crate::{Open, Reader};
use shuniu_types::states::OpenApplicationState;

/// How long a portal sign-in lasts.
const SESSION_HOURS: i64 = 12;

/// What someone registering on the portal submits.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Registration {
    /// An e-mail address, the sign-in name.
    pub login: String,
    pub password: String,
    pub name: String,
    /// enterprise or researcher
    pub kind: String,
    pub org_name: String,
    #[serde(default)]
    pub credit_code: String,
}

fn short_id() -> String {
    let mut b = [0u8; 5];
    let _ = getrandom::fill(&mut b);
    hex::encode(b).to_uppercase()
}

fn bounded(field: &str, zh: &str, value: &str, min: usize, max: usize) -> Result<String> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min || n > max {
        return Err(OpenError::invalid(
            "FIELD_INVALID",
            format!("{zh}应为 {min} 到 {max} 个字"),
            format!("{field} must be {min} to {max} characters"),
        ));
    }
    Ok(v.to_string())
}

impl Open {
    pub async fn register(&self, r: &Registration) -> Result<OpenUserRow> {
        let login = r.login.trim().to_lowercase();
        let email_ok = login.len() <= 100
            && login
                .split_once('@')
                .is_some_and(|(a, d)| !a.is_empty() && d.contains('.') && !d.starts_with('.'))
            && !login.chars().any(char::is_whitespace);
        if !email_ok {
            return Err(OpenError::invalid(
                "LOGIN_INVALID",
                "请用电子邮箱地址注册",
                "register with an e-mail address",
            ));
        }
        shuniu_auth::check_password_strength(&r.password).map_err(|e| {
            OpenError::invalid(
                "PASSWORD_WEAK",
                "密码至少 10 位，且不能全为数字或全为字母",
                format!("password too weak: {e}"),
            )
        })?;
        let name = bounded("name", "姓名", &r.name, 1, 50)?;
        let org_name = bounded("org_name", "单位名称", &r.org_name, 2, 100)?;
        let credit_code = match r.kind.as_str() {
            "enterprise" => {
                let c: CreditCode = r.credit_code.trim().parse().map_err(|_| {
                    OpenError::invalid(
                        "CREDIT_CODE_INVALID",
                        "企业须填写有效的统一社会信用代码（GB 32100）",
                        "an enterprise needs a valid unified social credit code (GB 32100)",
                    )
                })?;
                Some(c.as_str().to_string())
            }
            "researcher" => None,
            _ => {
                return Err(OpenError::invalid(
                    "KIND_INVALID",
                    "注册类型应为企业或科研人员",
                    "kind must be enterprise or researcher",
                ));
            }
        };
        let hash = shuniu_auth::hash_password(&r.password)
            .map_err(|e| OpenError::Index(format!("password hashing: {e}")))?;
        let user = OpenUserRow {
            login: login.clone(),
            name,
            kind: r.kind.clone(),
            org_name,
            credit_code,
            password_hash: hash,
            created_at: shuniu_store::now(),
        };
        let mut tx = self.inner.store.begin().await?;
        tx.insert_open_user(&user).await.map_err(|e| match e {
            shuniu_store::StoreError::Conflict { .. } => OpenError::invalid(
                "LOGIN_TAKEN",
                "该邮箱已注册",
                "this e-mail address is already registered",
            ),
            e => e.into(),
        })?;
        tx.commit().await?;
        let e = Entry::by(Kind::Admin, "open.register", &format!("open:{login}"), "")
            .channel("open")
            .target(user.kind.clone());
        self.inner.audit.record(e).await?;
        Ok(user)
    }

    /// Signs in; returns the session token.
    pub async fn sign_in(&self, login: &str, password: &str) -> Result<String> {
        let login = login.trim().to_lowercase();
        let user = self.inner.store.open_user(&login).await?;
        let ok = user
            .as_ref()
            .is_some_and(|u| shuniu_auth::verify_password(password, &u.password_hash));
        let mut e =
            Entry::by(Kind::Auth, "open.login", &format!("open:{login}"), "").channel("open");
        if !ok {
            e.result = "LOGIN_FAILED".into();
            self.inner.audit.record(e).await?;
            return Err(OpenError::invalid(
                "LOGIN_FAILED",
                "邮箱或密码不正确",
                "wrong e-mail address or password",
            ));
        }
        let token = shuniu_auth::random_token()
            .map_err(|e| OpenError::Index(format!("no randomness: {e}")))?;
        let expires = (chrono::Utc::now() + chrono::Duration::hours(SESSION_HOURS))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut tx = self.inner.store.begin().await?;
        tx.insert_open_session(&shuniu_auth::token_digest(&token), &login, &expires)
            .await?;
        tx.commit().await?;
        self.inner.audit.record(e).await?;
        Ok(token)
    }

    pub async fn session(&self, token: &str) -> Result<Option<OpenUserRow>> {
        Ok(self
            .inner
            .store
            .open_session(&shuniu_auth::token_digest(token))
            .await?)
    }

    pub async fn sign_out(&self, token: &str) -> Result<()> {
        let mut tx = self.inner.store.begin().await?;
        tx.delete_open_session(&shuniu_auth::token_digest(token))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies for a conditionally open dataset.
    pub async fn apply(
        &self,
        user: &OpenUserRow,
        code: &str,
        purpose: &str,
    ) -> Result<OpenApplicationRow> {
        let snap = self.snapshot();
        let pkg = snap
            .package(code)
            .cloned()
            .ok_or_else(|| OpenError::NotFound(format!("open dataset {code}")))?;
        if pkg.access != OpenAccess::Conditional {
            return Err(OpenError::invalid(
                "NOT_CONDITIONAL",
                "该数据集无条件开放，无需申请",
                "this dataset is open to all: no application is needed",
            ));
        }
        let purpose = bounded("purpose", "用途", purpose, 10, 1000)?;
        let mine = self
            .inner
            .store
            .open_applications(&ApplicationFilter {
                applicant: Some(user.login.clone()),
                code: Some(pkg.code.clone()),
                ..Default::default()
            })
            .await?;
        if mine
            .iter()
            .any(|a| a.state == OpenApplicationState::Pending)
        {
            return Err(OpenError::state(
                "已有待审批的申请",
                "an application for this dataset is already pending",
            ));
        }
        let app = OpenApplicationRow {
            id: format!("OA{}-{}", chrono::Utc::now().format("%Y%m%d"), short_id()),
            code: pkg.code.clone(),
            provider: pkg.provider.clone(),
            applicant: user.login.clone(),
            purpose,
            state: OpenApplicationState::Pending,
            has_token: false,
            decided_by: None,
            reason: String::new(),
            created_at: shuniu_store::now(),
            decided_at: None,
        };
        let mut tx = self.inner.store.begin().await?;
        tx.insert_open_application(&app).await?;
        tx.commit().await?;
        let mut e = Entry::by(
            Kind::Admin,
            "open.apply",
            &format!("open:{}", user.login),
            "",
        )
        .channel("open")
        .resource(&pkg.code, &pkg.provider)
        .target(app.id.clone());
        e.purpose = Some(app.purpose.clone());
        self.inner.audit.record(e).await?;
        Ok(app)
    }

    /// The provider (or the hub) approves or refuses an application.
    pub async fn decide_application(
        &self,
        actor: &Actor,
        id: &str,
        approve: bool,
        reason: &str,
    ) -> Result<OpenApplicationRow> {
        let app = self
            .inner
            .store
            .open_application(id)
            .await?
            .ok_or_else(|| OpenError::NotFound(format!("application {id}")))?;
        decide(
            actor,
            Action::ManageOpenData,
            Target::Resource {
                provider: &app.provider,
                status: shuniu_types::ResourceStatus::Published,
            },
        )?;
        if !approve && reason.trim().is_empty() {
            return Err(OpenError::invalid(
                "REASON_REQUIRED",
                "不予批准须说明理由",
                "a refusal needs a reason",
            ));
        }
        let state = if approve {
            OpenApplicationState::Approved
        } else {
            OpenApplicationState::Refused
        };
        let mut tx = self.inner.store.begin().await?;
        if !tx
            .decide_open_application(id, state, &actor.principal, reason.trim())
            .await?
        {
            return Err(OpenError::state(
                "该申请已处理",
                "this application has already been decided",
            ));
        }
        tx.commit().await?;
        let mut e = Entry::new(Kind::Admin, &format!("open.application.{state}"), actor)
            .channel("console")
            .resource(&app.code, &app.provider)
            .target(id.to_string());
        e.detail = (!reason.trim().is_empty()).then(|| reason.trim().to_string());
        self.inner.audit.record(e).await?;
        self.inner
            .store
            .open_application(id)
            .await?
            .ok_or_else(|| OpenError::NotFound(format!("application {id}")))
    }

    /// Issues (or replaces) the data token of an approved application; shown once.
    pub async fn issue_token(&self, user: &OpenUserRow, id: &str) -> Result<String> {
        let app = self
            .inner
            .store
            .open_application(id)
            .await?
            .filter(|a| a.applicant == user.login)
            .ok_or_else(|| OpenError::NotFound(format!("application {id}")))?;
        if app.state != OpenApplicationState::Approved {
            return Err(OpenError::state(
                "申请尚未获批",
                "the application has not been approved",
            ));
        }
        let token = format!(
            "snd_{}",
            shuniu_auth::random_token().map_err(|e| OpenError::Index(e.to_string()))?
        );
        let mut tx = self.inner.store.begin().await?;
        tx.set_open_token(id, &shuniu_auth::token_digest(&token))
            .await?;
        tx.commit().await?;
        let e = Entry::by(
            Kind::Admin,
            "open.token",
            &format!("open:{}", user.login),
            "",
        )
        .channel("open")
        .resource(&app.code, &app.provider)
        .target(id.to_string());
        self.inner.audit.record(e).await?;
        Ok(token)
    }

    /// The reader a data token stands for, if it belongs to an approved application.
    pub async fn reader_for_token(&self, token: &str) -> Result<Option<Reader>> {
        let app = self
            .inner
            .store
            .open_application_by_token(&shuniu_auth::token_digest(token.trim()))
            .await?;
        Ok(app.map(|a| Reader {
            principal: format!("open:{}", a.applicant),
            application: Some(a.id),
            token_code: Some(a.code),
        }))
    }

    /// Applications a department decides on (the hub: all).
    pub async fn applications_for(&self, actor: &Actor) -> Result<Vec<OpenApplicationRow>> {
        let filter = ApplicationFilter {
            provider: shuniu_policy::require_scope(actor, Action::ReadOpenData)?
                .department()
                .map(str::to_string),
            ..Default::default()
        };
        Ok(self.inner.store.open_applications(&filter).await?)
    }

    pub async fn my_applications(&self, user: &OpenUserRow) -> Result<Vec<OpenApplicationRow>> {
        Ok(self
            .inner
            .store
            .open_applications(&ApplicationFilter {
                applicant: Some(user.login.clone()),
                ..Default::default()
            })
            .await?)
    }

    /// Posts a public data request.
    pub async fn post_request(
        &self,
        title: &str,
        description: &str,
        department: Option<&str>,
        contact: &str,
        who: &str,
    ) -> Result<OpenRequestRow> {
        let title = bounded("title", "标题", title, 4, 100)?;
        let description = bounded("description", "需求描述", description, 10, 2000)?;
        let department = match department.map(str::trim).filter(|d| !d.is_empty()) {
            Some(d) => {
                if self.inner.store.department(d).await?.is_none() {
                    return Err(OpenError::invalid(
                        "DEPARTMENT_UNKNOWN",
                        "没有这个部门",
                        "no such department",
                    ));
                }
                Some(d.to_string())
            }
            None => None,
        };
        let r = OpenRequestRow {
            id: format!("DR{}-{}", chrono::Utc::now().format("%Y%m%d"), short_id()),
            title,
            description,
            department,
            contact: contact.trim().chars().take(100).collect(),
            state: "open".into(),
            answer: String::new(),
            answered_by: None,
            created_at: shuniu_store::now(),
            answered_at: None,
        };
        let mut tx = self.inner.store.begin().await?;
        tx.insert_open_request(&r).await?;
        tx.commit().await?;
        let e = Entry::by(Kind::Admin, "open.request", who, "")
            .channel("open")
            .target(r.id.clone());
        self.inner.audit.record(e).await?;
        Ok(r)
    }

    pub async fn answer_request(
        &self,
        actor: &Actor,
        id: &str,
        answer: &str,
    ) -> Result<OpenRequestRow> {
        decide(actor, Action::AnswerOpenRequest, Target::Hub)?;
        let answer = bounded("answer", "答复", answer, 2, 2000)?;
        let mut tx = self.inner.store.begin().await?;
        if !tx
            .answer_open_request(id, &answer, &actor.principal)
            .await?
        {
            return Err(OpenError::NotFound(format!("data request {id}")));
        }
        tx.commit().await?;
        let e = Entry::new(Kind::Admin, "open.request.answer", actor)
            .channel("console")
            .target(id.to_string());
        self.inner.audit.record(e).await?;
        self.inner
            .store
            .open_request(id)
            .await?
            .ok_or_else(|| OpenError::NotFound(format!("data request {id}")))
    }

    pub async fn requests(&self) -> Result<Vec<OpenRequestRow>> {
        Ok(self.inner.store.open_requests(500).await?)
    }
}
