//! Signing in through an OpenID Connect provider: the province's identity service for
//! citizens (as 爱山东 does) and the office platform's single sign-on for officers (山东通).
//!
//! The authorization code flow with PKCE (S256), a fresh `state` and `nonce` per sign-in, and
//! the ID token checked for its signature (against the provider's published keys), issuer,
//! audience, expiry and nonce by the `openidconnect` crate. The claim that names the person
//! (the ID number for citizens, the login for officers) is read from the verified ID token,
//! or from the user-info endpoint when the provider keeps it there (as providers conforming
//! to the core specification do for scope-requested claims); user info must be about the
//! same subject.
//!
//! This module speaks to the provider; [`crate::accounts::Accounts`] keeps the flows under
//! way and the sessions that come out of them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdTokenVerifier,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IdToken,
    IdTokenClaims, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, SubjectIdentifier, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use shuniu_types::{Classified, ErrorKind, Problem};

/// How long a provider's discovery document and keys are trusted before they are read again
/// (providers rotate signing keys; a key unknown to the cached set also triggers a re-read).
const METADATA_TTL: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("identity provider setting {field}: {why}")]
    Settings { field: &'static str, why: String },
    #[error("identity provider unreachable: {0}")]
    Unreachable(String),
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    #[error("the identity provider's ID token was rejected: {0}")]
    TokenRejected(String),
    #[error("the identity provider did not name the person: claim {0} missing")]
    ClaimMissing(String),
    #[error("the sign-in was answered by another identity provider: {0}")]
    IssuerMismatch(String),
}

impl OidcError {
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::Settings { .. } => "OIDC_SETTINGS",
            OidcError::Unreachable(_) => "OIDC_UNREACHABLE",
            OidcError::Refused(_) => "OIDC_REFUSED",
            OidcError::TokenRejected(_) => "OIDC_TOKEN_REJECTED",
            OidcError::ClaimMissing(_) => "OIDC_CLAIM_MISSING",
            OidcError::IssuerMismatch(_) => "OIDC_ISSUER_MISMATCH",
        }
    }
}

impl Classified for OidcError {
    fn problem(&self) -> Problem {
        match self {
            OidcError::Settings { .. } => Problem::internal(self.code(), self),
            OidcError::Unreachable(_) => Problem::new(
                ErrorKind::Unavailable,
                self.code(),
                "统一身份认证服务暂时无法访问，请稍后再试",
                "the identity provider cannot be reached; try again later",
            ),
            OidcError::Refused(_) => Problem::new(
                ErrorKind::Unauthenticated,
                self.code(),
                "统一身份认证未完成登录，请重新登录",
                "the identity provider did not complete the sign-in; sign in again",
            ),
            OidcError::TokenRejected(why) => Problem::new(
                ErrorKind::Unauthenticated,
                self.code(),
                format!("身份令牌未通过校验：{why}"),
                format!("the identity token failed its checks: {why}"),
            ),
            OidcError::IssuerMismatch(_) => Problem::new(
                ErrorKind::Unauthenticated,
                self.code(),
                "登录应答来自未受信任的身份认证服务",
                "the sign-in answer came from an identity provider this hub does not trust",
            ),
            OidcError::ClaimMissing(claim) => Problem::new(
                ErrorKind::Unauthenticated,
                self.code(),
                format!("统一身份认证未提供所需的身份信息（{claim}）"),
                format!("the identity provider did not provide the claim {claim}"),
            ),
        }
    }
}

/// One identity provider as the operator configured it.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The provider's issuer identifier; its discovery document is under
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where the provider sends the person back (this hub's callback, absolute).
    pub redirect_url: String,
    /// Scopes asked for beside `openid`.
    pub scopes: Vec<String>,
    /// The claim that names the person: the ID number for citizens, the login for officers.
    pub subject_claim: String,
    /// The claim with the person's name.
    pub name_claim: String,
}

/// Claims beyond the standard ones, kept as they came.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OtherClaims(pub HashMap<String, serde_json::Value>);
impl AdditionalClaims for OtherClaims {}

