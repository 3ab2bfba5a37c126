//! Sign-in through an identity provider, citizens' sessions and sign-in rate limits. Flows,
//! sessions and attempt counts live in the control plane, so that every process of a
//! deployment sees the same ones.

use std::time::Duration;

use shuniu_audit::{Entry, Kind};
use shuniu_store::SignInFlowRow;
use shuniu_types::{Actor, Classified, CreditCode, ErrorKind, IdNumber, Problem};

use super::{AccountError, Accounts, LoginSession, Result, actor_of};
use crate::oidc::{Identity, IdentityProvider, OidcError};
use crate::{random_token, token_digest};

/// How long a citizen stays signed in to their own record.
pub const CITIZEN_SESSION_TTL: Duration = Duration::from_secs(30 * 60);
/// How long the identity provider has to send the person back.
const FLOW_TTL: Duration = Duration::from_secs(10 * 60);

/// Who a sign-in is for: it decides which session comes out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInPurpose {
    Citizen,
    /// A legal person (法人) on its enterprise's own page.
    Enterprise,
    Console,
}

impl SignInPurpose {
    fn code(self) -> &'static str {
        match self {
            SignInPurpose::Citizen => "citizen",
            SignInPurpose::Enterprise => "enterprise",
            SignInPurpose::Console => "console",
        }
    }
}

/// Why a sign-in through the provider did not open a session.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The answer's `state` is unknown, used already, expired or meant for the other page.
    #[error("this sign-in is unknown, expired or already used")]
    UnknownFlow,
    /// The provider named somebody the hub has no (enabled) console user for.
    #[error("no console user for {0}")]
    NoSuchUser(String),
    /// The provider's subject claim is not a valid ID number.
    #[error("the identity provider's ID number is not valid: {0}")]
    BadIdNumber(String),
    #[error("the identity provider's credit code is not valid: {0}")]
    BadCreditCode(String),
}

impl SignInError {
    pub fn code(&self) -> &'static str {
        match self {
            SignInError::UnknownFlow => "SIGN_IN_UNKNOWN",
            SignInError::NoSuchUser(_) => "SSO_NO_SUCH_USER",
            SignInError::BadIdNumber(_) => "SIGN_IN_BAD_ID_NUMBER",
            SignInError::BadCreditCode(_) => "SIGN_IN_BAD_CREDIT_CODE",
        }
    }
}

impl Classified for SignInError {
    fn problem(&self) -> Problem {
        match self {
            SignInError::UnknownFlow => Problem::new(
                ErrorKind::BadRequest,
                self.code(),
                "登录请求已失效或已使用，请重新登录",
                "this sign-in has expired or was used already: sign in again",
            ),
            SignInError::NoSuchUser(_) => Problem::new(
                ErrorKind::Denied,
                self.code(),
                "统一身份认证账号未对应本平台的用户，请联系平台管理员开通",
                "your single sign-on account has no user on this hub: ask the hub operator for one",
            ),
            SignInError::BadIdNumber(_) => Problem::new(
                ErrorKind::Unauthenticated,
                self.code(),
                "统一身份认证提供的身份证号码无效",
                "the identity provider's ID number is not valid",
            ),
            SignInError::BadCreditCode(_) => Problem::new(
                ErrorKind::Unauthenticated,
                self.code(),
                "法人身份认证提供的统一社会信用代码无效",
                "the legal-person identity provider's credit code is not valid",
            ),
        }
    }
}

/// An enterprise's session on its own page, opened by its legal person's sign-in.
#[derive(Debug, Clone)]
pub struct EnterpriseSession {
    pub enterprise: CreditCode,
    pub name: String,
    pub via: String,
}

/// A citizen signed in to their own record.
#[derive(Debug, Clone)]
pub struct CitizenSession {
    pub person: IdNumber,
    pub name: String,
    /// How the person signed in (the identity provider's issuer, or the demo's simulation).
    pub via: String,
}

impl Accounts {
    /// Starts a sign-in at `provider`: keeps the flow (state digest, nonce, PKCE verifier)
    /// and returns the URL to send the browser to, with the state to bind to the browser.
    pub async fn start_sign_in(
        &self,
        provider: &IdentityProvider,
        purpose: SignInPurpose,
        return_to: &str,
    ) -> Result<(String, String)> {
        let started = provider.start().await?;
        let mut tx = self.store.begin().await?;
        tx.insert_sign_in_flow(
            &token_digest(&started.state),
            &SignInFlowRow {
                purpose: purpose.code().into(),
                nonce: started.nonce,
                pkce_verifier: started.pkce_verifier,
                return_to: return_to.into(),
            },
            FLOW_TTL,
        )
        .await?;
        tx.commit().await?;
        Ok((started.url, started.state))
    }

    /// Takes the flow `state` names (once: a replayed answer finds nothing), checks that the
    /// answer names `provider` as its issuer when it names one (RFC 9207, against mix-ups),
    /// and has the provider confirm who signed in. Returns the identity and where to go next.
    /// Every refusal is audited.
    pub async fn finish_sign_in(
        &self,
        provider: &IdentityProvider,
        purpose: SignInPurpose,
        state: &str,
        code: &str,
        answered_by: Option<&str>,
    ) -> Result<(Identity, String)> {
        let outcome = async {
            let mut tx = self.store.begin().await?;
            let flow = tx.take_sign_in_flow(&token_digest(state)).await?;
            tx.commit().await?;
            let flow = match flow {
                Some(f) if f.purpose == purpose.code() => f,
                _ => return Err(SignInError::UnknownFlow.into()),
            };
            let trusted = provider.settings().issuer.trim_end_matches('/');
            if let Some(iss) = answered_by
                && iss.trim_end_matches('/') != trusted
            {
                return Err(OidcError::IssuerMismatch(iss.chars().take(200).collect()).into());
            }
            let identity = provider
                .finish(code, &flow.nonce, &flow.pkce_verifier)
                .await?;
            Ok::<_, AccountError>((identity, flow.return_to))
        }
        .await;
        if let Err(e) = &outcome {
            let mut who = Actor::local_operator();
            who.principal = purpose.code().into();
            who.department = String::new();
            self.audit
                .record(
                    Entry::new(Kind::Auth, "auth.sso", &who)
                        .result(e.code())
                        .detail(provider.settings().issuer.clone()),
                )
                .await?;
        }
        outcome
    }

