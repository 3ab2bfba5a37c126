//! Configuration: built-in defaults, then `shuniu.toml` (in the data directory, or the file
//! `--config` names), then `SHUNIU_*` environment variables, then command-line flags.

use anyhow::{Context, Result};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the hub keeps its state: the SQLite control plane, and later the data lake.
    pub data_dir: PathBuf,
    /// Address the HTTP server listens on.
    pub listen: String,
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://DATA_DIR/shuniu.db`.
    pub database_url: String,
    /// Name shown in the console header.
    pub site_name: String,
    /// Resource code template (see the catalog guide); placeholders {front} {kind} {item}
    /// {subject} {detail} {provider} {seq} {seq:N}.
    pub code_format: String,
    /// `Secure` cookies; unset means: on unless listening on a loopback address.
    pub secure_cookies: Option<bool>,
    /// `text` or `json` logs.
    pub log_format: String,
    /// Where the data lake lives: empty for DATA_DIR/lake, or `s3://bucket/prefix` for
    /// S3-compatible object storage (then the `lake_s3_*` keys apply).
    pub lake_url: String,
    pub lake_s3_endpoint: Option<String>,
    pub lake_s3_region: Option<String>,
    pub lake_s3_access_key_id: Option<String>,
    pub lake_s3_secret_access_key: Option<String>,
    pub lake_s3_allow_http: bool,
    /// Where the audit log is kept: `files` (segment files in DATA_DIR/audit/log) or
    /// `database` (the control-plane PostgreSQL).
    pub audit_storage: String,
    /// How often the latest signed tree head is published to DATA_DIR/audit/tree-heads.jsonl.
    pub audit_head_interval_secs: u64,
    /// Open-data API calls, previews and downloads per second per client address without a
    /// token (`429` with `Retry-After` beyond).
    pub open_rate_anonymous: u32,
    /// The same per approved application presenting its data token.
    pub open_rate_token: u32,
    /// Hosts (comma-separated names or addresses) that webhooks may reach although they
    /// resolve to loopback, private or link-local addresses. Empty: none.
    pub webhook_allow_hosts: String,
    /// The master key every secret at rest is sealed under (SM4): a key file (empty:
    /// DATA_DIR/keys/master.key, created when missing) …
    pub master_key_file: String,
    /// … or a command that prints it (a KMS or HSM client), which then wins.
    pub master_key_command: String,
    /// The hub's address as browsers reach it (`https://data.example.gov.cn`), for the
    /// addresses identity providers send people back to. Empty: `http://` + `listen`.
    pub public_url: String,
    /// The province's identity service for citizens (OpenID Connect issuer). Empty: citizens
    /// cannot sign in (the demo's simulated sign-in aside).
    pub citizen_oidc_issuer: String,
    pub citizen_oidc_client_id: String,
    pub citizen_oidc_client_secret: String,
    /// Scopes asked for, space-separated (`openid` is always asked for).
    pub citizen_oidc_scopes: String,
    /// The claim holding the citizen's ID number (GB 11643).
    pub citizen_oidc_id_claim: String,
    pub citizen_oidc_name_claim: String,
    /// The province's legal-person identity service (法人统一身份认证) for enterprises'
    /// own pages. Empty: enterprises cannot sign in (the demo's simulated sign-in aside).
    pub enterprise_oidc_issuer: String,
    pub enterprise_oidc_client_id: String,
    pub enterprise_oidc_client_secret: String,
    pub enterprise_oidc_scopes: String,
    /// The claim holding the enterprise's unified social credit code (GB 32100).
    pub enterprise_oidc_credit_code_claim: String,
    /// The claim holding the enterprise's name.
    pub enterprise_oidc_name_claim: String,
    /// The office platform's single sign-on for console users. Empty: passwords only.
    pub console_oidc_issuer: String,
    pub console_oidc_client_id: String,
    pub console_oidc_client_secret: String,
    pub console_oidc_scopes: String,
    /// The claim holding the console user's login on this hub.
    pub console_oidc_login_claim: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("shuniu-data"),
            listen: "127.0.0.1:8080".into(),
            database_url: String::new(),
            site_name: "数纽 · 青岛市公共数据枢纽".into(),
            code_format: shuniu_types::CodeFormat::DEFAULT.into(),
            secure_cookies: None,
            log_format: "text".into(),
            lake_url: String::new(),
            lake_s3_endpoint: None,
            lake_s3_region: None,
            lake_s3_access_key_id: None,
            lake_s3_secret_access_key: None,
            lake_s3_allow_http: false,
            audit_storage: "files".into(),
            audit_head_interval_secs: 60,
            open_rate_anonymous: 20,
            open_rate_token: 200,
            webhook_allow_hosts: String::new(),
            master_key_file: String::new(),
            master_key_command: String::new(),
            public_url: String::new(),
            citizen_oidc_issuer: String::new(),
            citizen_oidc_client_id: String::new(),
            citizen_oidc_client_secret: String::new(),
            citizen_oidc_scopes: "openid profile".into(),
            citizen_oidc_id_claim: "id_number".into(),
            citizen_oidc_name_claim: "name".into(),
            enterprise_oidc_issuer: String::new(),
            enterprise_oidc_client_id: String::new(),
            enterprise_oidc_client_secret: String::new(),
            enterprise_oidc_scopes: "openid profile".into(),
            enterprise_oidc_credit_code_claim: "credit_code".into(),
            enterprise_oidc_name_claim: "name".into(),
            console_oidc_issuer: String::new(),
            console_oidc_client_id: String::new(),
            console_oidc_client_secret: String::new(),
            console_oidc_scopes: "openid profile".into(),
            console_oidc_login_claim: "preferred_username".into(),
        }
    }
}