/// An ID token with whatever claims the provider adds.
pub type HubIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A sign-in sent to the provider: the URL to send the browser to, and what must be kept
/// (server-side) until the provider answers.
#[derive(Debug, Clone)]
pub struct Started {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    /// The value of the configured subject claim (ID number, login).
    pub claim: String,
    pub name: String,
}

/// A configured provider; discovery happens on first use and is cached.
#[derive(Clone)]
pub struct IdentityProvider {
    settings: Arc<OidcSettings>,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: reqwest::Client,
    metadata: Arc<tokio::sync::Mutex<Option<(CoreProviderMetadata, Instant)>>>,
}

impl std::fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("issuer", &self.settings.issuer)
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

impl IdentityProvider {
    pub fn new(settings: OidcSettings) -> Result<Self, OidcError> {
        let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(|e| OidcError::Settings {
            field: "issuer",
            why: e.to_string(),
        })?;
        let redirect =
            RedirectUrl::new(settings.redirect_url.clone()).map_err(|e| OidcError::Settings {
                field: "redirect_url",
                why: e.to_string(),
            })?;
        if settings.client_id.is_empty() {
            return Err(OidcError::Settings {
                field: "client_id",
                why: "empty".into(),
            });
        }
        let http = reqwest::Client::builder()
            // Following redirects would let a provider's answer send the hub elsewhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| OidcError::Settings {
                field: "http client",
                why: e.to_string(),
            })?;
        Ok(IdentityProvider {
            settings: Arc::new(settings),
            issuer,
            redirect,
            http,
            metadata: Arc::default(),
        })
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    async fn metadata(&self, refresh: bool) -> Result<CoreProviderMetadata, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some((m, at)) = cached.as_ref()
            && !refresh
            && at.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let m = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| OidcError::Unreachable(error_chain(&e)))?;
        *cached = Some((m.clone(), Instant::now()));
        Ok(m)
    }

    /// This hub as the provider's client, from its discovery document.
    fn client(
        &self,
        meta: CoreProviderMetadata,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            meta,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Starts a sign-in: the provider's authorization URL with a new state, nonce and PKCE
    /// challenge.
    pub async fn start(&self) -> Result<Started, OidcError> {
        let client = self.client(self.metadata(false).await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for s in &self.settings.scopes {
            if s != "openid" {
                request = request.add_scope(Scope::new(s.clone()));
            }
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Finishes a sign-in: exchanges the code (with the PKCE verifier) at the provider's token
    /// endpoint, verifies the ID token against `nonce`, and reads the configured claims.
    pub async fn finish(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Identity, OidcError> {
        let meta = self.metadata(false).await?;
        let client = self.client(meta.clone());
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Settings {
                field: "token endpoint",
                why: e.to_string(),
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Refused(error_chain(&e)))?;
        let raw = response
            .id_token()
            .ok_or_else(|| OidcError::TokenRejected("no ID token in the answer".into()))?
            .to_string();
        let token: HubIdToken = raw
            .parse()
            .map_err(|e: serde_json::Error| OidcError::TokenRejected(e.to_string()))?;
        let verified = {
            let verifier = client.id_token_verifier();
            match verify(&token, &verifier, nonce) {
                // A key the cached set does not know: the provider may have rotated its keys.
                Err(OidcError::TokenRejected(why)) if why.contains("key") => {
                    let client = self.client(self.metadata(true).await?);
                    verify(&token, &client.id_token_verifier(), nonce)?
                }
                other => other?,
            }
        };
        let mut claims = verified.additional_claims().0.clone();
        let subject = verified.subject().clone();
        let wanted = [&self.settings.subject_claim, &self.settings.name_claim];
        if wanted.iter().any(|c| claim_text(&claims, c).is_none())
            && meta.userinfo_endpoint().is_some()
        {
            let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = client
                .user_info(
                    AccessToken::new(response.access_token().secret().clone()),
                    Some(SubjectIdentifier::new(subject.as_str().to_string())),
                )
                .map_err(|e| OidcError::Unreachable(e.to_string()))?
                .request_async(&self.http)
                .await
                .map_err(|e| OidcError::Refused(error_chain(&e)))?;
            for (k, v) in &info.additional_claims().0 {
                claims.entry(k.clone()).or_insert(v.clone());
            }
            if let Some(name) = info.name().and_then(|n| n.get(None)) {
                claims
                    .entry("name".into())
                    .or_insert(serde_json::Value::String(name.as_str().into()));
            }
            if let Some(u) = info.preferred_username() {
                claims
                    .entry("preferred_username".into())
                    .or_insert(serde_json::Value::String(u.as_str().into()));
            }
        }
        identity(
            &self.settings,
            verified.issuer().as_str(),
            &subject,
            &claims,
        )
    }
}

/// The checks on an ID token: signature with one of the provider's keys (RS/ES/PS, never
/// `none`), issuer, audience (this client, and only trusted others), expiry and nonce.
pub fn verify(
    token: &HubIdToken,
    verifier: &CoreIdTokenVerifier<'_>,
    nonce: &str,
) -> Result<IdTokenClaims<OtherClaims, CoreGenderClaim>, OidcError> {
    token
        .claims(verifier, &Nonce::new(nonce.to_string()))
        .cloned()
        .map_err(|e| OidcError::TokenRejected(e.to_string()))
}

/// Reads the configured claims into an identity. Standard claims the crate parses itself
/// (`name`, `preferred_username`) are looked up in the verified claims too.
pub fn identity_from_claims(
    settings: &OidcSettings,
    claims: &IdTokenClaims<OtherClaims, CoreGenderClaim>,
) -> Result<Identity, OidcError> {
    let mut extra = claims.additional_claims().0.clone();
    if let Some(n) = claims.name().and_then(|n| n.get(None)) {
        extra.insert("name".into(), serde_json::Value::String(n.to_string()));
    }
    if let Some(u) = claims.preferred_username() {
        extra.insert(
            "preferred_username".into(),
            serde_json::Value::String(u.to_string()),
        );
    }
    identity(settings, claims.issuer().as_str(), claims.subject(), &extra)
}

fn identity(
    settings: &OidcSettings,
    issuer: &str,
    subject: &SubjectIdentifier,
    claims: &HashMap<String, serde_json::Value>,
) -> Result<Identity, OidcError> {
    let claim = claim_text(claims, &settings.subject_claim)
        .or_else(|| (settings.subject_claim == "sub").then(|| subject.to_string()))
        .ok_or_else(|| OidcError::ClaimMissing(settings.subject_claim.clone()))?;
    let name = claim_text(claims, &settings.name_claim).unwrap_or_default();
    Ok(Identity {
        issuer: issuer.to_string(),
        subject: subject.to_string(),
        claim,
        name,
    })
}

fn claim_text(claims: &HashMap<String, serde_json::Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use openidconnect::core::{CoreJsonWebKeySet, CoreRsaPrivateSigningKey};
    use openidconnect::{Audience, EndUserName, LocalizedClaim, PrivateSigningKey, StandardClaims};

    // A 2048-bit RSA key made for these tests only (openssl genrsa 2048).
    const TEST_KEY: &str = include_str!("../tests/oidc-test-key.pem");
    const OTHER_KEY: &str = include_str!("../tests/oidc-other-key.pem");
    const ISSUER: &str = "https://idp.example.gov.cn";
    const CLIENT: &str = "shuniu-citizen";

    fn key(pem: &str, kid: &str) -> CoreRsaPrivateSigningKey {
        CoreRsaPrivateSigningKey::from_pem(pem, Some(openidconnect::JsonWebKeyId::new(kid.into())))
            .expect("test key")
    }

    struct Token {
        issuer: &'static str,
        audience: &'static str,
        nonce: &'static str,
        expires_in: i64,
        key: &'static str,
    }

    impl Default for Token {
        fn default() -> Self {
            Token {
                issuer: ISSUER,
                audience: CLIENT,
                nonce: "n-0S6_WzA2Mj",
                expires_in: 300,
                key: TEST_KEY,
            }
        }
    }

    fn sign(t: Token) -> HubIdToken {
        let now = chrono::Utc::now();
        let mut extra = HashMap::new();
        extra.insert(
            "id_number".to_string(),
            serde_json::Value::String("11010519491231002X".into()),
        );
        let mut name = LocalizedClaim::new();
        name.insert(None, EndUserName::new("王芳".into()));
        let claims = IdTokenClaims::new(
            IssuerUrl::new(t.issuer.into()).expect("issuer"),
            vec![Audience::new(t.audience.into())],
            now + chrono::Duration::seconds(t.expires_in),
            now - chrono::Duration::seconds(600),
            StandardClaims::new(SubjectIdentifier::new("person-1".into())).set_name(Some(name)),
            OtherClaims(extra),
        )
        .set_nonce(Some(Nonce::new(t.nonce.into())));
        HubIdToken::new(
            claims,
            &key(t.key, "k1"),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        )
        .expect("signed")
    }

    fn verifier() -> CoreIdTokenVerifier<'static> {
        let keys = CoreJsonWebKeySet::new(vec![key(TEST_KEY, "k1").as_verification_key()]);
        CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(CLIENT.into()),
            ClientSecret::new("secret".into()),
            IssuerUrl::new(ISSUER.into()).expect("issuer"),
            keys,
        )
    }

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: ISSUER.into(),
            client_id: CLIENT.into(),
            client_secret: "secret".into(),
            redirect_url: "https://hub.example.gov.cn/my-data/callback".into(),
            scopes: vec!["profile".into()],
            subject_claim: "id_number".into(),
            name_claim: "name".into(),
        }
    }

    fn rejected(t: Token, nonce: &str) -> String {
        match verify(&sign(t), &verifier(), nonce) {
            Err(OidcError::TokenRejected(why)) => why,
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn a_good_token_names_the_person_by_the_configured_claim() {
        let claims = verify(&sign(Token::default()), &verifier(), "n-0S6_WzA2Mj").expect("ok");
        let who = identity_from_claims(&settings(), &claims).expect("identity");
        assert_eq!(who.claim, "11010519491231002X");
        assert_eq!(who.name, "王芳");
        assert_eq!(who.subject, "person-1");
        assert_eq!(who.issuer, ISSUER);
    }

    #[test]
    fn tokens_from_another_issuer_audience_or_key_are_refused() {
        let why = rejected(
            Token {
                issuer: "https://evil.example.com",
                ..Token::default()
            },
            "n-0S6_WzA2Mj",
        );
        assert!(why.to_lowercase().contains("issuer"), "{why}");
        let why = rejected(
            Token {
                audience: "another-client",
                ..Token::default()
            },
            "n-0S6_WzA2Mj",
        );
        assert!(why.to_lowercase().contains("audience"), "{why}");
        let why = rejected(
            Token {
                key: OTHER_KEY,
                ..Token::default()
            },
            "n-0S6_WzA2Mj",
        );
        assert!(why.to_lowercase().contains("signature"), "{why}");
    }

    #[test]
    fn expired_tokens_and_replayed_nonces_are_refused() {
        let why = rejected(
            Token {
                expires_in: -60,
                ..Token::default()
            },
            "n-0S6_WzA2Mj",
        );
        assert!(why.to_lowercase().contains("expire"), "{why}");
        // A token minted for an earlier sign-in carries that sign-in's nonce: replayed into a
        // new one it does not match.
        let why = rejected(Token::default(), "a-fresh-nonce");
        assert!(why.to_lowercase().contains("nonce"), "{why}");
    }

    #[test]
    fn a_token_without_the_subject_claim_names_nobody() {
        let claims = verify(&sign(Token::default()), &verifier(), "n-0S6_WzA2Mj").expect("ok");
        let s = OidcSettings {
            subject_claim: "preferred_username".into(),
            ..settings()
        };
        assert!(matches!(
            identity_from_claims(&s, &claims),
            Err(OidcError::ClaimMissing(c)) if c == "preferred_username"
        ));
    }

    #[test]
    fn settings_are_checked_when_the_provider_is_configured() {
        assert!(
            IdentityProvider::new(OidcSettings {
                issuer: "not a url".into(),
                ..settings()
            })
            .is_err()
        );
        assert!(
            IdentityProvider::new(OidcSettings {
                client_id: String::new(),
                ..settings()
            })
            .is_err()
        );
        assert!(IdentityProvider::new(settings()).is_ok());
    }
}
