//! Intake beyond a single report: photos, the registry of cameras and sensors and their signed
//! alerts, and the 12345 hotline's batch export (CSV or Excel, GBK included).
//!
//! Every channel ends in `Events::report`, so location, classification, duplicates and
//! dispatch are decided once. A sending system's own number (work order, alert id) makes an
//! event once: a retry or an import run again finds the event it already made.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use shuniu_ingest::{RecordSink, SourceOptions, normalise_header, read_file};
use shuniu_policy::{Action, Target, decide};
use shuniu_store::{EventDeviceRow, EventMediaRow, EventRow, Tx};
use shuniu_types::{Actor, IdNumber};

use crate::engine::{Report, internal, leaves, random_hex};
use crate::error::EventError;
use crate::model::{self, Channel, Point, Urgency};
use crate::{Events, Result};

type HmacSm3 = hmac::Hmac<sm3::Sm3>;

/// A photo is at most this large (a phone's JPEG is 2–4 MB).
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;
/// Photos per report or step.
pub const MAX_PHOTOS: usize = 6;
/// A signed alert older or newer than this is refused (a replay, or a clock gone wrong).
pub const SIGNATURE_WINDOW_SECONDS: i64 = 300;
/// Work orders per hotline file: a day's export is thousands; a larger file is split.
pub const MAX_IMPORT_ROWS: usize = 100_000;

/// A photo whose bytes were checked to be an image.
#[derive(Debug, Clone)]
pub struct Photo {
    content_type: &'static str,
    bytes: Vec<u8>,
}

impl Photo {
    /// Accepts JPEG, PNG and WebP up to 5 MB, told by their bytes (not the name a phone
    /// gave the file).
    pub fn check(bytes: Vec<u8>) -> Result<Photo> {
        if bytes.is_empty() || bytes.len() > MAX_PHOTO_BYTES {
            return Err(EventError::invalid(
                "EVENT_PHOTO_SIZE",
                "照片须为 1 字节至 5 MB",
                "a photo is 1 byte to 5 MB",
            ));
        }
        let content_type = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            "image/jpeg"
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            "image/png"
        } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            "image/webp"
        } else {
            return Err(EventError::invalid(
                "EVENT_PHOTO_TYPE",
                "照片须为 JPEG、PNG 或 WebP 图片",
                "a photo is a JPEG, PNG or WebP image",
            ));
        };
        Ok(Photo {
            content_type,
            bytes,
        })
    }

    /// A photo sent inside JSON, base64.
    pub fn from_base64(text: &str) -> Result<Photo> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| {
                EventError::invalid(
                    "EVENT_PHOTO_TYPE",
                    "照片须为 base64 编码的图片",
                    "a photo is a base64-encoded picture",
                )
            })?;
        Photo::check(bytes)
    }

    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// Stores the photo in the transaction; returns the reference steps carry.
    pub(crate) async fn keep(&self, tx: &mut Tx, by: &str) -> Result<String> {
        use sm3::Digest;
        let digest = hex::encode(sm3::Sm3::digest(&self.bytes));
        tx.put_event_media(
            &EventMediaRow {
                digest: digest.clone(),
                content_type: self.content_type.to_string(),
                bytes: self.bytes.clone(),
            },
            by,
            &shuniu_store::now(),
        )
        .await
        .map_err(internal)?;
        Ok(format!("media:{digest}"))
    }
}

/// A camera or sensor to register.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceInput {
    pub id: String,
    pub name: String,
    /// `camera` or `sensor`.
    pub kind: String,
    pub lat: f64,
    pub lon: f64,
    #[serde(default)]
    pub address: String,
    /// The department that owns the device.
    pub department: String,
    /// The category its alerts fall in unless an alert names one.
    pub category: String,
}

/// A device as listed (no secret).
#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub lat: f64,
    pub lon: f64,
    pub district: String,
    pub address: String,
    pub department: String,
    pub category: String,
    pub active: bool,
    pub created_at: String,
    pub last_seen_at: Option<String>,
}