/// Flags that override the configuration.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

pub const CONFIG_FILE: &str = "shuniu.toml";

/// The configuration keys; other `SHUNIU_*` variables (SHUNIU_LOG, SHUNIU_CONFIG) are not config.
const KEYS: [&str; 36] = [
    "master_key_file",
    "master_key_command",
    "public_url",
    "citizen_oidc_issuer",
    "citizen_oidc_client_id",
    "citizen_oidc_client_secret",
    "citizen_oidc_scopes",
    "citizen_oidc_id_claim",
    "citizen_oidc_name_claim",
    "enterprise_oidc_issuer",
    "enterprise_oidc_client_id",
    "enterprise_oidc_client_secret",
    "enterprise_oidc_scopes",
    "enterprise_oidc_credit_code_claim",
    "enterprise_oidc_name_claim",
    "console_oidc_issuer",
    "console_oidc_client_id",
    "console_oidc_client_secret",
    "console_oidc_scopes",
    "console_oidc_login_claim",
    "lake_url",
    "webhook_allow_hosts",
    "open_rate_anonymous",
    "open_rate_token",
    "lake_s3_endpoint",
    "lake_s3_region",
    "lake_s3_access_key_id",
    "lake_s3_secret_access_key",
    "lake_s3_allow_http",
    "data_dir",
    "listen",
    "database_url",
    "site_name",
    "code_format",
    "secure_cookies",
    "log_format",
];

