//! The hub's directory: departments, users, sessions and API applications.

use serde::Deserialize;
use shuniu_audit::{AuditError, AuditLog, Entry, Kind};
use shuniu_policy::{Action, Denied, Target, decide};
use shuniu_store::{
    Application, Department, NewApplication, NewDepartment, NewUser, Store, StoreError, User,
};
use shuniu_types::text::bounded;
use shuniu_types::{Actor, Classified, DivisionCode, ErrorKind, FieldError, Problem, Role};
use std::collections::HashMap;
use std::time::Duration;

mod federated;
pub use federated::{CITIZEN_SESSION_TTL, CitizenSession, SignInError, SignInPurpose};

use crate::{
    AuthError, check_password_strength, constant_time_eq, hash_password, new_api_key, random_token,
    token_digest, verify_password,
};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("{}", .0.message_en)]
    Denied(Denied),
    #[error("wrong login or password")]
    BadCredentials,
    #[error("too many failed logins; try again in {minutes} minutes")]
    Locked { minutes: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Oidc(#[from] crate::oidc::OidcError),
    #[error(transparent)]
    SignIn(federated::SignInError),
}

impl AccountError {
    pub fn code(&self) -> &'static str {
        match self {
            AccountError::Invalid(_) => "VALIDATION_FAILED",
            AccountError::Denied(d) => d.code,
            AccountError::BadCredentials => "BAD_CREDENTIALS",
            AccountError::Locked { .. } => "LOGIN_LOCKED",
            AccountError::Store(e) => e.code(),
            AccountError::Auth(e) => e.code(),
            AccountError::Audit(e) => e.code(),
            AccountError::Oidc(e) => e.code(),
            AccountError::SignIn(e) => e.code(),
        }
    }
}

impl Classified for AccountError {
    fn problem(&self) -> Problem {
        match self {
            AccountError::Invalid(errors) => Problem::invalid_fields(errors),
            AccountError::Denied(d) => d.problem(),
            AccountError::BadCredentials => Problem::new(
                ErrorKind::Unauthenticated,
                self.code(),
                "用户名或密码错误",
                "wrong login or password",
            ),
            AccountError::Locked { minutes } => Problem {
                retry_after: Some(minutes * 60),
                ..Problem::new(
                    ErrorKind::Limited,
                    self.code(),
                    format!("登录失败次数过多，请 {minutes} 分钟后再试"),
                    format!("too many failed logins; try again in {minutes} minutes"),
                )
            },
            AccountError::Store(e) => e.problem(),
            AccountError::Auth(e) => e.problem(),
            AccountError::Audit(e) => e.problem(),
            AccountError::Oidc(e) => e.problem(),
            AccountError::SignIn(e) => e.problem(),
        }
    }
}

impl From<Denied> for AccountError {
    fn from(d: Denied) -> Self {
        AccountError::Denied(d)
    }
}

impl From<FieldError> for AccountError {
    fn from(e: FieldError) -> Self {
        AccountError::Invalid(vec![e])
    }
}

pub type Result<T, E = AccountError> = std::result::Result<T, E>;

/// A department as submitted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DepartmentInput {
    /// Short stable code, e.g. `370200GA`: letters and digits.
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub parent_code: Option<String>,
    /// GB/T 2260 code of the area the department serves.
    pub division: String,
    pub credit_code: Option<String>,
}

/// How long a console session lasts without a new login.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// A console login: the token goes in the cookie, the CSRF token in every form.
pub struct LoginSession {
    pub token: String,
    pub csrf: String,
    pub user: User,
}

/// Failed logins allowed for one login name before it is locked for [`LOCKOUT`].
pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// Consecutive failed logins per login name, in this process. Unknown names are counted too,
/// so the lock reveals nothing about which accounts exist.
#[derive(Default)]
struct Failures {
    by_login: HashMap<String, (u32, std::time::Instant)>,
}

impl Failures {
    fn locked(&mut self, login: &str) -> Option<Duration> {
        let (count, last) = *self.by_login.get(login)?;
        let elapsed = last.elapsed();
        if elapsed >= LOCKOUT {
            self.by_login.remove(login);
            return None;
        }
        (count >= MAX_FAILURES).then(|| LOCKOUT - elapsed)
    }