impl From<&EventDeviceRow> for DeviceView {
    fn from(d: &EventDeviceRow) -> Self {
        DeviceView {
            id: d.id.clone(),
            name: d.name.clone(),
            kind: d.kind.clone(),
            lat: d.lat,
            lon: d.lon,
            district: d.district.clone(),
            address: d.address.clone(),
            department: d.department.clone(),
            category: d.category.clone(),
            active: d.active,
            created_at: d.created_at.clone(),
            last_seen_at: d.last_seen_at.clone(),
        }
    }
}

/// A registered device and its signing secret (shown once).
#[derive(Debug, Clone, Serialize)]
pub struct NewDevice {
    #[serde(flatten)]
    pub device: DeviceView,
    pub secret: String,
}

/// What a camera or sensor platform posts.
#[derive(Debug, Clone, Deserialize)]
pub struct Alert {
    /// The platform's own id of the alert.
    pub alert_id: String,
    /// A category code; the device's category when absent.
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Where, when the device covers a wide area (a patrol drone); the device's place else.
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
    #[serde(default)]
    pub urgency: Option<String>,
    /// RFC 3339; the time of receipt when absent.
    #[serde(default)]
    pub occurred_at: Option<String>,
    /// The recognition model's score, kept among the attributes.
    #[serde(default)]
    pub score: Option<f64>,
    /// A frame, base64 (JPEG, PNG or WebP).
    #[serde(default)]
    pub image: Option<String>,
}

fn unsigned(en: &str) -> EventError {
    EventError::Unsigned(en.to_string())
}

fn device_label(id: &str) -> String {
    format!("event-device:{id}")
}

/// The signature a device sends: `hmac-sm3=<hex>` of `<timestamp>.<body>` under its secret
/// (the same scheme the hub's own webhooks use).
pub fn sign_alert(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = <HmacSm3 as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("hmac-sm3={}", hex::encode(mac.finalize().into_bytes()))
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub rows: u64,
    /// New events made.
    pub created: u64,
    /// Work orders already imported (by their number): left as they are.
    pub known: u64,
    /// New reports folded into an open event nearby.
    pub merged: u64,
    /// New events dispatched by rule at once.
    pub dispatched: u64,
    pub encoding: Option<&'static str>,
    pub format: String,
}

/// A row the import refuses, with its line in the file.
#[derive(Debug, Clone, Serialize)]
pub struct RowProblem {
    pub line: u64,
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
}

/// The hotline export's columns, by the names 12345 systems use (and English ones).
const COLUMNS: [(&str, &[&str]); 10] = [
    (
        "number",
        &[
            "工单编号",
            "工单号",
            "受理编号",
            "work_order",
            "external_id",
        ],
    ),
    ("time", &["受理时间", "来电时间", "登记时间", "reported_at"]),
    (
        "description",
        &["诉求内容", "问题描述", "来电内容", "description"],
    ),
    ("address", &["事发地址", "地址", "问题地址", "address"]),
    ("lat", &["纬度", "lat", "latitude"]),
    ("lon", &["经度", "lon", "long", "longitude"]),
    ("category", &["诉求分类", "事件分类", "分类", "category"]),
    ("urgency", &["紧急程度", "urgency"]),
    ("name", &["来电人", "联系人", "reporter_name"]),
    ("phone", &["联系电话", "来电号码", "reporter_phone"]),
];
const ID_COLUMN: [&str; 3] = ["身份证号", "证件号码", "reporter_id"];

struct Collect {
    rows: Vec<(u64, Vec<Option<String>>)>,
    bad: Vec<RowProblem>,
}