impl Config {
    pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> Result<Config> {
        // The data directory decides where the default config file is, so find it first.
        let early: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Env::prefixed("SHUNIU_").only(&["data_dir"]))
            .merge(Serialized::globals(overrides))
            .extract()
            .context("reading configuration")?;
        let file = config_file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| early.data_dir.join(CONFIG_FILE));
        if config_file.is_some() && !file.exists() {
            anyhow::bail!("配置文件不存在 / config file not found: {}", file.display());
        }
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("SHUNIU_").only(&KEYS))
            .merge(Serialized::globals(overrides))
            .extract()
            .with_context(|| format!("配置无效 / invalid configuration ({})", file.display()))?;
        shuniu_types::CodeFormat::parse(&config.code_format)
            .map_err(|e| anyhow::anyhow!("code_format: {e}"))?;
        config.listen_addr()?;
        config.identity_providers()?;
        if !matches!(config.log_format.as_str(), "text" | "json") {
            anyhow::bail!("log_format must be text or json, not {}", config.log_format);
        }
        Ok(config)
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("shuniu.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }

    /// The audit log's storage this configuration names (read as it is: no recovery).
    pub fn audit_storage(
        &self,
        store: Option<&shuniu_store::Store>,
    ) -> Result<std::sync::Arc<dyn shuniu_audit::LogStorage>> {
        match self.audit_storage.as_str() {
            "" | "files" => Ok(std::sync::Arc::new(shuniu_audit::SegmentStorage::open(
                &self.audit_dir().join("log"),
            )?)),
            "database" => {
                let store = store.context("the database audit storage needs the control plane")?;
                Ok(std::sync::Arc::new(shuniu_audit::DatabaseStorage::new(
                    store.clone(),
                )?))
            }
            other => anyhow::bail!(
                "audit_storage must be `files` or `database`, not {other:?} / audit_storage 只能是 files 或 database"
            ),
        }
    }

    pub fn audit_dir(&self) -> PathBuf {
        shuniu_audit::audit_dir(&self.data_dir)
    }

    /// The data lake this configuration names.
    pub fn lake(&self) -> Result<shuniu_lake::Lake> {
        if self.lake_url.is_empty() {
            return shuniu_lake::Lake::local(&self.data_dir.join("lake"))
                .with_context(|| format!("opening the lake in {}", self.data_dir.display()));
        }
        let cfg = shuniu_lake::S3Config {
            url: self.lake_url.clone(),
            endpoint: self.lake_s3_endpoint.clone(),
            region: self.lake_s3_region.clone(),
            access_key_id: self.lake_s3_access_key_id.clone(),
            secret_access_key: self.lake_s3_secret_access_key.clone(),
            allow_http: self.lake_s3_allow_http,
        };
        shuniu_lake::Lake::s3(&cfg, &self.data_dir.join("lake-staging"))
            .with_context(|| format!("opening the lake at {}", self.lake_url))
    }

    /// Where the master key comes from.
    pub fn master_key_source(&self) -> shuniu_keys::KeySource {
        if !self.master_key_command.trim().is_empty() {
            shuniu_keys::KeySource::Command(self.master_key_command.clone())
        } else if !self.master_key_file.is_empty() {
            shuniu_keys::KeySource::File(PathBuf::from(&self.master_key_file))
        } else {
            shuniu_keys::KeySource::File(self.data_dir.join("keys").join("master.key"))
        }
    }

    /// The master key, loaded (and created on first use when kept in a file).
    pub fn master_key(&self) -> Result<shuniu_keys::MasterKey> {
        shuniu_keys::MasterKey::load(self.master_key_source())
            .map_err(|e| anyhow::anyhow!("主密钥无法加载 / {e}"))
    }

    /// The identity providers configured for citizens and for console users.
    pub fn identity_providers(
        &self,
    ) -> Result<(
        Option<shuniu_auth::oidc::IdentityProvider>,
        Option<shuniu_auth::oidc::IdentityProvider>,
        Option<shuniu_auth::oidc::IdentityProvider>,
    )> {
        let base = if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_string()
        };
        let provider = |issuer: &str,
                        client_id: &str,
                        secret: &str,
                        scopes: &str,
                        claim: &str,
                        name_claim: &str,
                        callback: &str|
         -> Result<Option<shuniu_auth::oidc::IdentityProvider>> {
            if issuer.is_empty() {
                return Ok(None);
            }
            shuniu_auth::oidc::IdentityProvider::new(shuniu_auth::oidc::OidcSettings {
                issuer: issuer.into(),
                client_id: client_id.into(),
                client_secret: secret.into(),
                redirect_url: format!("{base}{callback}"),
                scopes: scopes.split_whitespace().map(String::from).collect(),
                subject_claim: claim.into(),
                name_claim: name_claim.into(),
            })
            .map(Some)
            .map_err(|e| anyhow::anyhow!("统一身份认证配置无效 / identity provider: {e}"))
        };
        Ok((
            provider(
                &self.citizen_oidc_issuer,
                &self.citizen_oidc_client_id,
                &self.citizen_oidc_client_secret,
                &self.citizen_oidc_scopes,
                &self.citizen_oidc_id_claim,
                &self.citizen_oidc_name_claim,
                "/my-data/callback",
            )?,
            provider(
                &self.enterprise_oidc_issuer,
                &self.enterprise_oidc_client_id,
                &self.enterprise_oidc_client_secret,
                &self.enterprise_oidc_scopes,
                &self.enterprise_oidc_credit_code_claim,
                &self.enterprise_oidc_name_claim,
                "/my-enterprise/callback",
            )?,
            provider(
                &self.console_oidc_issuer,
                &self.console_oidc_client_id,
                &self.console_oidc_client_secret,
                &self.console_oidc_scopes,
                &self.console_oidc_login_claim,
                "name",
                "/login/sso/callback",
            )?,
        ))
    }

    pub fn listen_addr(&self) -> Result<SocketAddr> {
        self.listen
            .parse()
            .with_context(|| format!("listen address {} is not host:port", self.listen))
    }

    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies.unwrap_or_else(|| {
            self.listen_addr()
                .map(|a| !a.ip().is_loopback())
                .unwrap_or(true)
        })
    }
}

#[cfg(test)]
// figment::Jail's closures return its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn layers_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_dir("d")?;
            jail.create_file(
                "d/shuniu.toml",
                "listen = \"0.0.0.0:9000\"\nsite_name = \"测试\"\n",
            )?;
            jail.set_env("SHUNIU_SITE_NAME", "环境变量");
            let o = Overrides {
                data_dir: Some("d".into()),
                ..Default::default()
            };
            let c = Config::load(None, &o).map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "0.0.0.0:9000", "file over default");
            assert_eq!(c.site_name, "环境变量", "environment over file");
            assert!(
                c.secure_cookies(),
                "non-loopback listens get secure cookies"
            );
            let o = Overrides {
                data_dir: Some("d".into()),
                listen: Some("127.0.0.1:1".into()),
                ..Default::default()
            };
            let c = Config::load(None, &o).map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "127.0.0.1:1", "flag over everything");
            assert!(!c.secure_cookies());
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "code_format = \"{front}\"\n")?;
            assert!(Config::load(Some(Path::new("bad.toml")), &Overrides::default()).is_err());
            jail.create_file("typo.toml", "lisen = \"x\"\n")?;
            assert!(
                Config::load(Some(Path::new("typo.toml")), &Overrides::default()).is_err(),
                "unknown keys are errors"
            );
            assert!(Config::load(Some(Path::new("missing.toml")), &Overrides::default()).is_err());
            Ok(())
        });
    }
}
