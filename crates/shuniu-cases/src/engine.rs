//! `Cases`: the durable case engine. A case's state and every step are rows of the control
//! plane; every change is one transaction that moves steps with conditional updates (a step
//! decided twice, by two officers or two processes, changes once), appends to the case's
//! history and queues the automatic work it starts. Automatic steps and compensations are
//! jobs of an outbox, run by a worker that records what each did in the same transaction as
//! the step it completes (`case_effects`, keyed by case, step and action): after a crash the
//! worker runs what was not recorded, and nothing twice. A job that keeps failing becomes an
//! incident an operator resolves (retry, or abandon: the done steps' compensations run); a
//! step a department refuses after others were done runs their compensations. Deadlines are
//! working days on the hub's calendar, stored as times: a sweep after a restart flags what
//! fell due while the server was down.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use shuniu_audit::{AuditLog, Entry, Kind};
use shuniu_lake::Lake;
use shuniu_policy::{Action, Target, decide};
use shuniu_sharing::Sharing;
use shuniu_store::{CaseJobRow, CaseRow, CaseStepRow, Store, Tx};
use shuniu_types::{Actor, CreditCode, FieldError, IdNumber};

use crate::definition::{
    Applicant, MaterialSource, ResultHolder, ServiceDefinition, Trigger, When,
};
use crate::error::{CasesError, internal, state};
use crate::uploads::{UploadRef, Uploads};

/// The automatic handlers a step may name: `record` (the hub files the result itself) and
/// `push URL` (the case is sent, signed, to the department's system).
pub const HANDLERS: [&str; 2] = ["record", "push"];

/// A job failing this many times becomes an incident.
pub const MAX_ATTEMPTS: i64 = 5;

/// The handler and its argument (`push https://…`), when the text names one.
pub fn handler_of(text: &str) -> Option<(&str, &str)> {
    let t = text.trim();
    let (name, arg) = t
        .split_once(char::is_whitespace)
        .map(|(a, b)| (a, b.trim()))
        .unwrap_or((t, ""));
    match name {
        "record" => Some((name, arg)),
        "push" if arg.starts_with("http://") || arg.starts_with("https://") => Some((name, arg)),
        _ => None,
    }
}

/// Who a case is for: the applicant, or the person an event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseSubject {
    Person(IdNumber),
    Enterprise(CreditCode),
}

impl CaseSubject {
    pub fn key(&self) -> &str {
        match self {
            CaseSubject::Person(p) => p.as_str(),
            CaseSubject::Enterprise(c) => c.as_str(),
        }
    }

    fn masked(&self) -> String {
        match self {
            CaseSubject::Person(p) => {
                let s = p.as_str();
                format!("{}********{}", &s[..6], &s[14..])
            }
            // Credit codes are public.
            CaseSubject::Enterprise(c) => c.as_str().to_string(),
        }
    }

    fn kind(&self) -> Applicant {
        match self {
            CaseSubject::Person(_) => Applicant::Person,
            CaseSubject::Enterprise(_) => Applicant::Enterprise,
        }
    }
}

/// A department's decision on a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// 办结: done. A step that issues a licence to someone its decision names (the enterprise
    /// a registration created) is given that holder's identifier.
    Approve {
        note: String,
        holder: Option<String>,
    },
    /// 补正: back to the applicant to correct, with what to correct.
    Return { note: String },
    /// 不予办理: refused, with the reason; the case closes and the done steps are undone.
    Refuse { reason: String },
}

/// How an operator resolves an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Run the failed job again.
    Retry,
    /// Give the case up: the done steps' compensations run, the rest is cancelled.
    Abandon,
}

/// What writing a job's outcome did.
enum Applied {
    Finished,
    Incident(String),
    Nothing,
}

/// A service in the list.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceSummary {
    pub code: String,
    pub name: String,
    pub version: i64,
    /// application | event
    pub trigger: String,
    pub steps: usize,
    pub departments: Vec<String>,
    pub deadline_days: u32,
}

/// A case with its steps and history, as its page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CaseDetail {
    pub case: CaseRow,
    pub service_name: String,
    pub steps: Vec<CaseStepRow>,
    pub events: Vec<shuniu_store::CaseEventRow>,
    pub jobs: Vec<CaseJobRow>,
    /// The form, opened for those who handle the case (empty for others); uploads appear as
    /// references (`upload:…`).
    pub form: BTreeMap<String, String>,
    /// Each material with how it was satisfied, for this case.
    pub materials: Vec<CaseMaterial>,
    /// The licences the case issued (出证结果).
    pub results: Vec<CaseResult>,
}

/// A material of a case and how it was satisfied.
#[derive(Debug, Clone, Serialize)]
pub struct CaseMaterial {
    pub code: String,
    pub name: String,
    /// licence | lookup | upload
    pub by: String,
    /// The upload, when the applicant gave one.
    pub upload: Option<UploadShown>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UploadShown {
    pub name: String,
    pub mime: String,
    pub size: usize,
}

/// A licence a case's step issued.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub step: String,
    pub licence_id: String,
    pub type_code: String,
    pub type_name: String,
    pub holder_name: String,
    pub state: String,
    pub issued_at: String,
}

/// An uploaded material, opened for someone who may read it.
#[derive(Debug, Clone)]
pub struct MaterialFile {
    pub name: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// Keys of the sealed form the hub keeps for itself (never a form field: field names are
/// identifiers): the subject's identifier, and each issuing step's holder.
const APPLICANT_KEY: &str = "@applicant";
fn holder_key(step: &str) -> String {
    format!("@holder:{step}")
}

/// The form as people see it: without the hub's own keys.
fn shown_form(mut form: BTreeMap<String, String>) -> BTreeMap<String, String> {
    form.retain(|k, _| !k.starts_with('@'));
    form
}

/// A service's figures: 减材料、减环节、减时间、减跑动 and satisfaction.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStats {
    pub service: String,
    pub name: String,
    pub cases: i64,
    pub open: i64,
    pub completed: i64,
    pub refused: i64,
    pub incidents: i64,
    /// Materials the applicant no longer brings (e-licences and lookups), per case.
    pub materials_avoided: u32,
    pub materials_left: u32,
    /// Visits before minus visits now (one application online: none).
    pub visits_avoided: u32,
    /// Separate applications before, one now.
    pub steps_joined: u32,
    /// Average working days promised before and now.
    pub days_before: u32,
    pub days_promised: u32,
    /// Completed cases: average days taken, share closed within the promise.
    pub average_days: Option<f64>,
    pub on_time_share: Option<f64>,
    /// 好差评: average of 1–5, and how many rated.
    pub rating: Option<f64>,
    pub rated: i64,
}

/// The audit entry of a case opened: on the applicant's (or the person's) record.
fn open_entry(
    def: &ServiceDefinition,
    version: i64,
    case: &CaseRow,
    origin: &str,
    opened_by: &str,
) -> Entry {
    Entry::by(Kind::Access, "case.open", opened_by, "")
        .channel(if origin == "application" {
            "console"
        } else {
            "service"
        })
        .target(case.id.clone())
        .subjects(vec![case.subject.clone()])
        .purpose(Some(def.name.clone()))
        .detail(format!("{} v{version} {origin}", def.code))
}