impl RecordSink for Collect {
    fn record(
        &mut self,
        line: u64,
        fields: &dyn shuniu_ingest::source::Fields,
    ) -> std::result::Result<(), shuniu_ingest::IngestError> {
        if fields.is_blank() {
            return Ok(());
        }
        if self.rows.len() >= MAX_IMPORT_ROWS {
            return Err(shuniu_ingest::IngestError::input(
                "EVENT_IMPORT_TOO_LARGE",
                format!("一个文件至多 {MAX_IMPORT_ROWS} 张工单，请分批导入"),
                format!("a file holds at most {MAX_IMPORT_ROWS} work orders: split it"),
            ));
        }
        let row = (0..fields.len())
            .map(|i| fields.get(i).map(str::to_string))
            .collect();
        self.rows.push((line, row));
        Ok(())
    }

    fn bad_record(
        &mut self,
        line: u64,
        _raw: Vec<String>,
        code: &'static str,
        zh: String,
        en: String,
    ) -> std::result::Result<(), shuniu_ingest::IngestError> {
        self.bad.push(RowProblem {
            line,
            code,
            message_zh: zh,
            message_en: en,
        });
        Ok(())
    }
}

impl Events {
    /// The registered cameras and sensors.
    pub async fn devices(&self, actor: &Actor) -> Result<Vec<DeviceView>> {
        decide(actor, Action::ManageEvents, Target::Hub).map_err(EventError::Denied)?;
        Ok(self
            .store()
            .event_devices()
            .await
            .map_err(internal)?
            .iter()
            .map(DeviceView::from)
            .collect())
    }

