//! `shuniu`: the city public-data hub's one binary — server, demo city and command line.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use shuniu_auth::accounts::DepartmentInput;
use shuniu_catalog::{Catalog, ListKind, Review, SearchParams};
use shuniu_server::{AppState, ServerSettings};
use shuniu_store::Store;
use shuniu_types::{Actor, CodeFormat, ResourceInput, Role};
use std::collections::BTreeMap;
use std::path::PathBuf;

mod audit_cli;
mod config;
mod demo;
mod demo_cases;
mod demo_indicators;
mod demo_policies;
mod events_cli;
mod indicators_cli;
mod keys_cli;
mod lake_cli;
mod libraries_cli;
mod licence_cli;
mod link_cli;
mod open_cli;
mod policy_cli;
mod quality_cli;
mod sharing_cli;

use config::{Config, Overrides};

#[derive(Parser)]
#[command(
    name = "shuniu",
    version,
    about = "数纽 Shuniu — city public-data hub / 城市公共数据枢纽"
)]
struct Cli {
    /// Configuration file (default: DATA_DIR/shuniu.toml).
    #[arg(long, global = true, env = "SHUNIU_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
pub(crate) struct Common {
    /// Data directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Control-plane database: sqlite://… or postgres://… (default: SQLite in the data directory).
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve an existing data directory.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Generate the synthetic demo city into an empty data directory, then serve it.
    Demo {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        listen: Option<String>,
        /// Seed of the generator: the same seed gives the same city.
        #[arg(long, default_value_t = 20260101)]
        seed: u64,
        /// Population of the demo city: persons (enterprises and properties scale with it).
        #[arg(long, default_value_t = 100_000)]
        scale: u64,
        /// Share of generated rows with a realistic defect (bad check digits, missing keys,
        /// impossible dates, unknown districts, conflicting addresses, bad phone numbers).
        #[arg(long, default_value_t = 0.02)]
        defect_rate: f64,
        /// Generate and exit without serving.
        #[arg(long)]
        no_serve: bool,
        /// Show every step and the routine log while the city is built (by default one
        /// progress line, and warnings only).
        #[arg(short, long)]
        verbose: bool,
    },
    /// Create a data directory with its hub department and first operator account.
    Init {
        #[command(flatten)]
        common: Common,
        /// Code of the hub operator's department, e.g. 370200DSJ.
        #[arg(long, default_value = "370200DSJ")]
        hub_department: String,
        #[arg(long, default_value = "青岛市大数据发展管理局")]
        hub_name: String,
        /// GB/T 2260 code of the city.
        #[arg(long, default_value = "370200")]
        division: String,
        /// Login of the first hub operator.
        #[arg(long, default_value = "admin")]
        admin: String,
    },
    /// The data resource catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Console users.
    #[command(subcommand)]
    User(UserCommand),
    /// API applications and their keys.
    #[command(subcommand)]
    App(AppCommand),
    /// Load a file into a resource's dataset (one new version), with a progress bar.
    Load(lake_cli::LoadArgs),
    /// Run SQL over the current versions of every dataset (tables named by resource code).
    Sql(lake_cli::SqlArgs),
    /// The load history.
    Loads(lake_cli::LoadsArgs),
    /// Scheduled pulls from department databases.
    #[command(subcommand)]
    Connector(lake_cli::ConnectorCommand),
    /// Record linkage: link files whose records have no clean key.
    #[command(subcommand)]
    Link(link_cli::LinkCommand),
    /// The tamper-evident audit log: verify, sign and export tree heads, search.
    #[command(subcommand)]
    Audit(audit_cli::AuditCommand),
    /// Data quality: reports, checks, rules, problem tickets, authoritative sources.
    #[command(subcommand)]
    Quality(quality_cli::QualityCommand),
    /// Base libraries (基础库): define them from the designated sources, build, inspect.
    #[command(subcommand)]
    Libraries(libraries_cli::LibrariesCommand),
    /// Electronic licences (电子证照): verify a QR code, list types, issue, write a QR image.
    #[command(subcommand)]
    Licence(licence_cli::LicenceCommand),
    /// City events (一网统管): import the hotline's work orders, statistics, the deadline watcher.
    #[command(subcommand)]
    Events(events_cli::EventsCommand),
    /// Indicators (城市大脑): list with the latest values, define from a file, compute or
    /// backfill, print a series.
    #[command(subcommand)]
    Indicators(indicators_cli::IndicatorsCommand),
    /// Policy matching (免申即享): check a policy written in the rule language, evaluate it.
    #[command(subcommand)]
    Policy(policy_cli::PolicyCommand),
    /// Sharing: the satisfaction rate, requests, grants, the serving index.
    #[command(subcommand)]
    Sharing(sharing_cli::SharingCommand),
    /// Open data: the open datasets, (re)publication, the public's data requests.
    #[command(subcommand)]
    Open(open_cli::OpenCommand),
    /// The master key and the secrets sealed under it.
    #[command(subcommand)]
    Keys(keys_cli::KeysCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; prints the generated password once.
    Add {
        #[command(flatten)]
        common: Common,
        login: String,
        #[arg(long)]
        name: String,
        /// hub_operator, data_officer or viewer.
        #[arg(long)]
        role: String,
        #[arg(long)]
        department: String,
    },
    /// Give a user a new generated password (ends the user's sessions); prints it once.
    Password {
        #[command(flatten)]
        common: Common,
        login: String,
    },
    List {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum AppCommand {
    /// Register an application; prints its API key once.
    Add {
        #[command(flatten)]
        common: Common,
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        department: String,
    },
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Revoke an application's key at once.
    Revoke {
        #[command(flatten)]
        common: Common,
        id: String,
    },
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// List entries (published by default).
    List {
        #[command(flatten)]
        common: Common,
        /// Filter by status: draft, submitted, published, returned, withdrawn, or all.
        #[arg(long, default_value = "published")]
        status: String,
        #[arg(long)]
        provider: Option<String>,
        /// One of the three lists: aggregation, sharing, open.
        #[arg(long)]
        list: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one entry with its data items and history.
    Show {
        #[command(flatten)]
        common: Common,
        code: String,
        #[arg(long)]
        json: bool,
    },
    /// Full-text search in Chinese.
    Search {
        #[command(flatten)]
        common: Common,
        text: String,
        /// Facet filter, e.g. --filter share_type=conditional (repeatable).
        #[arg(long = "filter")]
        filters: Vec<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Register an entry from a JSON file (the API's ResourceInput); it starts as a draft.
    Register {
        #[command(flatten)]
        common: Common,
        file: PathBuf,
        /// Submit and publish at once (hub operator's prerogative on the command line).
        #[arg(long)]
        publish: bool,
    },
    /// Submit, publish, return or withdraw an entry.
    Review {
        #[command(flatten)]
        common: Common,
        code: String,
        /// submit, publish, return or withdraw.
        action: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Import entries from an Excel workbook (all or nothing).
    Import {
        #[command(flatten)]
        common: Common,
        file: PathBuf,
        #[arg(long)]
        dry_run: bool,
    },
    /// Export entries (or one of the three lists) to an Excel workbook.
    Export {
        #[command(flatten)]
        common: Common,
        file: PathBuf,
        #[arg(long)]
        list: Option<String>,
    },
}

/// The routine log: what the server does, request by request. Delta's writer warns of every
/// sealed (binary) column it keeps no statistics for, which is by design: errors only.
const ROUTINE_LOG: &str = "info,sqlx=warn,tantivy=error,buoyant_kernel=warn,delta_kernel=warn,\
    deltalake_core::writer::stats=error";
/// While a command works in the terminal (the demo building its city): warnings only.
const QUIET_LOG: &str = "warn,sqlx=warn,tantivy=error,buoyant_kernel=warn,delta_kernel=warn,\
    deltalake_core::writer::stats=error";

type LogFilter =
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>;
static LOG_FILTER: std::sync::OnceLock<LogFilter> = std::sync::OnceLock::new();

fn init_logging(format: &str) {
    init_logging_with(format, ROUTINE_LOG)
}

/// Logs to stderr at `default` unless `SHUNIU_LOG` names a filter; the level can be raised to
/// the routine one later (`routine_logging`), when the server starts.
fn init_logging_with(format: &str, default: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHUNIU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if format == "json" {
        registry.with(fmt.json()).try_init()
    } else {
        registry.with(fmt).try_init()
    };
    if installed.is_ok() {
        let _ = LOG_FILTER.set(handle);
    }
}

/// Back to the routine log (the server's), unless `SHUNIU_LOG` chose the filter.
fn routine_logging() {
    if std::env::var_os("SHUNIU_LOG").is_none()
        && let Some(h) = LOG_FILTER.get()
    {
        let _ = h.reload(tracing_subscriber::EnvFilter::new(ROUTINE_LOG));
    }
}

/// The demo's terminal: one line that changes as the steps go (a spinner with the elapsed
/// time), each part's result printed above it as it completes. When stderr is not a terminal
/// (CI's logs) or with `--verbose`, every step is a plain line instead.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(verbose: bool) -> Progress {
        use std::io::IsTerminal;
        if verbose || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed}] {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress { bar: Some(bar) }
    }

    /// What the demo reports: a count under way (`数据 datasets 12/130`, `indicators: computing
    /// 549`, a serving index built) replaces the line; anything else is a part's result and
    /// stays on the screen.
    fn step(&self, m: &str) {
        let counting = m.starts_with("indicators:")
            || m.starts_with("服务索引")
            || m.split(|c: char| c.is_whitespace()).any(|w| {
                w.split_once('/').is_some_and(|(a, b)| {
                    !a.is_empty()
                        && !b.is_empty()
                        && a.chars().all(|c| c.is_ascii_digit())
                        && b.chars().all(|c| c.is_ascii_digit())
                })
            });
        match &self.bar {
            Some(b) if counting => b.set_message(m.trim().to_string()),
            Some(b) => b.println(format!("  {m}")),
            None => eprintln!("  {m}"),
        }
    }

    /// A result, kept on the screen.
    fn done(&self, m: &str) {
        match &self.bar {
            Some(b) => b.println(m),
            None => eprintln!("{m}"),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

struct Hub {
    config: Config,
    engines: shuniu_server::Engines,
}

async fn open(config: Config) -> Result<Hub> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let store = Store::open(&config.database_url())
        .await
        .context("opening the control-plane database")?;
    let code_format = CodeFormat::parse(&config.code_format).map_err(|e| anyhow::anyhow!("{e}"))?;
    let keys = config.master_key()?;
    let audit = shuniu_audit::AuditLog::open(
        &config.audit_dir(),
        config.audit_storage(Some(&store))?,
        Some(store.clone()),
        &keys,
    )
    .await
    .context("opening the audit log")?;
    let catalog = Catalog::open(store.clone(), code_format, audit.clone()).await?;
    let engines = shuniu_server::Engines::assemble(
        store,
        audit,
        catalog,
        config.lake()?,
        &config.data_dir,
        keys,
    )
    .await
    .map_err(|e| anyhow::anyhow!("opening the engines: {e}"))?;
    engines.sharing.allow_webhook_hosts(
        config
            .webhook_allow_hosts
            .split(',')
            .map(String::from)
            .collect(),
    );
    let interrupted = engines.aggregation.recover().await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "loads left running by a stopped process were marked interrupted"
        );
    }
    Ok(Hub { engines, config })
}

fn load_config(
    cli_config: Option<&PathBuf>,
    common: &Common,
    listen: Option<&String>,
) -> Result<Config> {
    Config::load(
        cli_config.map(PathBuf::as_path),
        &Overrides {
            data_dir: common.data_dir.clone(),
            listen: listen.cloned(),
            database_url: common.database_url.clone(),
        },
    )
}

/// Serves the hub; `simulated_citizen_sign_in` only for the demo.
async fn serve(hub: Hub, simulated_citizen_sign_in: bool) -> Result<()> {
    let addr = hub.config.listen_addr()?;
    let (citizen_sign_in, enterprise_sign_in, console_sign_in) = hub.config.identity_providers()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let state = AppState::new(
        hub.engines,
        ServerSettings {
            secure_cookies: hub.config.secure_cookies(),
            site_name: hub.config.site_name.clone(),
            open_rate_anonymous: hub.config.open_rate_anonymous,
            open_rate_token: hub.config.open_rate_token,
            simulated_citizen_sign_in,
            citizen_sign_in,
            enterprise_sign_in,
            console_sign_in,
        },
    );
    let audit = state.engines.catalog.audit_log().clone();
    audit.spawn_publisher(std::time::Duration::from_secs(
        hub.config.audit_head_interval_secs.max(1),
    ));
    println!("数纽已启动 / Shuniu is serving at http://{addr}/");
    tracing::info!(%addr, "serving");
    shuniu_server::serve(state, listener, shutdown_signal()).await?;
    // Whatever was appended since the last publication gets a published head on the way out.
    audit.publish_if_grown().await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

fn print_records(records: &[shuniu_store::ResourceRecord], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(records)?);
        return Ok(());
    }
    for r in records {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            r.code,
            r.status.zh(),
            r.spec.name,
            r.spec.provider,
            r.spec.share_type.zh(),
            r.spec.open_type.zh()
        );
    }
    eprintln!("{} 条 / entries", records.len());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let cli_config = cli.config.clone();
    let cli_config = cli_config.as_ref();
    match cli.command {
        Command::Serve { common, listen } => {
            let config = load_config(cli_config, &common, listen.as_ref())?;
            init_logging(&config.log_format);
            if demo::is_empty_dir(&config.data_dir)? && config.database_url.is_empty() {
                bail!(
                    "数据目录为空，请先运行 shuniu init 或 shuniu demo / the data directory {} is empty: run `shuniu init` or `shuniu demo` first",
                    config.data_dir.display()
                );
            }
            serve(open(config).await?, false).await
        }
        Command::Demo {
            common,
            listen,
            seed,
            scale,
            defect_rate,
            no_serve,
            verbose,
        } => {
            if !(0.0..=0.5).contains(&defect_rate) {
                bail!("--defect-rate must be between 0 and 0.5");
            }
            let config = load_config(cli_config, &common, listen.as_ref())?;
            init_logging_with(
                &config.log_format,
                if verbose { ROUTINE_LOG } else { QUIET_LOG },
            );
            let progress = Progress::new(verbose);
            let fresh = demo::is_empty_dir(&config.data_dir)?;
            let data_dir = config.data_dir.clone();
            let url = format!("http://{}/", config.listen);
            let hub = open(config).await?;
            let accounts_file = data_dir.join(demo::ACCOUNTS_FILE);
            if fresh {
                let started = std::time::Instant::now();
                progress.done(&format!(
                    "生成演示城市 / generating the demo city (seed {seed}) into {} …",
                    data_dir.display()
                ));
                let city = shuniu_demo::generate(seed);
                let (operator_api_key, applications) =
                    demo::build(&city, &hub.engines.accounts, &hub.engines.catalog, |m| {
                        progress.step(m)
                    })
                    .await?;
                let data = demo::load_data(
                    &city,
                    &hub.engines,
                    &data_dir.join("demo-sources"),
                    scale,
                    defect_rate,
                    |m| progress.step(m),
                )
                .await?;
                progress.done(&format!(
                    "  数据 data: {} datasets, {} rows accepted, {} rejected (injected defects), {} overdue",
                    data.datasets,
                    data.rows_accepted,
                    data.rows_rejected,
                    data.stale.len()
                ));
                progress.done(&format!(
                    "  质量 quality: {} address conflicts with the household register, {} open problem tickets",
                    data.address_conflicts, data.open_tickets
                ));
                let mut applications = applications;
                let shared = demo::share(
                    &city,
                    &hub.engines.catalog,
                    &hub.engines.sharing,
                    &mut applications,
                    |m| progress.step(m),
                )
                .await?;
                progress.done(&format!(
                    "  共享 sharing: {} grants, {} requests ({} waiting), demand satisfaction {:.1}%",
                    shared.grants, shared.requests, shared.pending, shared.satisfaction
                ));
                let opened = demo::open_data(&city, &hub.engines.open).await?;
                progress.done(&format!(
                    "  开放 open data: {} datasets ({} open to all, {} conditional), {} public data requests",
                    opened.datasets, opened.public, opened.conditional, opened.requests
                ));
                let mut issued = demo::licences(
                    &hub.engines.catalog,
                    &hub.engines.licences,
                    &applications,
                    |m| progress.step(m),
                )
                .await?;
                demo::licence_library(
                    &city,
                    &hub.engines.libraries,
                    &hub.engines.licences,
                    &hub.engines.sharing,
                    &mut applications,
                    &mut issued,
                    |m| progress.step(m),
                )
                .await?;
                let open311 =
                    demo::events(&city, &hub.engines.events, scale, |m| progress.step(m)).await?;
                let indicators =
                    demo_indicators::indicators(&hub.engines, |m| progress.step(m)).await?;
                progress.done(&format!(
                    "  指标 indicators: {} defined ({} skipped: no data), {} computed, {} failed, {} alerts, {:.1} s",
                    indicators.defined,
                    indicators.skipped,
                    indicators.computed,
                    indicators.failed,
                    indicators.alerts,
                    indicators.seconds
                ));
                let (policies, eligible) = demo_policies::policies_demo(&hub.engines).await?;
                progress.done(&format!(
                    "  政策 policies: {policies} published; {eligible} people and enterprises qualify this month without applying"
                ));
                let cases =
                    demo_cases::cases_demo(&city, &hub.engines, &data_dir.join("demo-sources"))
                        .await?;
                progress.done(&format!(
                    "  一件事 integrated services: {} defined; {} cases, {} opened by today's death registrations",
                    cases.services, cases.cases, cases.by_death
                ));
                let file = demo::DemoAccounts {
                    url: url.clone(),
                    seed,
                    scale,
                    operator_api_key,
                    users: city.users.clone(),
                    applications,
                    open: opened,
                    linkage: data.linkage.clone(),
                    libraries: data.libraries.clone(),
                    licences: issued,
                    open311,
                };
                // Passwords and keys: readable by the owner only, from the first byte.
                write_private(&accounts_file, &serde_json::to_vec_pretty(&file)?)
                    .with_context(|| format!("writing {}", accounts_file.display()))?;
                progress.finish();
                eprintln!("完成 / done in {:.1} s", started.elapsed().as_secs_f64());
            } else {
                eprintln!(
                    "数据目录已有数据，直接使用 / {} is not empty: serving what it holds",
                    data_dir.display()
                );
            }
            if let Ok(bytes) = std::fs::read(&accounts_file) {
                let v: serde_json::Value = serde_json::from_slice(&bytes)?;
                println!("\n控制台 / console: {url}");
                println!("演示账号 / demo accounts ({}):", accounts_file.display());
                for u in v["users"].as_array().into_iter().flatten().take(6) {
                    println!(
                        "  {:<16} {:<20} {}",
                        u["login"].as_str().unwrap_or(""),
                        u["password"].as_str().unwrap_or(""),
                        u["display_name"].as_str().unwrap_or("")
                    );
                }
                println!(
                    "  … {} accounts in all; operator API key: {}",
                    v["users"].as_array().map_or(0, Vec::len),
                    v["operator_api_key"].as_str().unwrap_or("")
                );
            }
            progress.finish();
            if no_serve {
                Ok(())
            } else {
                routine_logging();
                serve(hub, true).await
            }
        }
        Command::Init {
            common,
            hub_department,
            hub_name,
            division,
            admin,
        } => {
            let config = load_config(cli_config, &common, None)?;
            init_logging(&config.log_format);
            let data_dir = config.data_dir.clone();
            let hub = open(config).await?;
            let root = Actor::local_operator();
            hub.engines
                .accounts
                .create_department(
                    &root,
                    &DepartmentInput {
                        code: hub_department.clone(),
                        name: hub_name.clone(),
                        short_name: "大数据局".into(),
                        parent_code: None,
                        division,
                        credit_code: None,
                    },
                )
                .await?;
            let password = format!("Sn-{}", &shuniu_auth::random_token()?[..16]);
            hub.engines
                .accounts
                .create_user(
                    &root,
                    &admin,
                    "系统管理员",
                    Role::HubOperator,
                    &hub_department,
                    &password,
                )
                .await?;
            // The hub's own figures, and the built-in indicators over them.
            hub.engines
                .record_hub_figures()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            hub.engines
                .indicators
                .install_builtin(&root, &hub_department)
                .await?;
            let builtin: Vec<String> = shuniu_indicators::figures::FIGURES
                .iter()
                .map(|f| f.1.to_string())
                .collect();
            hub.engines
                .indicators
                .compute(&root, &builtin, &shuniu_indicators::Range::default())
                .await?;
            let (_, key) = hub
                .engines
                .accounts
                .create_application(
                    &root,
                    "hub-operator",
                    "大数据局运维管理",
                    &hub_department,
                    Role::HubOperator,
                )
                .await?;
            let toml_path = data_dir.join(config::CONFIG_FILE);
            if !toml_path.exists() {
                std::fs::write(
                    &toml_path,
                    "# Shuniu configuration; every key can be overridden by SHUNIU_<KEY>.\n# listen = \"127.0.0.1:8080\"\n# database_url = \"postgres://user@host/shuniu\"\n",
                )?;
            }
            println!("已初始化 / initialised {}", data_dir.display());
            println!("管理员 / operator login: {admin}  password: {password}");
            println!("API key (shown once): {key}");
            Ok(())
        }
        Command::Catalog(cmd) => catalog_command(cli_config, cmd).await,
        Command::User(cmd) => user_command(cli_config, cmd).await,
        Command::App(cmd) => app_command(cli_config, cmd).await,
        Command::Load(args) => {
            let hub = open_existing(cli_config, &args.common).await?;
            lake_cli::load(&hub.engines.aggregation, args).await
        }
        Command::Sql(args) => {
            let hub = open_existing(cli_config, &args.common).await?;
            lake_cli::sql(&hub.engines.aggregation, args).await
        }
        Command::Loads(args) => {
            let hub = open_existing(cli_config, &args.common).await?;
            lake_cli::loads(&hub.engines.aggregation, args).await
        }
        Command::Link(cmd) => link_cli::run(cmd),
        Command::Connector(cmd) => {
            let hub = open_existing(cli_config, cmd.common()).await?;
            lake_cli::connector(&hub.engines.aggregation, cmd).await
        }
        Command::Quality(cmd) => {
            let hub = open_existing(cli_config, cmd.common()).await?;
            quality_cli::run(&hub.engines.quality, cmd).await
        }
        Command::Libraries(cmd) => {
            let hub = open_existing(cli_config, cmd.common()).await?;
            libraries_cli::run(&hub.engines.libraries, cmd).await
        }
        Command::Licence(cmd) => {
            let hub = open_existing(cli_config, cmd.common()).await?;
            licence_cli::run(&hub.engines.licences, cmd).await
        }
        Command::Events(cmd) => {
            let hub = open_existing(cli_config, cmd.common()).await?;
            events_cli::run(&hub.engines.events, cmd).await
        }
        Command::Policy(cmd) => {
            let hub = open_existing(cli_config, cmd.common()).await?;
            policy_cli::run(&hub.engines, cmd).await
        }
        Command::Indicators(cmd) => {
            let hub = open_existing(cli_config, cmd.common()).await?;
            indicators_cli::run(&hub.engines, cmd).await
        }
        Command::Sharing(cmd) => {
            let hub = open_existing(cli_config, cmd.common()).await?;
            sharing_cli::run(&hub.engines.sharing, cmd).await
        }
        Command::Open(cmd) => {
            let hub = open_existing(cli_config, cmd.common()).await?;
            open_cli::run(&hub.engines.open, cmd).await
        }
        Command::Keys(cmd) => {
            let config = load_config(cli_config, cmd.common(), None)?;
            init_logging(&config.log_format);
            keys_cli::run(&config, cmd).await
        }
        Command::Audit(cmd) => {
            let common = cmd.common().cloned().unwrap_or_default();
            let config = load_config(cli_config, &common, None)?;
            init_logging(&config.log_format);
            audit_cli::run(&config, cmd).await
        }
    }
}

/// Opens an existing data directory for an administrative command.
async fn open_existing(cli_config: Option<&PathBuf>, common: &Common) -> Result<Hub> {
    let config = load_config(cli_config, common, None)?;
    init_logging(&config.log_format);
    if demo::is_empty_dir(&config.data_dir)? && config.database_url.is_empty() {
        bail!(
            "数据目录为空 / the data directory {} is empty",
            config.data_dir.display()
        );
    }
    open(config).await
}

fn parse_role(s: &str) -> Result<Role> {
    Role::parse_term(s)
        .with_context(|| format!("unknown role {s}: use hub_operator, data_officer or viewer"))
}

fn generated_password() -> Result<String> {
    Ok(format!("Sn-{}", &shuniu_auth::random_token()?[..16]))
}

async fn user_command(cli_config: Option<&PathBuf>, cmd: UserCommand) -> Result<()> {
    let root = Actor::local_operator();
    match cmd {
        UserCommand::Add {
            common,
            login,
            name,
            role,
            department,
        } => {
            let hub = open_existing(cli_config, &common).await?;
            let password = generated_password()?;
            hub.engines
                .accounts
                .create_user(
                    &root,
                    &login,
                    &name,
                    parse_role(&role)?,
                    &department,
                    &password,
                )
                .await?;
            println!("{login}\t{password}");
        }
        UserCommand::Password { common, login } => {
            let hub = open_existing(cli_config, &common).await?;
            let password = generated_password()?;
            hub.engines
                .accounts
                .set_password(&root, &login, &password)
                .await?;
            println!("{login}\t{password}");
        }
        UserCommand::List { common } => {
            let hub = open_existing(cli_config, &common).await?;
            for u in hub.engines.accounts.users(&root).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    u.login,
                    u.role.code(),
                    u.department_code,
                    u.display_name
                );
            }
        }
    }
    Ok(())
}

async fn app_command(cli_config: Option<&PathBuf>, cmd: AppCommand) -> Result<()> {
    let root = Actor::local_operator();
    match cmd {
        AppCommand::Add {
            common,
            id,
            name,
            role,
            department,
        } => {
            let hub = open_existing(cli_config, &common).await?;
            let (_, key) = hub
                .engines
                .accounts
                .create_application(&root, &id, &name, &department, parse_role(&role)?)
                .await?;
            println!("{id}\t{key}");
        }
        AppCommand::List { common } => {
            let hub = open_existing(cli_config, &common).await?;
            for a in hub.engines.accounts.applications(&root).await? {
                let state = a
                    .revoked_at
                    .as_deref()
                    .map(|t| format!("revoked {t}"))
                    .unwrap_or_else(|| "active".into());
                println!(
                    "{}\t{}\t{}\t{}…\t{}\t{}",
                    a.id,
                    a.role.code(),
                    a.department_code,
                    a.key_prefix,
                    state,
                    a.name
                );
            }
        }
        AppCommand::Revoke { common, id } => {
            let hub = open_existing(cli_config, &common).await?;
            hub.engines.accounts.revoke_application(&root, &id).await?;
            println!("{id}\trevoked");
        }
    }
    Ok(())
}

async fn catalog_command(cli_config: Option<&PathBuf>, cmd: CatalogCommand) -> Result<()> {
    let common = match &cmd {
        CatalogCommand::List { common, .. }
        | CatalogCommand::Show { common, .. }
        | CatalogCommand::Search { common, .. }
        | CatalogCommand::Register { common, .. }
        | CatalogCommand::Review { common, .. }
        | CatalogCommand::Import { common, .. }
        | CatalogCommand::Export { common, .. } => common.clone(),
    };
    let config = load_config(cli_config, &common, None)?;
    init_logging(&config.log_format);
    if demo::is_empty_dir(&config.data_dir)? && config.database_url.is_empty() {
        bail!(
            "数据目录为空 / the data directory {} is empty",
            config.data_dir.display()
        );
    }
    let hub = open(config).await?;
    // The command line runs on the machine that holds the data, with the hub's rights.
    let actor = Actor::local_operator();
    match cmd {
        CatalogCommand::List {
            status,
            provider,
            list,
            json,
            ..
        } => {
            let mut records = match list {
                Some(l) => {
                    hub.engines
                        .catalog
                        .list(ListKind::parse(&l).with_context(|| {
                            format!("unknown list {l}: use aggregation, sharing or open")
                        })?)
                        .await?
                }
                None => hub.engines.catalog.visible(&actor).await?,
            };
            if status != "all" {
                let s = shuniu_types::ResourceStatus::parse_term(&status)
                    .with_context(|| format!("unknown status {status}"))?;
                records.retain(|r| r.status == s);
            }
            if let Some(p) = provider {
                records.retain(|r| r.spec.provider == p);
            }
            print_records(&records, json)
        }
        CatalogCommand::Show { code, json, .. } => {
            let r = hub.engines.catalog.get(&actor, &code).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(());
            }
            println!(
                "{}  {}  [{}] v{}",
                r.code,
                r.spec.name,
                r.status.zh(),
                r.version
            );
            println!("分类 classification: {}", r.spec.classification.path_zh());
            println!("提供部门 provider: {}", r.spec.provider);
            println!(
                "共享 share: {}  开放 open: {}  级别 level: {}  更新 cycle: {}",
                r.spec.share_type.zh(),
                r.spec.open_type.zh(),
                r.spec.level.zh(),
                r.spec.update_cycle.zh()
            );
            if !r.spec.legal_basis.is_empty() {
                println!("不予共享依据 legal basis: {}", r.spec.legal_basis);
            }
            println!("摘要 summary: {}", r.spec.summary);
            println!("信息项 data items:");
            for d in &r.spec.data_items {
                println!(
                    "  {:<20} {:<12} {:<6} {:>5} {}",
                    d.name,
                    d.label,
                    d.data_type.zh(),
                    d.length.map(|l| l.to_string()).unwrap_or_default(),
                    d.semantic_type.zh()
                );
            }
            println!("变更记录 history:");
            for h in hub.engines.catalog.history(&actor, &code).await? {
                println!(
                    "  {}  {:<10} v{}  {}  {}",
                    &h.at[..19],
                    h.action,
                    h.version,
                    h.actor,
                    h.note
                );
            }
            Ok(())
        }
        CatalogCommand::Search {
            text,
            filters,
            limit,
            json,
            ..
        } => {
            let mut map = BTreeMap::new();
            for f in filters {
                let (k, v) = f
                    .split_once('=')
                    .with_context(|| format!("filter {f} is not key=value"))?;
                map.insert(k.to_string(), v.to_string());
            }
            let page = hub
                .engines
                .catalog
                .search(
                    &actor,
                    &SearchParams {
                        text,
                        filters: map,
                        offset: 0,
                        limit,
                    },
                )
                .await?;
            if !json {
                eprintln!("共 {} 条 / {} matches", page.total, page.total);
            }
            print_records(&page.items, json)
        }
        CatalogCommand::Register { file, publish, .. } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let input: ResourceInput = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a resource JSON document", file.display()))?;
            let r = match hub.engines.catalog.register(&actor, &input).await {
                Ok(r) => r,
                Err(shuniu_catalog::CatalogError::Invalid(errors)) => {
                    for e in &errors {
                        eprintln!("  {}: {} / {}", e.field, e.message_zh, e.message_en);
                    }
                    bail!("登记失败 / registration refused ({} errors)", errors.len());
                }
                Err(e) => return Err(e.into()),
            };
            if publish {
                hub.engines.catalog.submit(&actor, &r.code).await?;
                hub.engines
                    .catalog
                    .review(&actor, &r.code, Review::Publish, "")
                    .await?;
            }
            println!("{}", r.code);
            Ok(())
        }
        CatalogCommand::Review {
            code,
            action,
            reason,
            ..
        } => {
            let r = match action.as_str() {
                "submit" => hub.engines.catalog.submit(&actor, &code).await?,
                "publish" => {
                    hub.engines
                        .catalog
                        .review(&actor, &code, Review::Publish, &reason)
                        .await?
                }
                "return" => {
                    hub.engines
                        .catalog
                        .review(&actor, &code, Review::Return, &reason)
                        .await?
                }
                "withdraw" => hub.engines.catalog.withdraw(&actor, &code, &reason).await?,
                other => bail!("unknown action {other}: use submit, publish, return or withdraw"),
            };
            println!("{} → {}", r.code, r.status.zh());
            Ok(())
        }
        CatalogCommand::Import { file, dry_run, .. } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let report = hub
                .engines
                .catalog
                .import_excel(&actor, &bytes, dry_run)
                .await?;
            for e in &report.errors {
                eprintln!(
                    "  第 {} 行 row {}: {}: {} / {}",
                    e.row, e.row, e.field, e.message_zh, e.message_en
                );
            }
            if !report.errors.is_empty() {
                bail!(
                    "导入失败，未导入任何资源 / import refused: {} problems, nothing imported",
                    report.errors.len()
                );
            }
            if dry_run {
                println!("校验通过 / valid: {} resources", report.resources);
            } else {
                for c in &report.imported {
                    println!("{c}");
                }
                eprintln!("已导入 / imported {} drafts", report.imported.len());
            }
            Ok(())
        }
        CatalogCommand::Export { file, list, .. } => {
            let records = match list {
                Some(l) => {
                    hub.engines
                        .catalog
                        .list(ListKind::parse(&l).with_context(|| format!("unknown list {l}"))?)
                        .await?
                }
                None => hub.engines.catalog.visible(&actor).await?,
            };
            let bytes = hub.engines.catalog.export_excel(&records).await?;
            std::fs::write(&file, bytes).with_context(|| format!("writing {}", file.display()))?;
            eprintln!(
                "已导出 / exported {} entries to {}",
                records.len(),
                file.display()
            );
            Ok(())
        }
    }
}

/// Writes a file readable by its owner only (mode 0600 on Unix from creation, never widened).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        // An older file keeps its mode on open: narrow it before writing secrets into it.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(bytes)?;
    f.sync_all()
}