    fn failed(&mut self, login: &str) {
        if self.by_login.len() > 100_000 {
            self.by_login
                .retain(|_, (_, last)| last.elapsed() < LOCKOUT);
        }
        let entry = self
            .by_login
            .entry(login.to_string())
            .or_insert((0, std::time::Instant::now()));
        entry.0 += 1;
        entry.1 = std::time::Instant::now();
    }
}

/// Who is who, by code: see [`Accounts::names`].
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Department code → name.
    pub departments: HashMap<String, String>,
    /// Principal (a user's login, `app:{id}` for an application) → display name.
    pub principals: HashMap<String, String>,
}

#[derive(Clone)]
pub struct Accounts {
    store: Store,
    audit: AuditLog,
    failures: std::sync::Arc<std::sync::Mutex<Failures>>,
}

fn actor_of(user: &User) -> Actor {
    Actor {
        principal: user.login.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
        department: user.department_code.clone(),
    }
}

/// A login or application id: up to 64 letters, digits and `. _ -`.
fn short_name(
    field: &str,
    value: &str,
    code: &'static str,
    what_zh: &str,
    what_en: &str,
) -> Result<String> {
    let v = bounded(field, value, true, 64)?;
    if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(FieldError::new(
            field,
            code,
            format!("{what_zh}只能包含字母、数字和 . _ -"),
            format!("{what_en} is letters, digits and . _ -"),
        )
        .into());
    }
    Ok(v)
}

/// Checks a new password's strength and hashes it off the async threads.
async fn strong_password_hash(password: &str) -> Result<String> {
    check_password_strength(password).map_err(|e| {
        FieldError::new(
            "password",
            e.code(),
            "密码至少 10 位，且不能只含数字或只含字母",
            e.to_string(),
        )
    })?;
    let pw = password.to_string();
    Ok(tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))??)
}

impl Accounts {
    async fn require_department(&self, department: &str) -> Result<()> {
        if self.store.department(department).await?.is_none() {
            return Err(FieldError::new(
                "department",
                "DEPARTMENT_UNKNOWN",
                format!("部门“{department}”不存在"),
                format!("no department “{department}”"),
            )
            .into());
        }
        Ok(())
    }

    pub fn new(store: Store, audit: AuditLog) -> Accounts {
        Accounts {
            store,
            audit,
            failures: Default::default(),
        }
    }

    /// Records an administrative action; returns once the entry is durable.
    async fn audited(&self, actor: &Actor, action: &str, target: &str) -> Result<()> {
        self.audit
            .record(Entry::new(Kind::Admin, action, actor).target(target))
            .await?;
        Ok(())
    }