    /// Registers a camera or sensor (or gives a registered one a new secret).
    pub async fn register_device(&self, actor: &Actor, d: &DeviceInput) -> Result<NewDevice> {
        decide(actor, Action::ManageEvents, Target::Hub).map_err(EventError::Denied)?;
        let id = d.id.trim();
        if id.is_empty()
            || id.len() > 64
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(EventError::invalid(
                "EVENT_DEVICE_ID",
                "设备编号须为 1–64 位字母、数字、连字符或下划线",
                "a device id is 1–64 letters, digits, hyphens or underscores",
            ));
        }
        let kind = d.kind.trim();
        if !matches!(kind, "camera" | "sensor") || d.name.trim().is_empty() {
            return Err(EventError::invalid(
                "EVENT_DEVICE_INVALID",
                "设备须有名称，类型为 camera（视频）或 sensor（传感器）",
                "a device needs a name and a kind: camera or sensor",
            ));
        }
        let point = Point {
            lat: d.lat,
            lon: d.lon,
        };
        if !point.valid() || (d.lat == 0.0 && d.lon == 0.0) {
            return Err(EventError::invalid(
                "EVENT_LOCATION",
                "经纬度无效",
                "the latitude or longitude is not valid",
            ));
        }
        if self
            .store()
            .department(d.department.trim())
            .await
            .map_err(internal)?
            .is_none()
        {
            return Err(EventError::invalid(
                "EVENT_DEPARTMENT_UNKNOWN",
                format!("部门 {} 不存在", d.department.trim()),
                format!("no department {}", d.department.trim()),
            ));
        }
        let cats = self.categories().await?;
        if !leaves(&cats).iter().any(|c| c.code == d.category.trim()) {
            return Err(EventError::NotFound(format!(
                "service {}",
                d.category.trim()
            )));
        }
        let secret = format!("dvsec_{}", random_hex(24)?);
        let before = self.store().event_device(id).await.map_err(internal)?;
        let row = EventDeviceRow {
            id: id.to_string(),
            name: d.name.trim().to_string(),
            kind: kind.to_string(),
            lat: d.lat,
            lon: d.lon,
            district: model::district_of(point).0.to_string(),
            address: d.address.trim().to_string(),
            department: d.department.trim().to_string(),
            category: d.category.trim().to_string(),
            secret_sealed: self
                .inner
                .keys
                .seal_text(&device_label(id), &secret)
                .map_err(internal)?,
            active: true,
            created_at: before
                .as_ref()
                .map_or_else(shuniu_store::now, |b| b.created_at.clone()),
            last_seen_at: before.and_then(|b| b.last_seen_at),
        };
        let mut tx = self.store().begin().await.map_err(internal)?;
        tx.put_event_device(&row).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.admin(actor, "event.device", id, &format!("{kind} {}", row.name))
            .await?;
        Ok(NewDevice {
            device: DeviceView::from(&row),
            secret,
        })
    }

    /// An alert posted by a registered device: its signature and time checked, then reported
    /// on the sensor channel at the device's place (or the alert's), under the device's
    /// category unless it names one. The alert's id makes it one event however often sent.
    pub async fn device_alert(
        &self,
        device_id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<EventRow> {
        let device = self
            .store()
            .event_device(device_id.trim())
            .await
            .map_err(internal)?
            .filter(|d| d.active)
            .ok_or_else(|| unsigned("unknown or retired device"))?;
        let sent = timestamp
            .trim()
            .parse::<i64>()
            .map_err(|_| unsigned("the timestamp is not Unix seconds"))?;
        if (now.timestamp() - sent).abs() > SIGNATURE_WINDOW_SECONDS {
            return Err(unsigned("the timestamp is more than 5 minutes off"));
        }
        let secret = self
            .inner
            .keys
            .open_text(&device_label(&device.id), &device.secret_sealed)
            .map_err(internal)?;
        let given = signature
            .trim()
            .strip_prefix("hmac-sm3=")
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| unsigned("the signature is not hmac-sm3=<hex>"))?;
        let mut mac = <HmacSm3 as KeyInit>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(timestamp.trim().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(&given)
            .map_err(|_| unsigned("the signature does not match"))?;
        let alert: Alert = serde_json::from_slice(body).map_err(|e| {
            EventError::invalid(
                "EVENT_ALERT_BODY",
                format!("告警内容无法解析：{e}"),
                format!("the alert cannot be read: {e}"),
            )
        })?;
        let alert_id = alert.alert_id.trim();
        if alert_id.is_empty() || alert_id.len() > 128 {
            return Err(EventError::invalid(
                "EVENT_ALERT_ID",
                "告警须有编号（不超过 128 字符）",
                "an alert needs its id (at most 128 characters)",
            ));
        }
        let occurred = match alert.occurred_at.as_deref() {
            Some(t) => DateTime::parse_from_rfc3339(t.trim())
                .map_err(|_| {
                    EventError::invalid(
                        "EVENT_ALERT_TIME",
                        "occurred_at 须为带时区的 RFC 3339 时间",
                        "occurred_at is an RFC 3339 time with its zone",
                    )
                })?
                .with_timezone(&Utc)
                .min(now),
            None => now,
        };
        let urgency = match alert.urgency.as_deref() {
            Some(u) => Some(Urgency::parse_term(u).ok_or_else(|| {
                EventError::invalid("EVENT_URGENCY", "紧急程度无效", "unknown urgency")
            })?),
            None => None,
        };
        let mut photos = Vec::new();
        if let Some(img) = alert.image.as_deref().filter(|i| !i.is_empty()) {
            photos.push(Photo::from_base64(img)?);
        }
        let category = alert
            .category
            .clone()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| device.category.clone());
        let point = match (alert.lat, alert.lon) {
            (Some(lat), Some(lon)) => Point { lat, lon },
            _ => Point {
                lat: device.lat,
                lon: device.lon,
            },
        };
        let mut attributes = BTreeMap::from([("device".to_string(), device.id.clone())]);
        if let Some(s) = alert.score {
            attributes.insert("score".into(), format!("{s:.3}"));
        }
        let by = Actor {
            principal: format!("device:{}", device.id),
            display_name: device.name.clone(),
            role: shuniu_types::Role::Viewer,
            department: device.department.clone(),
        };
        let e = self
            .report(
                &by,
                Report {
                    channel: Some(Channel::Sensor),
                    category: Some(category),
                    description: alert
                        .description
                        .clone()
                        .filter(|d| !d.trim().is_empty())
                        .unwrap_or_else(|| format!("{}告警 {alert_id}", device.name)),
                    address: Some(device.address.clone()).filter(|a| !a.is_empty()),
                    point: Some(point),
                    urgency,
                    reporter_name: Some(device.name.clone()),
                    external_id: Some(format!("{}:{alert_id}", device.id)),
                    attributes,
                    photos,
                    reported_at: Some(occurred),
                    ..Default::default()
                },
            )
            .await?;
        let mut tx = self.store().begin().await.map_err(internal)?;
        tx.touch_event_device(&device.id, &now.to_rfc3339())
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(e)
    }

    /// A photo of an event, for those who may see the event; only photos its history
    /// references are served under it.
    pub async fn media(
        &self,
        actor: &Actor,
        event_id: &str,
        digest: &str,
    ) -> Result<EventMediaRow> {
        let e = self.load(actor, event_id).await?;
        let reference = format!("media:{}", digest.trim());
        let steps = self.store().event_steps(&e.id).await.map_err(internal)?;
        if !steps.iter().any(|s| s.photos.contains(&reference)) {
            return Err(EventError::NotFound(format!("photo {}", digest.trim())));
        }
        self.store()
            .event_media(digest.trim())
            .await
            .map_err(internal)?
            .ok_or_else(|| EventError::NotFound(format!("photo {}", digest.trim())))
    }

    /// Imports the 12345 hotline's export of work orders (CSV in UTF-8 or GBK, or Excel).
    ///
    /// Every row is checked before any is taken: a file with a bad row is refused whole,
    /// naming each bad row's line, and nothing is imported. Rows whose work-order number was
    /// imported before are left as they are, so a file can be imported again, and an import
    /// cut short is finished by running it again.
    pub async fn import_hotline(
        &self,
        actor: &Actor,
        path: &Path,
    ) -> Result<std::result::Result<ImportReport, Vec<RowProblem>>> {
        decide(actor, Action::ManageEvents, Target::Hub).map_err(EventError::Denied)?;
        let path = path.to_path_buf();
        let read = tokio::task::spawn_blocking(move || {
            let source = read_file(&path, &SourceOptions::default())?;
            let headers = source.headers().to_vec();
            let format = source.format().name().to_string();
            let mut sink = Collect {
                rows: Vec::new(),
                bad: Vec::new(),
            };
            let summary = source.run(&mut sink)?;
            Ok::<_, shuniu_ingest::IngestError>((headers, format, summary.encoding, sink))
        })
        .await
        .map_err(internal)?;
        let (headers, format, encoding, sink) = read
            .map_err(|e| EventError::invalid("EVENT_IMPORT_FILE", e.message_zh(), e.to_string()))?;
        let headers: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
        let col = |names: &[&str]| {
            headers
                .iter()
                .position(|h| names.iter().any(|n| normalise_header(n) == *h))
        };
        let at: BTreeMap<&str, Option<usize>> =
            COLUMNS.iter().map(|(k, names)| (*k, col(names))).collect();
        let id_col = col(&ID_COLUMN);
        for required in ["number", "description"] {
            if at[required].is_none() {
                let names = COLUMNS
                    .iter()
                    .find(|c| c.0 == required)
                    .map(|c| c.1.join("/"))
                    .unwrap_or_default();
                return Err(EventError::invalid(
                    "EVENT_IMPORT_COLUMNS",
                    format!("文件缺少必需的列：{names}"),
                    format!("the file lacks a required column: {names}"),
                ));
            }
        }
        let cats = self.categories().await?;
        let services = leaves(&cats);
        let mut problems = sink.bad;
        let mut seen = BTreeSet::new();
        let mut reports = Vec::new();
        for (line, row) in &sink.rows {
            let cell = |k: &str| {
                at[k]
                    .and_then(|i| row.get(i).cloned().flatten())
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            };
            let mut bad = |code: &'static str, zh: String, en: String| {
                problems.push(RowProblem {
                    line: *line,
                    code,
                    message_zh: zh,
                    message_en: en,
                })
            };
            let Some(number) = cell("number") else {
                bad(
                    "EVENT_IMPORT_NUMBER",
                    "缺少工单编号".into(),
                    "the work order number is missing".into(),
                );
                continue;
            };
            if !seen.insert(number.clone()) {
                bad(
                    "EVENT_IMPORT_DUPLICATE",
                    format!("工单编号 {number} 在文件中重复"),
                    format!("work order {number} appears twice in the file"),
                );
                continue;
            }
            let description = cell("description").unwrap_or_default();
            if description.is_empty() || description.chars().count() > 4_000 {
                bad(
                    "EVENT_DESCRIPTION",
                    "诉求内容为空或超过 4000 字".into(),
                    "the description is empty or longer than 4,000 characters".into(),
                );
                continue;
            }
            let reported_at = match cell("time") {
                Some(t) => match shuniu_ingest::parse_datetime(&t) {
                    Ok(micros) => DateTime::<Utc>::from_timestamp_micros(micros),
                    Err(e) => {
                        bad(
                            "EVENT_IMPORT_TIME",
                            format!("受理时间“{t}”：{}", e.zh()),
                            format!("time {t:?}: {}", e.en()),
                        );
                        continue;
                    }
                },
                None => None,
            };
            if reported_at.is_some_and(|t| t > Utc::now() + Duration::minutes(5)) {
                bad(
                    "EVENT_IMPORT_TIME",
                    "受理时间晚于现在".into(),
                    "the time is in the future".into(),
                );
                continue;
            }
            let point = match (cell("lat"), cell("lon")) {
                (Some(a), Some(o)) => match (a.parse::<f64>(), o.parse::<f64>()) {
                    (Ok(lat), Ok(lon)) if (Point { lat, lon }).valid() => Some(Point { lat, lon }),
                    _ => {
                        bad(
                            "EVENT_LOCATION",
                            "经纬度无效".into(),
                            "the latitude or longitude is not valid".into(),
                        );
                        continue;
                    }
                },
                _ => None,
            };
            let address = cell("address");
            if point.is_none()
                && shuniu_types::address::parse(address.as_deref().unwrap_or(""), None)
                    .district
                    .is_none()
            {
                bad(
                    "EVENT_LOCATION",
                    "无经纬度，地址也无法识别到区（市）".into(),
                    "no coordinates, and the address names no district".into(),
                );
                continue;
            }
            // A category by code or by name; none: suggested from the text.
            let category = match cell("category") {
                Some(c) => match services.iter().find(|s| s.code == c || s.name == c) {
                    Some(s) => Some(s.code.clone()),
                    None => {
                        bad(
                            "EVENT_IMPORT_CATEGORY",
                            format!("未知的事件分类“{c}”"),
                            format!("unknown category {c:?}"),
                        );
                        continue;
                    }
                },
                None => {
                    if self.suggest(&description).is_none() {
                        bad(
                            "EVENT_CATEGORY_REQUIRED",
                            "无法从诉求内容判断分类，请填写诉求分类".into(),
                            "the category cannot be told from the description: fill it in".into(),
                        );
                        continue;
                    }
                    None
                }
            };
            let urgency = match cell("urgency") {
                Some(u) => match Urgency::parse_term(&u) {
                    Some(u) => Some(u),
                    None => {
                        bad(
                            "EVENT_URGENCY",
                            format!("紧急程度“{u}”无效（一般、紧急、特急）"),
                            format!("urgency {u:?} is not normal, urgent or emergency"),
                        );
                        continue;
                    }
                },
                None => None,
            };
            let reporter_id = match id_col.and_then(|i| row.get(i).cloned().flatten()) {
                Some(v) if !v.trim().is_empty() => match v.trim().parse::<IdNumber>() {
                    Ok(id) => Some(id),
                    Err(_) => {
                        bad(
                            "EVENT_REPORTER_ID",
                            "来电人身份证号无效".into(),
                            "the caller's ID number is not valid".into(),
                        );
                        continue;
                    }
                },
                _ => None,
            };
            reports.push(Report {
                channel: Some(Channel::Hotline),
                category,
                description,
                address,
                point,
                urgency,
                reporter_name: cell("name"),
                reporter_phone: cell("phone"),
                reporter_id,
                external_id: Some(number),
                reported_at,
                ..Default::default()
            });
        }
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Ok(Err(problems));
        }
        let mut out = ImportReport {
            rows: reports.len() as u64,
            encoding,
            format,
            ..Default::default()
        };
        let numbers: Vec<String> = reports
            .iter()
            .filter_map(|r| r.external_id.clone())
            .collect();
        let known: BTreeSet<String> = self
            .store()
            .known_external_ids(Channel::Hotline.code(), &numbers)
            .await
            .map_err(internal)?
            .into_iter()
            .collect();
        // Oldest first, so that a later call about the same place merges into an earlier one.
        reports.sort_by_key(|r| r.reported_at);
        for r in reports {
            if r.external_id.as_ref().is_some_and(|n| known.contains(n)) {
                out.known += 1;
                continue;
            }
            let e = self.report(actor, r).await?;
            out.created += 1;
            match e.state.as_str() {
                "merged" => out.merged += 1,
                "dispatched" => out.dispatched += 1,
                _ => {}
            }
        }
        self.admin(
            actor,
            "event.import",
            "hotline",
            &format!(
                "{} rows: {} new, {} known",
                out.rows, out.created, out.known
            ),
        )
        .await?;
        Ok(Ok(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_told_by_their_bytes() {
        assert_eq!(
            Photo::check(vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2])
                .unwrap()
                .content_type(),
            "image/jpeg"
        );
        assert_eq!(
            Photo::check(b"\x89PNG\r\n\x1a\n rest".to_vec())
                .unwrap()
                .content_type(),
            "image/png"
        );
        assert_eq!(
            Photo::check(b"RIFF\0\0\0\0WEBPVP8 ".to_vec())
                .unwrap()
                .content_type(),
            "image/webp"
        );
        let html = Photo::check(b"<html><script>".to_vec()).unwrap_err();
        assert_eq!(html.code(), "EVENT_PHOTO_TYPE");
        assert_eq!(
            Photo::check(Vec::new()).unwrap_err().code(),
            "EVENT_PHOTO_SIZE"
        );
        let big = vec![0xFF; MAX_PHOTO_BYTES + 1];
        assert_eq!(Photo::check(big).unwrap_err().code(), "EVENT_PHOTO_SIZE");
    }

    #[test]
    fn the_alert_signature_is_hmac_sm3_of_timestamp_dot_body() {
        // Computed independently: HMAC (RFC 2104) over SM3 with a 64-byte block.
        use sm3::Digest;
        let (key, ts, body) = ("dvsec_k", "1700000000", br#"{"alert_id":"1"}"#);
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key.as_bytes());
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = sm3::Sm3::new()
            .chain_update(&ipad)
            .chain_update(ts)
            .chain_update(b".")
            .chain_update(body)
            .finalize();
        let outer = sm3::Sm3::new()
            .chain_update(&opad)
            .chain_update(inner)
            .finalize();
        assert_eq!(
            sign_alert(key, ts, body),
            format!("hmac-sm3={}", hex::encode(outer))
        );
        assert_ne!(
            sign_alert(key, "1700000001", body),
            sign_alert(key, ts, body)
        );
    }
}