    /// Opens a console session for the user the single sign-on named (by the configured
    /// claim). Only existing, enabled users: the provider says who somebody is, the hub what
    /// they may do.
    pub async fn sign_in_officer(&self, identity: &Identity) -> Result<LoginSession> {
        let user = self
            .store
            .user(&identity.claim)
            .await?
            .filter(|u| !u.disabled);
        let Some(user) = user else {
            let mut who = Actor::local_operator();
            who.principal = identity.claim.chars().take(64).collect();
            who.department = String::new();
            self.audit
                .record(
                    Entry::new(Kind::Auth, "auth.login", &who)
                        .result("SSO_NO_SUCH_USER")
                        .detail(format!("single sign-on {}", identity.issuer)),
                )
                .await?;
            return Err(SignInError::NoSuchUser(identity.claim.clone()).into());
        };
        let actor = actor_of(&user);
        let session = self.open_session(user).await?;
        self.audit
            .record(
                Entry::new(Kind::Auth, "auth.login", &actor)
                    .detail(format!("single sign-on {}", identity.issuer)),
            )
            .await?;
        Ok(session)
    }

    /// The person a citizen sign-in names, parsed at the edge.
    pub fn citizen_of(identity: &Identity) -> Result<IdNumber> {
        identity
            .claim
            .to_uppercase()
            .parse::<IdNumber>()
            .map_err(|e| SignInError::BadIdNumber(e.to_string()).into())
    }

    /// Opens a citizen session; the token goes in the citizen's cookie.
    pub async fn open_citizen_session(
        &self,
        person: &IdNumber,
        name: &str,
        via: &str,
    ) -> Result<String> {
        let token = random_token()?;
        let name: String = name.chars().take(50).collect();
        let mut tx = self.store.begin().await?;
        tx.insert_citizen_session(
            &token_digest(&token),
            "person",
            &person.to_string(),
            &name,
            via,
            CITIZEN_SESSION_TTL,
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The live citizen session behind a cookie.
    pub async fn citizen_session(&self, token: &str) -> Result<Option<CitizenSession>> {
        let Some(row) = self.store.citizen_session(&token_digest(token)).await? else {
            return Ok(None);
        };
        if row.subject_kind != "person" {
            return Ok(None);
        }
        // Stored from a parsed IdNumber: a row that no longer parses is not a session.
        Ok(row.id_number.parse().ok().map(|person| CitizenSession {
            person,
            name: row.name,
            via: row.via,
        }))
    }

    /// The enterprise a legal-person sign-in names (its credit code claim), parsed at the edge.
    pub fn enterprise_of(identity: &Identity) -> Result<CreditCode> {
        CreditCode::try_from(identity.claim.trim().to_uppercase())
            .map_err(|e| SignInError::BadCreditCode(e.to_string()).into())
    }

    /// Opens an enterprise's session (its legal person signed in); the token goes in the
    /// enterprise page's cookie.
    pub async fn open_enterprise_session(
        &self,
        enterprise: &CreditCode,
        name: &str,
        via: &str,
    ) -> Result<String> {
        let token = random_token()?;
        let name: String = name.chars().take(100).collect();
        let mut tx = self.store.begin().await?;
        tx.insert_citizen_session(
            &token_digest(&token),
            "enterprise",
            enterprise.as_str(),
            &name,
            via,
            CITIZEN_SESSION_TTL,
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The live enterprise session behind a cookie.
    pub async fn enterprise_session(&self, token: &str) -> Result<Option<EnterpriseSession>> {
        let Some(row) = self.store.citizen_session(&token_digest(token)).await? else {
            return Ok(None);
        };
        if row.subject_kind != "enterprise" {
            return Ok(None);
        }
        Ok(CreditCode::try_from(row.id_number)
            .ok()
            .map(|enterprise| EnterpriseSession {
                enterprise,
                name: row.name,
                via: row.via,
            }))
    }

    pub async fn end_citizen_session(&self, token: &str) -> Result<()> {
        let mut tx = self.store.begin().await?;
        tx.delete_citizen_session(&token_digest(token)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts a sign-in attempt of `address` in `scope`: `Some(seconds to wait)` once the
    /// address has made `max` attempts in `window`.
    pub async fn sign_in_attempt(
        &self,
        scope: &str,
        address: &str,
        max: i64,
        window: Duration,
    ) -> Result<Option<u64>> {
        let mut tx = self.store.begin().await?;
        let (attempts, since) = tx.count_sign_in_attempt(scope, address, window).await?;
        tx.commit().await?;
        if attempts <= max {
            return Ok(None);
        }
        let elapsed = shuniu_store::parse_time(&since)
            .map(|t| (chrono::Utc::now() - t).num_seconds().max(0) as u64)
            .unwrap_or(0);
        Ok(Some(window.as_secs().saturating_sub(elapsed).max(1)))
    }
}

impl From<SignInError> for AccountError {
    fn from(e: SignInError) -> Self {
        AccountError::SignIn(e)
    }
}