    /// Display names of departments, console users and applications, for pages that show
    /// names where records hold codes (`370200MZ` → 青岛市民政局, `app:x` → its name). Names
    /// are not secrets: reading them needs no decision and is not audited.
    pub async fn names(&self) -> Result<Names> {
        let departments = self
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.code, d.name))
            .collect();
        let mut principals: HashMap<String, String> = self
            .store
            .users()
            .await?
            .into_iter()
            .map(|u| (u.login, u.display_name))
            .collect();
        for app in self.store.applications().await? {
            principals.insert(format!("app:{}", app.id), app.name);
        }
        Ok(Names {
            departments,
            principals,
        })
    }

    pub async fn departments(&self) -> Result<Vec<Department>> {
        Ok(self.store.departments().await?)
    }

    pub async fn create_department(
        &self,
        actor: &Actor,
        input: &DepartmentInput,
    ) -> Result<Department> {
        decide(actor, Action::ManageDepartments, Target::Hub)?;
        let mut errors = Vec::new();
        let code = bounded("code", &input.code, true, 32)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        if !code.is_empty() && !code.chars().all(|c| c.is_ascii_alphanumeric()) {
            errors.push(FieldError::new(
                "code",
                "DEPARTMENT_CODE_FORMAT",
                "部门代码只能包含字母和数字",
                "a department code is letters and digits only",
            ));
        }
        let name = bounded("name", &input.name, true, 100)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        let short_name = bounded("short_name", &input.short_name, true, 20)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        let division = input
            .division
            .parse::<DivisionCode>()
            .map_err(|e| errors.push(e.under("division")))
            .ok();
        let credit_code = match input
            .credit_code
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(c) => c
                .parse::<shuniu_types::CreditCode>()
                .map_err(|e| errors.push(e.under("credit_code")))
                .ok()
                .map(|c| c.to_string()),
            None => None,
        };
        let parent_code = input
            .parent_code
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from);
        if let Some(p) = &parent_code
            && self.store.department(p).await?.is_none()
        {
            errors.push(FieldError::new(
                "parent_code",
                "PARENT_UNKNOWN",
                format!("上级部门“{p}”不存在"),
                format!("no department has the code “{p}”"),
            ));
        }
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        let new = NewDepartment {
            code: code.clone(),
            name,
            short_name,
            parent_code,
            division: division.map(|d| d.to_string()).unwrap_or_default(),
            credit_code,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_department(&new).await.map_err(|e| match e {
            StoreError::Conflict { .. } => AccountError::Invalid(vec![FieldError::new(
                "code",
                "DEPARTMENT_EXISTS",
                "部门代码或名称已存在",
                "a department with this code or name exists",
            )]),
            e => e.into(),
        })?;
        tx.commit().await?;
        self.audited(actor, "identity.create_department", &code)
            .await?;
        self.store
            .department(&code)
            .await?
            .ok_or_else(|| StoreError::NotFound { what: code }.into())
    }

    pub async fn create_user(
        &self,
        actor: &Actor,
        login: &str,
        display_name: &str,
        role: Role,
        department: &str,
        password: &str,
    ) -> Result<User> {
        decide(actor, Action::ManageUsers, Target::Hub)?;
        let login = short_name("login", login, "LOGIN_FORMAT", "登录名", "a login")?;
        let display_name = bounded("display_name", display_name, true, 50)?;
        self.require_department(department).await?;
        let password_hash = strong_password_hash(password).await?;
        let new = NewUser {
            login: login.clone(),
            display_name,
            role,
            department_code: department.to_string(),
            password_hash,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_user(&new).await.map_err(|e| match e {
            StoreError::Conflict { .. } => AccountError::from(FieldError::new(
                "login",
                "LOGIN_EXISTS",
                "登录名已存在",
                "this login exists",
            )),
            e => e.into(),
        })?;
        tx.commit().await?;
        self.audited(actor, "identity.create_user", &login).await?;
        self.store
            .user(&login)
            .await?
            .ok_or_else(|| StoreError::NotFound { what: login }.into())
    }

    /// Sets a new password (hub operator); the user's open sessions end.
    pub async fn set_password(&self, actor: &Actor, login: &str, password: &str) -> Result<()> {
        decide(actor, Action::ManageUsers, Target::Hub)?;
        let hash = strong_password_hash(password).await?;
        let mut tx = self.store.begin().await?;
        tx.set_password(login, &hash).await?;
        tx.commit().await?;
        self.audited(actor, "identity.set_password", login).await?;
        if let Ok(mut f) = self.failures.lock() {
            f.by_login.remove(&login.to_lowercase());
        }
        Ok(())
    }

    pub async fn users(&self, actor: &Actor) -> Result<Vec<User>> {
        decide(actor, Action::ManageUsers, Target::Hub)?;
        Ok(self.store.users().await?)
    }

    /// Checks a login and password and opens a session. Unknown logins cost the same time
    /// as wrong passwords, so that logins cannot be enumerated by timing.
    pub async fn login(&self, login: &str, password: &str) -> Result<LoginSession> {
        let key = login.trim().to_lowercase();
        let locked = self
            .failures
            .lock()
            .map(|mut f| f.locked(&key))
            .unwrap_or(None);
        if let Some(left) = locked {
            return Err(AccountError::Locked {
                minutes: left.as_secs().div_ceil(60),
            });
        }
        let result = self.check_password(login, password).await;
        let entry = match &result {
            Ok(s) => Entry::new(Kind::Auth, "auth.login", &actor_of(&s.user)),
            Err(e) => {
                let mut who = Actor::local_operator();
                who.principal = key.chars().take(64).collect();
                who.department = String::new();
                Entry::new(Kind::Auth, "auth.login", &who).result(e.code())
            }
        };
        self.audit.record(entry).await?;
        if let Ok(mut f) = self.failures.lock() {
            match &result {
                Err(AccountError::BadCredentials) => f.failed(&key),
                Ok(_) => {
                    f.by_login.remove(&key);
                }
                Err(_) => {}
            }
        }
        result
    }

    async fn check_password(&self, login: &str, password: &str) -> Result<LoginSession> {
        let user = self.store.user(login.trim()).await?;
        let (phc, usable) = match &user {
            Some(u) if !u.disabled => (u.password_hash.clone(), true),
            _ => (String::new(), false),
        };
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || {
            verify_password(&pw, if usable { &phc } else { dummy_hash() })
        })
        .await
        .unwrap_or(false);
        let (Some(user), true, true) = (user, ok, usable) else {
            return Err(AccountError::BadCredentials);
        };
        self.open_session(user).await
    }

    /// Opens a console session for a user whose identity has been checked.
    async fn open_session(&self, user: User) -> Result<LoginSession> {
        let token = random_token()?;
        let csrf = random_token()?;
        let mut tx = self.store.begin().await?;
        tx.insert_session(&token_digest(&token), &user.login, &csrf, SESSION_TTL)
            .await?;
        tx.commit().await?;
        Ok(LoginSession { token, csrf, user })
    }

    /// The actor and CSRF token behind a session cookie, if the session is live.
    pub async fn session(&self, token: &str) -> Result<Option<(Actor, String)>> {
        Ok(self
            .store
            .session(&token_digest(token))
            .await?
            .map(|(s, u)| (actor_of(&u), s.csrf_token)))
    }

    pub async fn logout(&self, token: &str) -> Result<()> {
        let mut tx = self.store.begin().await?;
        tx.delete_session(&token_digest(token)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Registers an API application; the returned key is shown once and never stored.
    pub async fn create_application(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
        department: &str,
        role: Role,
    ) -> Result<(Application, String)> {
        decide(actor, Action::ManageApplications, Target::Hub)?;
        let id = short_name(
            "id",
            id,
            "APPLICATION_ID_FORMAT",
            "应用标识",
            "an application id",
        )?;
        let name = bounded("name", name, true, 100)?;
        self.require_department(department).await?;
        let key = new_api_key()?;
        let new = NewApplication {
            id: id.clone(),
            name,
            department_code: department.into(),
            role,
            key_prefix: key.prefix.clone(),
            key_hash: key.digest.clone(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_application(&new).await.map_err(|e| match e {
            StoreError::Conflict { .. } => AccountError::from(FieldError::new(
                "id",
                "APPLICATION_EXISTS",
                "应用标识已存在",
                "this application id exists",
            )),
            e => e.into(),
        })?;
        tx.commit().await?;
        let app = self
            .store
            .application_by_key_hash(&key.digest)
            .await?
            .ok_or(StoreError::NotFound { what: id.clone() })?;
        self.audited(actor, "identity.create_application", &id)
            .await?;
        Ok((app, key.key))
    }

    pub async fn applications(&self, actor: &Actor) -> Result<Vec<Application>> {
        decide(actor, Action::ManageApplications, Target::Hub)?;
        Ok(self.store.applications().await?)
    }

    pub async fn revoke_application(&self, actor: &Actor, id: &str) -> Result<()> {
        decide(actor, Action::ManageApplications, Target::Hub)?;
        let mut tx = self.store.begin().await?;
        tx.revoke_application(id).await?;
        tx.commit().await?;
        self.audited(actor, "identity.revoke_application", id)
            .await?;
        Ok(())
    }

    /// The application behind an API key, as an actor; revoked keys authenticate no one.
    pub async fn authenticate_key(&self, key: &str) -> Result<Option<Actor>> {
        if !key.starts_with(crate::API_KEY_PREFIX) {
            return Ok(None);
        }
        let digest = token_digest(key);
        let Some(app) = self.store.application_by_key_hash(&digest).await? else {
            return Ok(None);
        };
        if app.revoked_at.is_some() {
            return Ok(None);
        }
        Ok(Some(Actor {
            principal: format!("app:{}", app.id),
            display_name: app.name,
            role: app.role,
            department: app.department_code,
        }))
    }
}

/// Verifying against this keeps the cost of a login for an unknown user equal to a real one.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("shuniu-no-such-user").unwrap_or_default())
}

/// Compares a submitted CSRF token with the session's.
pub fn csrf_matches(expected: &str, submitted: &str) -> bool {
    !expected.is_empty() && constant_time_eq(expected, submitted)
}