/// A job queued now, to run at `at`.
fn pending_job(
    case_id: impl Into<String>,
    step: impl Into<String>,
    action: impl Into<String>,
    at: impl Into<String>,
) -> Result<CaseJobRow, CasesError> {
    Ok(CaseJobRow {
        id: new_id("JOB")?,
        case_id: case_id.into(),
        step: step.into(),
        action: action.into(),
        state: "pending".into(),
        attempts: 0,
        next_at: at.into(),
        last_error: String::new(),
    })
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn text_of(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn new_id(prefix: &str) -> Result<String, CasesError> {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).map_err(internal)?;
    let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
    Ok(format!(
        "{prefix}{}{hex}",
        (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y%m%d")
    ))
}

/// The integrated-services engine. Cheap to clone.
#[derive(Clone)]
pub struct Cases {
    store: Store,
    audit: AuditLog,
    sharing: Sharing,
    lake: Lake,
    keys: shuniu_keys::MasterKey,
    licences: shuniu_licences::Licences,
    uploads: Uploads,
    /// One job round at a time in this process (processes share the work through the
    /// store's conditional updates).
    work: Arc<tokio::sync::Mutex<()>>,
    /// The wait before a failed job's second attempt; doubled at each further one.
    retry_base: std::time::Duration,
}

const FORM_LABEL: &str = "case.form";

impl Cases {
    /// `uploads`: the directory that keeps the applicants' uploaded materials.
    pub fn new(
        store: Store,
        audit: AuditLog,
        sharing: Sharing,
        lake: Lake,
        keys: shuniu_keys::MasterKey,
        licences: shuniu_licences::Licences,
        uploads: &std::path::Path,
    ) -> Cases {
        Cases {
            store,
            audit,
            sharing,
            lake,
            keys,
            licences,
            uploads: Uploads::new(uploads),
            work: Default::default(),
            retry_base: std::time::Duration::from_secs(2),
        }
    }

    /// The same engine with another wait before retries (tests, and deployments whose
    /// departments' systems recover faster or slower).
    pub fn with_retry_base(mut self, base: std::time::Duration) -> Cases {
        self.retry_base = base;
        self
    }

    // ---- definitions ------------------------------------------------------------------

    /// Saves a new version of a service after checking it whole; running cases keep theirs.
    pub async fn define(&self, actor: &Actor, def: &ServiceDefinition) -> Result<i64, CasesError> {
        decide(actor, Action::DefineServices, Target::Hub).map_err(CasesError::Denied)?;
        def.check().map_err(CasesError::Fields)?;
        let mut problems = Vec::new();
        for (i, s) in def.steps.iter().enumerate() {
            for (field, h) in [
                ("automatic", &s.automatic),
                ("compensation", &s.compensation),
            ] {
                if let Some(("push", url)) = h.as_deref().and_then(handler_of)
                    && let Err(e) = self.sharing.check_notification_url(url).await
                {
                    problems.push(FieldError::new(
                        format!("steps[{i}].{field}"),
                        "SERVICE_PUSH_URL",
                        format!("推送地址不可用：{e}"),
                        format!("the push address cannot be used: {e}"),
                    ));
                }
            }
        }
        let trigger_resource = match &def.trigger {
            Trigger::Event { resource, key } => {
                match self.store.resource(resource).await.map_err(internal)? {
                    Some(r) if r.spec.data_items.iter().any(|i| &i.name == key) => {}
                    _ => problems.push(FieldError::new(
                        "trigger",
                        "SERVICE_TRIGGER",
                        format!("触发资源 {resource} 不存在或没有信息项 {key}"),
                        format!(
                            "the trigger resource {resource} does not exist or has no item {key}"
                        ),
                    )),
                }
                resource.clone()
            }
            Trigger::Application { .. } => String::new(),
        };
        if !problems.is_empty() {
            return Err(CasesError::Fields(problems));
        }
        let spec = serde_json::to_string(def).map_err(internal)?;
        let at = now_text();
        let mut tx = self.store.begin().await.map_err(internal)?;
        let version = tx
            .put_service_version(
                &def.code,
                &def.name,
                &trigger_resource,
                &spec,
                &actor.principal,
                &at,
            )
            .await
            .map_err(internal)?;
        if !trigger_resource.is_empty()
            && self
                .store
                .service_follow(&def.code)
                .await
                .map_err(internal)?
                .is_none()
        {
            // Deaths registered from now on open cases; the register's past does not.
            let from = self
                .lake
                .version(&trigger_resource)
                .await
                .map_err(internal)?
                .unwrap_or(-1);
            tx.set_service_follow(&def.code, &trigger_resource, from)
                .await
                .map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        self.audit
            .record(
                Entry::by(
                    Kind::Admin,
                    "service.define",
                    &actor.principal,
                    &actor.department,
                )
                .target(def.code.clone())
                .detail(format!("v{version} {}", def.name)),
            )
            .await
            .map_err(internal)?;
        Ok(version)
    }

    /// Replaces the steps of a service's current definition with those of a BPMN process,
    /// as a new version (the form, materials and trigger stay).
    pub async fn import_bpmn(
        &self,
        actor: &Actor,
        code: &str,
        xml: &str,
    ) -> Result<i64, CasesError> {
        decide(actor, Action::DefineServices, Target::Hub).map_err(CasesError::Denied)?;
        let mut def = self.definition(code, None).await?;
        let mut steps = crate::bpmn::import(xml)?;
        // A modeler drops what it does not know: a step of the same id keeps its materials
        // and its licence when the drawing names none.
        for s in &mut steps {
            if let Some(old) = def.step(&s.id) {
                if s.materials.is_empty() {
                    s.materials = old.materials.clone();
                }
                if s.issues.is_none() {
                    s.issues = old.issues.clone();
                }
            }
        }
        def.steps = steps;
        self.define(actor, &def).await
    }

    /// A service's definition (the current version, or `version`).
    pub async fn definition(
        &self,
        code: &str,
        version: Option<i64>,
    ) -> Result<ServiceDefinition, CasesError> {
        let version = match version {
            Some(v) => v,
            None => self
                .store
                .service(code)
                .await
                .map_err(internal)?
                .map(|s| s.version)
                .ok_or_else(|| CasesError::NotFound(format!("service {code}")))?,
        };
        let spec = self
            .store
            .service_version(code, version)
            .await
            .map_err(internal)?
            .ok_or_else(|| CasesError::NotFound(format!("service {code} v{version}")))?;
        serde_json::from_str(&spec).map_err(internal)
    }

    /// The service as BPMN 2.0 XML with its diagram.
    pub async fn bpmn(&self, code: &str, version: Option<i64>) -> Result<String, CasesError> {
        Ok(crate::bpmn::export(&self.definition(code, version).await?))
    }

    /// Every service (anyone may see what the city offers).
    pub async fn services(&self) -> Result<Vec<ServiceSummary>, CasesError> {
        let mut out = Vec::new();
        for row in self.store.services().await.map_err(internal)? {
            let def: ServiceDefinition = serde_json::from_str(&row.spec).map_err(internal)?;
            let mut departments: Vec<String> =
                def.steps.iter().map(|s| s.department.clone()).collect();
            departments.sort();
            departments.dedup();
            out.push(ServiceSummary {
                code: row.code,
                name: row.name,
                version: row.version,
                trigger: match def.trigger {
                    Trigger::Application { .. } => "application".into(),
                    Trigger::Event { .. } => "event".into(),
                },
                steps: def.steps.len(),
                departments,
                deadline_days: def.deadline_days,
            });
        }
        Ok(out)
    }

    // ---- opening cases ----------------------------------------------------------------

    /// What the applicant's form starts with: each field with a `prefill` from the applicant's
    /// row of the base library (the population library for persons, the legal-entity library
    /// for enterprises). The applicant reads their own data: audited on their record.
    pub async fn prefill(
        &self,
        code: &str,
        subject: &CaseSubject,
    ) -> Result<BTreeMap<String, String>, CasesError> {
        let def = self.definition(code, None).await?;
        let wanted: Vec<(&str, &str)> = def
            .fields
            .iter()
            .filter_map(|f| f.prefill.as_deref().map(|p| (f.name.as_str(), p)))
            .collect();
        let mut out = BTreeMap::new();
        if wanted.is_empty() {
            return Ok(out);
        }
        let kind = match subject {
            CaseSubject::Person(_) => "population",
            CaseSubject::Enterprise(_) => "legal_entity",
        };
        let libs = self.store.base_libraries().await.map_err(internal)?;
        let Some(lib) = libs.iter().find(|l| l.kind == kind) else {
            return Ok(out);
        };
        let Some(rec) = self.store.resource(&lib.code).await.map_err(internal)? else {
            return Ok(out);
        };
        let Some(key) = rec.spec.data_items.iter().find(|i| i.is_key) else {
            return Ok(out);
        };
        let q = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
        let items: Vec<&(&str, &str)> = wanted
            .iter()
            .filter(|(_, item)| rec.spec.data_items.iter().any(|i| i.name == *item))
            .collect();
        if items.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT {} FROM {} WHERE CAST({} AS VARCHAR) = '{}' LIMIT 1",
            items
                .iter()
                .map(|(_, item)| format!("CAST({} AS VARCHAR)", q(item)))
                .collect::<Vec<_>>()
                .join(", "),
            q(&rec.code),
            q(&key.name),
            subject.key().replace('\'', "''"),
        );
        let result = self
            .lake
            .sql(vec![rec.code.clone()], &sql, 1)
            .await
            .map_err(internal)?;
        if let Some(row) = result.to_strings().first() {
            for ((field, _), v) in items.iter().zip(row) {
                if let Some(v) = v {
                    out.insert(field.to_string(), v.clone());
                }
            }
        }
        self.audit
            .record(
                Entry::by(Kind::Access, "case.prefill", "citizen", "")
                    .channel("console")
                    .resource(&rec.code, &rec.spec.provider)
                    .subjects(vec![self.audit.subject(subject.key())])
                    .purpose(Some(format!("{}（申请表预填）", def.name)))
                    .rows(u64::from(!out.is_empty())),
            )
            .await
            .map_err(internal)?;
        Ok(out)
    }

    /// Keeps a file the applicant uploads for a material of `code` that takes uploads (checked
    /// by kind and size, sealed at rest); the form then names it by the reference returned.
    pub async fn upload(
        &self,
        code: &str,
        material: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<UploadRef, CasesError> {
        let def = self.definition(code, None).await?;
        let field = format!("material:{material}");
        let Some(m) = def.materials.iter().find(|m| m.code == material) else {
            return Err(CasesError::Fields(vec![FieldError::new(
                field,
                "CASE_FIELD_UNKNOWN",
                format!("申请表没有“{material}”一项材料"),
                format!("the service takes no material {material:?}"),
            )]));
        };
        if matches!(m.source, MaterialSource::Lookup { .. }) {
            return Err(CasesError::Fields(vec![FieldError::new(
                field,
                "CASE_UPLOAD_NOT_NEEDED",
                format!("“{}”由部门共享获取，无需上传", m.name),
                format!(
                    "{:?} is looked up in shared data: nothing to upload",
                    m.name
                ),
            )]));
        }
        self.uploads
            .put(&self.keys, new_id("UPL")?, &field, name, bytes)
            .await
    }

    /// An application: the form checked against the service (every problem at once), the
    /// consent to the lookups the materials need, then the case opened with its first steps
    /// ready. Audited on the applicant's record.
    pub async fn apply(
        &self,
        subject: &CaseSubject,
        code: &str,
        form: BTreeMap<String, String>,
        consent: bool,
        channel: &str,
    ) -> Result<CaseRow, CasesError> {
        let (def, version) = self.current(code).await?;
        match &def.trigger {
            Trigger::Application { applicant } if *applicant == subject.kind() => {}
            _ => {
                return Err(state(
                    "该事项不接受此类申请人的申请",
                    "this service does not take applications from this kind of applicant",
                ));
            }
        }
        let mut problems = Vec::new();
        for (k, _) in form.iter() {
            let known = def.fields.iter().any(|f| &f.name == k)
                || k.strip_prefix("material:")
                    .is_some_and(|m| def.materials.iter().any(|x| x.code == m));
            if !known {
                problems.push(FieldError::new(
                    k.clone(),
                    "CASE_FIELD_UNKNOWN",
                    format!("申请表没有“{k}”一项"),
                    format!("the form has no field {k:?}"),
                ));
            }
        }
        for f in &def.fields {
            let v = form.get(&f.name).map(|v| v.trim()).unwrap_or("");
            if f.required && v.is_empty() {
                problems.push(FieldError::new(
                    f.name.clone(),
                    "REQUIRED",
                    format!("请填写“{}”", f.label),
                    format!("fill in {:?}", f.label),
                ));
            } else if !v.is_empty() && !f.choices.is_empty() && !f.choices.iter().any(|c| c == v) {
                problems.push(FieldError::new(
                    f.name.clone(),
                    "CASE_CHOICE",
                    format!("“{}”应为：{}", f.label, f.choices.join("、")),
                    format!("{:?} is one of: {}", f.label, f.choices.join(", ")),
                ));
            }
        }
        let held: Vec<String> = if def
            .materials
            .iter()
            .any(|m| matches!(m.source, MaterialSource::Licence { .. }))
        {
            self.licences
                .of_holder(subject.key())
                .await
                .map_err(internal)?
                .into_iter()
                .filter(|l| l.state == "valid")
                .map(|l| l.type_code)
                .collect()
        } else {
            Vec::new()
        };
        for m in &def.materials {
            let field = format!("material:{}", m.code);
            let given = form.get(&field).map(|v| v.trim()).filter(|v| !v.is_empty());
            // Only a reference to a file the hub keeps counts as an upload.
            if let Some(v) = given
                && !UploadRef::parse(v).is_some_and(|r| self.uploads.exists(&r))
            {
                problems.push(FieldError::new(
                    field.clone(),
                    "CASE_UPLOAD_UNKNOWN",
                    format!("“{}”的上传文件不存在，请重新上传", m.name),
                    format!(
                        "the file given for {:?} is not an upload: upload it again",
                        m.name
                    ),
                ));
            }
            match &m.source {
                // 免证办: the applicant's own valid licence of the type replaces the paper;
                // without one, only an upload will do.
                MaterialSource::Licence { licence_type }
                    if !held.iter().any(|t| t == licence_type) && !form.contains_key(&field) =>
                {
                    problems.push(FieldError::new(
                        field,
                        "CASE_MATERIAL",
                        format!("您名下没有有效的“{}”电子证照，请上传", m.name),
                        format!("you hold no valid {:?} e-licence: upload it", m.name),
                    ))
                }
                MaterialSource::Lookup { .. } if !consent => problems.push(FieldError::new(
                    "consent",
                    "CASE_CONSENT",
                    format!("“{}”须经您授权后由部门共享获取，请勾选同意", m.name),
                    format!(
                        "{:?} is looked up in shared data only with your consent",
                        m.name
                    ),
                )),
                MaterialSource::Upload
                    if form
                        .get(&format!("material:{}", m.code))
                        .is_none_or(|v| v.trim().is_empty()) =>
                {
                    problems.push(FieldError::new(
                        format!("material:{}", m.code),
                        "CASE_MATERIAL",
                        format!("请上传“{}”", m.name),
                        format!("upload {:?}", m.name),
                    ))
                }
                _ => {}
            }
        }
        if !problems.is_empty() {
            return Err(CasesError::Fields(problems));
        }
        let form = form
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        let case = self
            .open(&def, version, subject, form, "application", None, channel)
            .await?
            .ok_or_else(|| internal("the application opened no case"))?;
        // The consent is the person's own act: on their record, naming what it lets be read.
        let lookups: Vec<&str> = def
            .materials
            .iter()
            .filter_map(|m| match &m.source {
                MaterialSource::Lookup { resource } => Some(resource.as_str()),
                _ => None,
            })
            .collect();
        if !lookups.is_empty() {
            self.audit
                .record(
                    Entry::by(Kind::Access, "case.consent", "citizen", "")
                        .channel("console")
                        .target(case.id.clone())
                        .subjects(vec![case.subject.clone()])
                        .purpose(Some(def.name.clone()))
                        .detail(lookups.join(",")),
                )
                .await
                .map_err(internal)?;
        }
        Ok(case)
    }

    async fn current(&self, code: &str) -> Result<(ServiceDefinition, i64), CasesError> {
        let row = self
            .store
            .service(code)
            .await
            .map_err(internal)?
            .ok_or_else(|| CasesError::NotFound(format!("service {code}")))?;
        Ok((
            serde_json::from_str(&row.spec).map_err(internal)?,
            row.version,
        ))
    }

    /// Opens a case (`None`: the trigger already opened one).
    #[allow(clippy::too_many_arguments)]
    async fn open(
        &self,
        def: &ServiceDefinition,
        version: i64,
        subject: &CaseSubject,
        form: BTreeMap<String, String>,
        origin: &str,
        trigger_key: Option<String>,
        opened_by: &str,
    ) -> Result<Option<CaseRow>, CasesError> {
        let mut tx = self.store.begin().await.map_err(internal)?;
        let opened = self
            .open_in(
                &mut tx,
                def,
                version,
                subject,
                &form,
                origin,
                trigger_key,
                opened_by,
            )
            .await?;
        tx.commit().await.map_err(internal)?;
        if let Some(case) = &opened {
            self.audit
                .record(open_entry(def, version, case, origin, opened_by))
                .await
                .map_err(internal)?;
        }
        Ok(opened)
    }

    /// Opens a case inside `tx`: its row, its steps (waiting), the first steps made ready.
    #[allow(clippy::too_many_arguments)]
    async fn open_in(
        &self,
        tx: &mut Tx,
        def: &ServiceDefinition,
        version: i64,
        subject: &CaseSubject,
        form: &BTreeMap<String, String>,
        origin: &str,
        trigger_key: Option<String>,
        opened_by: &str,
    ) -> Result<Option<CaseRow>, CasesError> {
        let now = chrono::Utc::now();
        let at = text_of(now);
        let mut form = form.clone();
        form.insert(APPLICANT_KEY.into(), subject.key().to_string());
        let form = &form;
        let sealed = self
            .keys
            .seal_text(FORM_LABEL, &serde_json::to_string(form).map_err(internal)?)
            .map_err(internal)?;
        let case = CaseRow {
            id: new_id("CASE")?,
            service: def.code.clone(),
            version,
            state: "open".into(),
            subject: self.audit.subject(subject.key()),
            subject_masked: subject.masked(),
            form_sealed: sealed,
            origin: origin.into(),
            trigger_key,
            opened_by: opened_by.into(),
            opened_at: at.clone(),
            due_at: text_of(
                self.sharing
                    .deadline_in_working_days(now, def.deadline_days),
            ),
            closed_at: None,
            rating: None,
            rating_note: String::new(),
        };
        if !tx.insert_case(&case).await.map_err(internal)? {
            return Ok(None);
        }
        for s in &def.steps {
            tx.insert_case_step(&CaseStepRow {
                case_id: case.id.clone(),
                step: s.id.clone(),
                name: s.name.clone(),
                department: s.department.clone(),
                state: "waiting".into(),
                ready_at: None,
                due_at: None,
                overdue: false,
                decided_at: None,
                decided_by: None,
                note: String::new(),
            })
            .await
            .map_err(internal)?;
        }
        tx.case_event(&case.id, &at, "opened", "", opened_by, origin)
            .await
            .map_err(internal)?;
        self.advance(tx, &case.id, def, form, now).await?;
        Ok(Some(case))
    }

    /// Makes ready every waiting step whose predecessors are all done or skipped (skipping
    /// those whose condition does not hold, which may free others), queues the automatic
    /// ones, and closes the case when every step is done or skipped.
    async fn advance(
        &self,
        tx: &mut Tx,
        case_id: &str,
        def: &ServiceDefinition,
        form: &BTreeMap<String, String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), CasesError> {
        let at = text_of(now);
        let mut states: BTreeMap<String, String> = tx
            .case_steps(case_id)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|s| (s.step, s.state))
            .collect();
        loop {
            let mut changed = false;
            for s in def.order().unwrap_or_default() {
                if states.get(&s.id).map(String::as_str) != Some("waiting") {
                    continue;
                }
                let free = s
                    .after
                    .iter()
                    .all(|a| matches!(states.get(a).map(String::as_str), Some("done" | "skipped")));
                if !free {
                    continue;
                }
                changed = true;
                if let Some(w) = s.when.as_deref().and_then(When::parse)
                    && !w.holds(form)
                {
                    tx.move_case_step(
                        case_id,
                        &s.id,
                        &["waiting"],
                        "skipped",
                        None,
                        "条件不满足 / condition does not hold",
                        &at,
                    )
                    .await
                    .map_err(internal)?;
                    tx.case_event(case_id, &at, "skipped", &s.id, "hub", "")
                        .await
                        .map_err(internal)?;
                    states.insert(s.id.clone(), "skipped".into());
                    continue;
                }
                let due = text_of(self.sharing.deadline_in_working_days(now, s.deadline_days));
                tx.ready_case_step(case_id, &s.id, &at, &due)
                    .await
                    .map_err(internal)?;
                tx.case_event(case_id, &at, "ready", &s.id, "hub", &due)
                    .await
                    .map_err(internal)?;
                if let Some(h) = &s.automatic {
                    tx.insert_case_job(
                        &pending_job(case_id, s.id.clone(), h.clone(), at.clone())?,
                        &at,
                    )
                    .await
                    .map_err(internal)?;
                }
                states.insert(s.id.clone(), "ready".into());
            }
            if !changed {
                break;
            }
        }
        if !states.is_empty()
            && states.values().all(|s| s == "done" || s == "skipped")
            && tx
                .move_case(case_id, &["open"], "completed", Some(&at))
                .await
                .map_err(internal)?
        {
            tx.case_event(case_id, &at, "completed", "", "hub", "")
                .await
                .map_err(internal)?;
        }
        Ok(())
    }

    fn form_of(&self, case: &CaseRow) -> Result<BTreeMap<String, String>, CasesError> {
        let text = self
            .keys
            .open_text(FORM_LABEL, &case.form_sealed)
            .map_err(internal)?;
        serde_json::from_str(&text).map_err(internal)
    }

    /// Steps in the definition's order (each after those it waits for).
    fn in_order(def: &ServiceDefinition, mut steps: Vec<CaseStepRow>) -> Vec<CaseStepRow> {
        let order: Vec<&str> = def
            .order()
            .unwrap_or_default()
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        steps.sort_by_key(|s| {
            order
                .iter()
                .position(|o| *o == s.step)
                .unwrap_or(usize::MAX)
        });
        steps
    }

    /// The applicant's own case with its definition; another person's case does not exist
    /// for them.
    pub async fn own_case(
        &self,
        subject: &CaseSubject,
        id: &str,
    ) -> Result<(CaseRow, ServiceDefinition), CasesError> {
        let (case, def) = self.case_and_definition(id).await?;
        if case.subject != self.audit.subject(subject.key()) {
            return Err(CasesError::NotFound(format!("case {id}")));
        }
        Ok((case, def))
    }

    async fn case_and_definition(
        &self,
        id: &str,
    ) -> Result<(CaseRow, ServiceDefinition), CasesError> {
        let case = self
            .store
            .case(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| CasesError::NotFound(format!("case {id}")))?;
        let def = self.definition(&case.service, Some(case.version)).await?;
        Ok((case, def))
    }

    // ---- departments ------------------------------------------------------------------

    /// A department's decision on a ready step of a case; only its own data officer decides.
    pub async fn decide(
        &self,
        actor: &Actor,
        id: &str,
        step: &str,
        decision: Decision,
    ) -> Result<CaseDetail, CasesError> {
        let (case, def) = self.case_and_definition(id).await?;
        let s = def
            .step(step)
            .ok_or_else(|| CasesError::NotFound(format!("step {step}")))?;
        decide(
            actor,
            Action::HandleCases,
            Target::SharingOf {
                department: &s.department,
            },
        )
        .map_err(CasesError::Denied)?;
        let reason_needed = |t: &str, field: &str| {
            if t.trim().is_empty() {
                Err(CasesError::Fields(vec![FieldError::new(
                    field,
                    "REASON_REQUIRED",
                    "请说明理由",
                    "give the reason",
                )]))
            } else {
                Ok(())
            }
        };
        let now = chrono::Utc::now();
        let at = text_of(now);
        let mut form = self.form_of(&case)?;
        // The holder of the licence the step issues, when the decision names them: parsed
        // here, sealed with the form.
        let issue_holder = match (&decision, &s.issues) {
            (Decision::Approve { holder, .. }, Some(issue))
                if issue.holder == ResultHolder::Decision =>
            {
                let text = holder.as_deref().unwrap_or("").trim();
                let parsed = IdNumber::parse_any(text)
                    .map(|i| i.to_string())
                    .ok()
                    .or_else(|| text.parse::<CreditCode>().ok().map(|c| c.to_string()));
                let Some(key) = parsed else {
                    return Err(CasesError::Fields(vec![FieldError::new(
                        "holder",
                        "CASE_RESULT_HOLDER",
                        "请填写持证主体的身份证号或统一社会信用代码（出证所需）",
                        "give the holder's ID number or unified social credit code (the licence is issued to them)",
                    )]));
                };
                Some(key)
            }
            _ => None,
        };
        let issuing = matches!(decision, Decision::Approve { .. }) && s.issues.is_some();
        let mut tx = self.store.begin().await.map_err(internal)?;
        let (to, note, kind) = match &decision {
            // A step that issues a licence is done when the licence is: until then it is
            // issuing (the outbox asks the licence engine, and retries).
            Decision::Approve { note, .. } if issuing => ("issuing", note.clone(), "approved"),
            Decision::Approve { note, .. } => ("done", note.clone(), "approved"),
            Decision::Return { note } => {
                reason_needed(note, "note")?;
                ("returned", note.clone(), "returned")
            }
            Decision::Refuse { reason } => {
                reason_needed(reason, "reason")?;
                ("refused", reason.clone(), "refused")
            }
        };
        if !tx
            .move_case_step(id, step, &["ready"], to, Some(&actor.principal), &note, &at)
            .await
            .map_err(internal)?
        {
            return Err(state(
                "该环节不在待办状态（可能已被办理）",
                "the step is not waiting for a decision (it may have been decided already)",
            ));
        }
        tx.case_event(id, &at, kind, step, &actor.principal, &note)
            .await
            .map_err(internal)?;
        match decision {
            Decision::Approve { .. } if issuing => {
                if let Some(h) = issue_holder {
                    form.insert(holder_key(step), h);
                    let sealed = self
                        .keys
                        .seal_text(FORM_LABEL, &serde_json::to_string(&form).map_err(internal)?)
                        .map_err(internal)?;
                    tx.update_case_form(id, &sealed).await.map_err(internal)?;
                }
                let issue = s.issues.as_ref().ok_or_else(|| internal("issue"))?;
                tx.insert_case_job(
                    &pending_job(
                        id,
                        step,
                        format!("issue:{}", issue.licence_type),
                        at.clone(),
                    )?,
                    &at,
                )
                .await
                .map_err(internal)?;
            }
            Decision::Approve { .. } => self.advance(&mut tx, id, &def, &form, now).await?,
            Decision::Return { .. } => {}
            Decision::Refuse { .. } => {
                tx.move_case(id, &["open"], "refused", Some(&at))
                    .await
                    .map_err(internal)?;
                self.unwind(&mut tx, id, &def, &at).await?;
            }
        }
        tx.commit().await.map_err(internal)?;
        self.audit
            .record(
                Entry::by(
                    Kind::Access,
                    "case.decide",
                    &actor.principal,
                    &actor.department,
                )
                .target(id.to_string())
                .subjects(vec![case.subject.clone()])
                .purpose(Some(def.name.clone()))
                .detail(format!("{step} {kind}")),
            )
            .await
            .map_err(internal)?;
        self.detail(actor, id).await
    }

    /// Cancels the steps not yet done and queues the compensation of each done one.
    async fn unwind(
        &self,
        tx: &mut Tx,
        id: &str,
        def: &ServiceDefinition,
        at: &str,
    ) -> Result<(), CasesError> {
        for row in tx.case_steps(id).await.map_err(internal)? {
            let Some(s) = def.step(&row.step) else {
                continue;
            };
            match row.state.as_str() {
                "waiting" | "ready" | "returned" | "failed" | "issuing" => {
                    tx.move_case_step(
                        id,
                        &s.id,
                        &["waiting", "ready", "returned", "failed", "issuing"],
                        "cancelled",
                        None,
                        "",
                        at,
                    )
                    .await
                    .map_err(internal)?;
                }
                "done" => {
                    if let Some(c) = &s.compensation {
                        tx.insert_case_job(
                            &pending_job(id, s.id.clone(), format!("compensate:{c}"), at)?,
                            at,
                        )
                        .await
                        .map_err(internal)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The applicant corrects the form after a step asked for it (补正): the returned steps
    /// are ready again.
    pub async fn resubmit(
        &self,
        subject: &CaseSubject,
        id: &str,
        changes: BTreeMap<String, String>,
    ) -> Result<CaseRow, CasesError> {
        let (case, def) = self.own_case(subject, id).await?;
        let mut form = self.form_of(&case)?;
        for (k, v) in changes {
            if !def.fields.iter().any(|f| f.name == k) && !k.starts_with("material:") {
                return Err(CasesError::Fields(vec![FieldError::new(
                    k.clone(),
                    "CASE_FIELD_UNKNOWN",
                    format!("申请表没有“{k}”一项"),
                    format!("the form has no field {k:?}"),
                )]));
            }
            form.insert(k, v);
        }
        let now = chrono::Utc::now();
        let at = text_of(now);
        let mut tx = self.store.begin().await.map_err(internal)?;
        let mut any = false;
        for row in tx.case_steps(id).await.map_err(internal)? {
            if row.state == "returned" {
                let s = def.step(&row.step).ok_or_else(|| internal("step"))?;
                let due = text_of(self.sharing.deadline_in_working_days(now, s.deadline_days));
                any |= tx
                    .ready_case_step(id, &row.step, &at, &due)
                    .await
                    .map_err(internal)?;
                tx.case_event(id, &at, "resubmitted", &row.step, "applicant", "")
                    .await
                    .map_err(internal)?;
            }
        }
        if !any {
            return Err(state(
                "没有需要补正的环节",
                "no step asked for a correction",
            ));
        }
        let sealed = self
            .keys
            .seal_text(FORM_LABEL, &serde_json::to_string(&form).map_err(internal)?)
            .map_err(internal)?;
        tx.update_case_form(id, &sealed).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.store
            .case(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| CasesError::NotFound(format!("case {id}")))
    }

    /// 好差评: the applicant rates a closed case once (1–5).
    pub async fn rate(
        &self,
        subject: &CaseSubject,
        id: &str,
        rating: i64,
        note: &str,
    ) -> Result<(), CasesError> {
        self.own_case(subject, id).await?;
        if !(1..=5).contains(&rating) {
            return Err(CasesError::Fields(vec![FieldError::new(
                "rating",
                "CASE_RATING",
                "评价为 1–5 星",
                "a rating is 1 to 5",
            )]));
        }
        let mut tx = self.store.begin().await.map_err(internal)?;
        let note: String = note.chars().take(500).collect();
        if !tx.rate_case(id, rating, &note).await.map_err(internal)? {
            return Err(state(
                "办结后方可评价，且只能评价一次",
                "a case is rated once, after it is closed",
            ));
        }
        tx.case_event(
            id,
            &now_text(),
            "rated",
            "",
            "applicant",
            &rating.to_string(),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    // ---- reading ----------------------------------------------------------------------

    /// Cases, newest first (the hub: all of them).
    pub async fn list(
        &self,
        actor: &Actor,
        service: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<CaseRow>, CasesError> {
        decide(actor, Action::ReadCases, Target::Hub).map_err(CasesError::Denied)?;
        self.store
            .cases(service, offset, limit.clamp(1, 1000))
            .await
            .map_err(internal)
    }

    /// An applicant's own cases.
    pub async fn of_subject(&self, subject: &CaseSubject) -> Result<Vec<CaseRow>, CasesError> {
        self.store
            .cases_of_subject(&self.audit.subject(subject.key()))
            .await
            .map_err(internal)
    }

    /// A department's queue: its ready steps, the soonest due first.
    pub async fn queue(&self, actor: &Actor) -> Result<Vec<CaseStepRow>, CasesError> {
        decide(
            actor,
            Action::ReadCases,
            Target::SharingOf {
                department: &actor.department,
            },
        )
        .map_err(CasesError::Denied)?;
        self.store
            .department_steps(&actor.department, "ready", 500)
            .await
            .map_err(internal)
    }

    /// A case with its steps and history: for the hub, and for a department with a step in
    /// it (which sees the form: reading it is audited on the applicant's record).
    pub async fn detail(&self, actor: &Actor, id: &str) -> Result<CaseDetail, CasesError> {
        let (case, def) = self.case_and_definition(id).await?;
        let steps = Self::in_order(&def, self.store.case_steps(id).await.map_err(internal)?);
        if !Self::may_read(actor, &steps) {
            return Err(CasesError::NotFound(format!("case {id}")));
        }
        let form = self.form_of(&case)?;
        self.audit
            .record(
                Entry::by(
                    Kind::Access,
                    "case.read",
                    &actor.principal,
                    &actor.department,
                )
                .target(id.to_string())
                .subjects(vec![case.subject.clone()])
                .purpose(Some(def.name.clone())),
            )
            .await
            .map_err(internal)?;
        let events = self.store.case_events(id).await.map_err(internal)?;
        Ok(CaseDetail {
            results: self.results_of(&events).await?,
            materials: Self::materials_of(&def, &form),
            events,
            jobs: self.store.case_jobs(id).await.map_err(internal)?,
            service_name: def.name.clone(),
            case,
            steps,
            form: shown_form(form),
        })
    }

    /// The hub, and each department with a step in the case, read it.
    fn may_read(actor: &Actor, steps: &[CaseStepRow]) -> bool {
        decide(actor, Action::ReadCases, Target::Hub).is_ok()
            || steps.iter().any(|s| {
                decide(
                    actor,
                    Action::ReadCases,
                    Target::SharingOf {
                        department: &s.department,
                    },
                )
                .is_ok()
            })
    }

    fn materials_of(def: &ServiceDefinition, form: &BTreeMap<String, String>) -> Vec<CaseMaterial> {
        def.materials
            .iter()
            .map(|m| {
                let upload = form
                    .get(&format!("material:{}", m.code))
                    .and_then(|v| UploadRef::parse(v));
                CaseMaterial {
                    code: m.code.clone(),
                    name: m.name.clone(),
                    by: match (&m.source, &upload) {
                        (_, Some(_)) => "upload",
                        (MaterialSource::Licence { .. }, None) => "licence",
                        (MaterialSource::Lookup { .. }, None) => "lookup",
                        (MaterialSource::Upload, None) => "upload",
                    }
                    .into(),
                    upload: upload.map(|u| UploadShown {
                        name: u.name,
                        mime: u.mime,
                        size: u.size,
                    }),
                }
            })
            .collect()
    }

    /// The licences the case's steps issued, from its history.
    async fn results_of(
        &self,
        events: &[shuniu_store::CaseEventRow],
    ) -> Result<Vec<CaseResult>, CasesError> {
        let issued: Vec<(&str, &str)> = events
            .iter()
            .filter(|e| e.kind == "issued")
            .filter_map(|e| Some((e.step.as_str(), e.detail.strip_prefix("licence:")?)))
            .collect();
        if issued.is_empty() {
            return Ok(Vec::new());
        }
        let types = self.licences.types().await.map_err(internal)?;
        let mut out = Vec::new();
        for (step, id) in issued {
            let Ok(l) = self.licences.licence(id).await else {
                continue;
            };
            out.push(CaseResult {
                step: step.into(),
                licence_id: l.id.clone(),
                type_name: types
                    .iter()
                    .find(|t| t.code == l.type_code)
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
                type_code: l.type_code,
                holder_name: l.holder_name,
                state: l.state,
                issued_at: l.issued_at,
            });
        }
        Ok(out)
    }

    /// Issues the licence a decided step names, from the issuing department's data (its row
    /// for the holder must be in the hub: until it is, the job fails and is retried).
    async fn issue(
        &self,
        job: &CaseJobRow,
        case: &CaseRow,
        licence_type: &str,
    ) -> Result<String, String> {
        if !matches!(case.state.as_str(), "open" | "incident") {
            return Ok("未出证：办件已终止 / not issued: the case was closed".into());
        }
        let form = self.form_of(case).map_err(|e| e.to_string())?;
        let holder = form
            .get(&holder_key(&job.step))
            .or_else(|| form.get(APPLICANT_KEY))
            .ok_or("the case names no holder for the licence")?;
        let types = self.licences.types().await.map_err(|e| e.to_string())?;
        let t = types
            .iter()
            .find(|t| t.code == licence_type)
            .ok_or_else(|| format!("licence type {licence_type} is not registered"))?;
        // The hub issues on the department's decision, as it issues from a department's loads.
        let actor = Actor {
            principal: "system:cases".into(),
            display_name: "一件事一次办 / integrated services".into(),
            role: shuniu_types::Role::HubOperator,
            department: t.issuers.first().cloned().unwrap_or_default(),
        };
        let l = self
            .licences
            .issue_for(&actor, licence_type, holder)
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!("licence:{}", l.id))
    }

    /// An uploaded material of a case, for the hub and the departments with a step in it;
    /// audited on the applicant's record.
    pub async fn material(
        &self,
        actor: &Actor,
        id: &str,
        code: &str,
    ) -> Result<MaterialFile, CasesError> {
        let (case, def) = self.case_and_definition(id).await?;
        let steps = self.store.case_steps(id).await.map_err(internal)?;
        if !Self::may_read(actor, &steps) {
            return Err(CasesError::NotFound(format!("case {id}")));
        }
        let file = self.material_file(&case, code).await?;
        self.audit
            .record(
                Entry::by(
                    Kind::Access,
                    "case.material",
                    &actor.principal,
                    &actor.department,
                )
                .target(id.to_string())
                .subjects(vec![case.subject.clone()])
                .purpose(Some(def.name.clone()))
                .detail(code.to_string()),
            )
            .await
            .map_err(internal)?;
        Ok(file)
    }

    /// The applicant's own upload, from their own case.
    pub async fn own_material(
        &self,
        subject: &CaseSubject,
        id: &str,
        code: &str,
    ) -> Result<MaterialFile, CasesError> {
        let (case, _) = self.own_case(subject, id).await?;
        self.material_file(&case, code).await
    }

    async fn material_file(&self, case: &CaseRow, code: &str) -> Result<MaterialFile, CasesError> {
        let form = self.form_of(case)?;
        let r = form
            .get(&format!("material:{code}"))
            .and_then(|v| UploadRef::parse(v))
            .ok_or_else(|| CasesError::NotFound(format!("upload {code}")))?;
        Ok(MaterialFile {
            bytes: self.uploads.get(&self.keys, &r).await?,
            name: r.name,
            mime: r.mime,
        })
    }

    /// The document (PDF) of a licence the applicant's own case issued — the newborn's birth
    /// certificate, the new enterprise's business licence — for the applicant.
    pub async fn result_document(
        &self,
        subject: &CaseSubject,
        id: &str,
        licence_id: &str,
    ) -> Result<Vec<u8>, CasesError> {
        let (case, _) = self.own_case(subject, id).await?;
        let events = self.store.case_events(id).await.map_err(internal)?;
        if !events
            .iter()
            .any(|e| e.kind == "issued" && e.detail.strip_prefix("licence:") == Some(licence_id))
        {
            return Err(CasesError::NotFound(format!("licence {licence_id}")));
        }
        let l = self.licences.licence(licence_id).await.map_err(internal)?;
        let actor = Actor {
            principal: format!("applicant:{}", case.id),
            display_name: "申请人 / applicant".into(),
            role: shuniu_types::Role::HubOperator,
            department: l.issuer.clone(),
        };
        self.licences
            .document(&actor, licence_id)
            .await
            .map_err(internal)
    }

    /// A case as its applicant sees it (their own only).
    pub async fn own_detail(
        &self,
        subject: &CaseSubject,
        id: &str,
    ) -> Result<CaseDetail, CasesError> {
        let (case, def) = self.own_case(subject, id).await?;
        let events = self.store.case_events(id).await.map_err(internal)?;
        let form = self.form_of(&case)?;
        Ok(CaseDetail {
            results: self.results_of(&events).await?,
            materials: Self::materials_of(&def, &form),
            events,
            jobs: Vec::new(),
            steps: Self::in_order(&def, self.store.case_steps(id).await.map_err(internal)?),
            form: shown_form(form),
            service_name: def.name.clone(),
            case,
        })
    }

    /// Each service's figures.
    pub async fn stats(&self) -> Result<Vec<ServiceStats>, CasesError> {
        let counts = self.store.service_counts().await.map_err(internal)?;
        let mut out = Vec::new();
        for row in self.store.services().await.map_err(internal)? {
            let def: ServiceDefinition = serde_json::from_str(&row.spec).map_err(internal)?;
            let c = counts
                .iter()
                .find(|c| c.service == row.code)
                .cloned()
                .unwrap_or_default();
            let left = def
                .materials
                .iter()
                .filter(|m| m.source == MaterialSource::Upload)
                .count() as u32;
            let visits_now = u32::from(left > 0);
            out.push(ServiceStats {
                service: row.code.clone(),
                name: row.name.clone(),
                cases: c.cases,
                open: c.open,
                completed: c.completed,
                refused: c.refused,
                incidents: c.incidents,
                materials_avoided: def.before.materials.saturating_sub(left),
                materials_left: left,
                visits_avoided: def.before.visits.saturating_sub(visits_now),
                steps_joined: def.before.steps.max(def.steps.len() as u32),
                days_before: def.before.days,
                days_promised: def.deadline_days,
                average_days: (c.completed > 0)
                    .then(|| c.seconds_total / c.completed as f64 / 86_400.0),
                on_time_share: (c.completed > 0).then(|| c.on_time as f64 / c.completed as f64),
                rating: (c.rated > 0).then(|| c.rating_total as f64 / c.rated as f64),
                rated: c.rated,
            });
        }
        Ok(out)
    }

    // ---- background -------------------------------------------------------------------

    /// One round of the outbox: every due job (up to 500) run once, their outcomes written in
    /// one transaction (an effect with the step it completes). Returns how many finished.
    pub async fn run_jobs(&self) -> Result<usize, CasesError> {
        let _one = self.work.lock().await;
        let jobs = self
            .store
            .due_case_jobs(&now_text(), 500)
            .await
            .map_err(internal)?;
        if jobs.is_empty() {
            return Ok(0);
        }
        // The cases and their definitions, each definition read once.
        let mut defs: BTreeMap<(String, i64), Arc<ServiceDefinition>> = BTreeMap::new();
        let mut work = Vec::new();
        for job in jobs {
            let Some(case) = self.store.case(&job.case_id).await.map_err(internal)? else {
                continue;
            };
            let key = (case.service.clone(), case.version);
            let def = match defs.get(&key) {
                Some(d) => d.clone(),
                None => {
                    let d = Arc::new(self.definition(&case.service, Some(case.version)).await?);
                    defs.insert(key, d.clone());
                    d
                }
            };
            work.push((job, case, def));
        }
        // Handlers run outside the transaction, pushes sixteen at a time.
        let mut outcomes: Vec<Result<String, String>> = Vec::with_capacity(work.len());
        for chunk in work.chunks(16) {
            outcomes.extend(
                futures::future::join_all(
                    chunk.iter().map(|(job, case, _)| self.execute(job, case)),
                )
                .await,
            );
        }
        let now = chrono::Utc::now();
        let mut tx = self.store.begin().await.map_err(internal)?;
        let mut finished = 0;
        let mut incidents = Vec::new();
        for ((job, case, def), outcome) in work.iter().zip(outcomes) {
            match self
                .apply_outcome(&mut tx, job, case, def, outcome, now)
                .await?
            {
                Applied::Finished => finished += 1,
                Applied::Incident(e) => incidents.push((case.id.clone(), job.step.clone(), e)),
                Applied::Nothing => {}
            }
        }
        tx.commit().await.map_err(internal)?;
        for (case, step, error) in incidents {
            tracing::warn!(%case, %step, %error, "a case's step failed for good: an incident");
        }
        Ok(finished)
    }

    /// Runs a job's handler: what it did, or why not.
    async fn execute(&self, job: &CaseJobRow, case: &CaseRow) -> Result<String, String> {
        let (compensating, handler) = match job.action.strip_prefix("compensate:") {
            Some(h) => (true, h),
            None => (false, job.action.as_str()),
        };
        if let Some(licence_type) = handler.strip_prefix("issue:") {
            return self.issue(job, case, licence_type).await;
        }
        match handler_of(handler) {
            Some(("record", _)) => Ok("已归档 / filed by the hub".into()),
            Some(("push", url)) => {
                let body = serde_json::json!({
                    "case": case.id, "service": case.service, "step": job.step,
                    "action": if compensating { "compensate" } else { "execute" },
                    "subject": case.subject,
                });
                self.sharing
                    .deliver_signed(
                        url,
                        &format!("case:{}", case.service),
                        &job.id,
                        if compensating {
                            "case.compensate"
                        } else {
                            "case.step"
                        },
                        body.to_string().into_bytes(),
                    )
                    .await
                    .map(|()| format!("pushed to {url}"))
            }
            _ => Err(format!("unknown handler {handler:?}")),
        }
    }

    /// Writes a job's outcome inside `tx`: done (its effect, the step done, the case advanced),
    /// retried later, or failed for good (the step failed, the case an incident).
    async fn apply_outcome(
        &self,
        tx: &mut Tx,
        job: &CaseJobRow,
        case: &CaseRow,
        def: &ServiceDefinition,
        outcome: Result<String, String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Applied, CasesError> {
        let at = text_of(now);
        let compensating = job.action.starts_with("compensate:");
        match outcome {
            Ok(detail) => {
                if !tx.finish_case_job(&job.id, &at).await.map_err(internal)? {
                    // Another worker finished it: nothing of ours is written.
                    return Ok(Applied::Nothing);
                }
                tx.insert_case_effect(&case.id, &job.step, &job.action, &at, &detail)
                    .await
                    .map_err(internal)?;
                if compensating {
                    tx.move_case_step(
                        &case.id,
                        &job.step,
                        &["done"],
                        "compensated",
                        Some("hub"),
                        &detail,
                        &at,
                    )
                    .await
                    .map_err(internal)?;
                    tx.case_event(&case.id, &at, "compensated", &job.step, "hub", &detail)
                        .await
                        .map_err(internal)?;
                } else if tx
                    .move_case_step(
                        &case.id,
                        &job.step,
                        &["ready", "issuing"],
                        "done",
                        Some("hub"),
                        &detail,
                        &at,
                    )
                    .await
                    .map_err(internal)?
                {
                    let kind = if job.action.starts_with("issue:") {
                        "issued"
                    } else {
                        "approved"
                    };
                    tx.case_event(&case.id, &at, kind, &job.step, "hub", &detail)
                        .await
                        .map_err(internal)?;
                    let form = self.form_of(case)?;
                    self.advance(tx, &case.id, def, &form, now).await?;
                }
                Ok(Applied::Finished)
            }
            Err(error) => {
                let give_up = job.attempts + 1 >= MAX_ATTEMPTS;
                // 2, 4, 8, 16 seconds … between attempts (with the default base).
                let wait = self.retry_base.as_millis() as i64 * (1i64 << job.attempts.min(10));
                let next = text_of(now + chrono::Duration::milliseconds(wait));
                if !tx
                    .fail_case_job(&job.id, &error, &next, give_up)
                    .await
                    .map_err(internal)?
                {
                    return Ok(Applied::Nothing);
                }
                if !give_up {
                    return Ok(Applied::Nothing);
                }
                if !compensating {
                    tx.move_case_step(
                        &case.id,
                        &job.step,
                        &["ready", "issuing"],
                        "failed",
                        Some("hub"),
                        &error,
                        &at,
                    )
                    .await
                    .map_err(internal)?;
                }
                tx.move_case(
                    &case.id,
                    &["open", "refused", "withdrawn"],
                    "incident",
                    None,
                )
                .await
                .map_err(internal)?;
                tx.case_event(&case.id, &at, "incident", &job.step, "hub", &error)
                    .await
                    .map_err(internal)?;
                Ok(Applied::Incident(error))
            }
        }
    }

    /// An operator resolves an incident: the failed job again, or the case given up (the done
    /// steps' compensations run).
    pub async fn resolve(
        &self,
        actor: &Actor,
        id: &str,
        resolution: Resolution,
    ) -> Result<CaseDetail, CasesError> {
        decide(actor, Action::DefineServices, Target::Hub).map_err(CasesError::Denied)?;
        let (case, def) = self.case_and_definition(id).await?;
        if case.state != "incident" {
            return Err(state(
                "该件没有待处理的异常",
                "the case has no incident to resolve",
            ));
        }
        let at = now_text();
        let mut tx = self.store.begin().await.map_err(internal)?;
        match resolution {
            Resolution::Retry => {
                for row in tx.case_steps(id).await.map_err(internal)? {
                    if row.state == "failed" {
                        // A decided step whose licence could not be issued waits for the
                        // licence again, not for a second decision.
                        let issuing = def.step(&row.step).is_some_and(|s| s.issues.is_some());
                        tx.move_case_step(
                            id,
                            &row.step,
                            &["failed"],
                            if issuing { "issuing" } else { "ready" },
                            Some(&actor.principal),
                            "重试 / retried",
                            &at,
                        )
                        .await
                        .map_err(internal)?;
                    }
                }
                tx.retry_case_jobs(id, &at).await.map_err(internal)?;
                tx.move_case(
                    id,
                    &["incident"],
                    if case.closed_at.is_some() {
                        "refused"
                    } else {
                        "open"
                    },
                    None,
                )
                .await
                .map_err(internal)?;
                tx.case_event(id, &at, "retried", "", &actor.principal, "")
                    .await
                    .map_err(internal)?;
            }
            Resolution::Abandon => {
                tx.move_case(id, &["incident"], "withdrawn", Some(&at))
                    .await
                    .map_err(internal)?;
                self.unwind(&mut tx, id, &def, &at).await?;
                tx.case_event(id, &at, "abandoned", "", &actor.principal, "")
                    .await
                    .map_err(internal)?;
            }
        }
        tx.commit().await.map_err(internal)?;
        self.audit
            .record(
                Entry::by(
                    Kind::Admin,
                    "case.resolve",
                    &actor.principal,
                    &actor.department,
                )
                .target(id.to_string())
                .detail(format!("{resolution:?}")),
            )
            .await
            .map_err(internal)?;
        self.detail(actor, id).await
    }

    /// Flags the ready steps past their deadline (the timers), each once, with an event on
    /// the case and an audit entry. Returns how many.
    pub async fn sweep_deadlines(&self) -> Result<usize, CasesError> {
        self.sweep_deadlines_at(chrono::Utc::now()).await
    }

    /// [`Cases::sweep_deadlines`] as of `now`.
    pub async fn sweep_deadlines_at(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, CasesError> {
        let at = text_of(now);
        let mut n = 0;
        for s in self
            .store
            .steps_past_due(&at, 500)
            .await
            .map_err(internal)?
        {
            let mut tx = self.store.begin().await.map_err(internal)?;
            if tx
                .flag_case_step_overdue(&s.case_id, &s.step)
                .await
                .map_err(internal)?
            {
                tx.case_event(
                    &s.case_id,
                    &at,
                    "overdue",
                    &s.step,
                    "hub",
                    s.due_at.as_deref().unwrap_or(""),
                )
                .await
                .map_err(internal)?;
                n += 1;
            }
            tx.commit().await.map_err(internal)?;
        }
        if n > 0 {
            self.audit
                .record(
                    Entry::by(Kind::Admin, "case.overdue", "system:cases", "")
                        .detail(format!("{n} steps past their deadline")),
                )
                .await
                .map_err(internal)?;
        }
        Ok(n)
    }

    /// Opens the cases new rows of the event-triggered services' resources call for (each
    /// person once per service), reading only the data files added since the last round.
    pub async fn follow_events(&self) -> Result<usize, CasesError> {
        let mut opened = 0;
        for row in self.store.services().await.map_err(internal)? {
            if row.trigger_resource.is_empty() {
                continue;
            }
            let def: ServiceDefinition = serde_json::from_str(&row.spec).map_err(internal)?;
            let Trigger::Event { resource, key } = &def.trigger else {
                continue;
            };
            let Some(to) = self.lake.version(resource).await.map_err(internal)? else {
                continue;
            };
            let from = self
                .store
                .service_follow(&def.code)
                .await
                .map_err(internal)?
                .filter(|(r, _)| r == resource)
                .map(|(_, v)| v)
                .unwrap_or(-1);
            if from >= to {
                continue;
            }
            let q = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
            let keys: Vec<String> = if from < 0 {
                let sql = format!("SELECT CAST({} AS VARCHAR) FROM {}", q(key), q(resource));
                let r = self
                    .lake
                    .sql(vec![resource.clone()], &sql, usize::MAX)
                    .await
                    .map_err(internal)?;
                r.to_strings()
                    .into_iter()
                    .filter_map(|r| r.into_iter().next().flatten())
                    .collect()
            } else {
                let diff = self
                    .lake
                    .changes(resource, from, to)
                    .await
                    .map_err(internal)?;
                match diff.added_table() {
                    Some(t) => {
                        let sql = format!("SELECT CAST({} AS VARCHAR) FROM {}", q(key), q(&t));
                        let r = self.lake.sql_changes(&diff, &sql).await.map_err(internal)?;
                        r.to_strings()
                            .into_iter()
                            .filter_map(|r| r.into_iter().next().flatten())
                            .collect()
                    }
                    None => Vec::new(),
                }
            };
            let origin = format!("event:{resource}@{to}");
            // Opened 500 to a transaction: a crash loses at most the batch under way, which
            // the next round opens again (a case already opened is not opened twice).
            for chunk in keys.chunks(500) {
                let mut tx = self.store.begin().await.map_err(internal)?;
                let mut entries = Vec::new();
                for k in chunk {
                    let Ok(person) = k.trim().parse::<IdNumber>() else {
                        tracing::warn!(service = %def.code, "an event row names no valid ID number");
                        continue;
                    };
                    let subject = CaseSubject::Person(person);
                    let trigger_key = Some(self.audit.subject(subject.key()));
                    if let Some(case) = self
                        .open_in(
                            &mut tx,
                            &def,
                            row.version,
                            &subject,
                            &BTreeMap::new(),
                            &origin,
                            trigger_key,
                            "system:cases",
                        )
                        .await?
                    {
                        entries.push(open_entry(
                            &def,
                            row.version,
                            &case,
                            &origin,
                            "system:cases",
                        ));
                    }
                }
                tx.commit().await.map_err(internal)?;
                opened += entries.len();
                if !entries.is_empty() {
                    self.audit.record_all(entries).await.map_err(internal)?;
                }
            }
            let mut tx = self.store.begin().await.map_err(internal)?;
            tx.set_service_follow(&def.code, resource, to)
                .await
                .map_err(internal)?;
            tx.commit().await.map_err(internal)?;
        }
        Ok(opened)
    }

    /// Runs the outbox, the timers and the event triggers every `every`, and follows committed
    /// loads (a death registration opens its cases at once). The server runs this.
    pub fn spawn_background(
        &self,
        every: std::time::Duration,
        mut commits: tokio::sync::broadcast::Receiver<(String, i64)>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    r = commits.recv() => {
                        if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                            // No more commits: keep the timer.
                            commits = tokio::sync::broadcast::channel(1).1;
                        }
                    }
                }
                if let Err(e) = me.follow_events().await {
                    tracing::warn!(error = %e, "event-triggered cases were not opened");
                }
                loop {
                    match me.run_jobs().await {
                        Ok(0) => break,
                        Ok(_) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, "case jobs did not run");
                            break;
                        }
                    }
                }
                if let Err(e) = me.sweep_deadlines().await {
                    tracing::warn!(error = %e, "case deadlines were not swept");
                }
            }
        })
    }
}
