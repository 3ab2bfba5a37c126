//! Change subscriptions delivered as webhooks.
//!
//! Each round, every active subscription whose feed has moved gets a delivery: the range of
//! the feed from its cursor, handed over in the same transaction that moves the cursor, so a
//! change is never skipped (at-least-once). A delivery POSTs the range, shaped by the grant
//! as it stands at sending time, signed with HMAC-SM3 under the subscription's secret;
//! failures retry with exponential backoff (2 s … about 1 h) and after 8 attempts the
//! delivery moves to the dead-letter list, from which the consumer can redeliver it.

use hmac::{KeyInit, Mac};
use serde::Serialize;
use shuniu_audit::{Entry, Kind};
use shuniu_policy::grant::Service;
use shuniu_store::{DeliveryRow, SubscriptionRow, now};

use crate::error::{Result, SharingError};
use crate::serving::Cursor;
use crate::{Caller, Sharing};
use shuniu_types::states::DeliveryState;

type HmacSm3 = hmac::Hmac<sm3::Sm3>;

/// Attempts before a delivery goes to the dead-letter list.
pub const MAX_ATTEMPTS: i64 = 8;
/// Changes per delivery.
const PER_DELIVERY: usize = 500;

/// A new subscription and its signing secret (shown once; derivable by the hub only).
#[derive(Debug, Clone, Serialize)]
pub struct NewSubscription {
    #[serde(flatten)]
    pub subscription: SubscriptionRow,
    pub secret: String,
}

/// Signs `timestamp.body` as the `X-Shuniu-Signature` header carries it.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = <HmacSm3 as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("hmac-sm3={}", hex::encode(mac.finalize().into_bytes()))
}

/// How long one attempt holds a delivery or notification (longer than any send's timeout).
pub(crate) fn lease_until() -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(120))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn backoff(attempts: i64) -> chrono::Duration {
    chrono::Duration::seconds(2i64.pow(attempts.clamp(1, 11) as u32))
}

impl Sharing {
    pub(crate) fn secret_of(&self, subscription: &str) -> String {
        let mut mac = <HmacSm3 as KeyInit>::new_from_slice(&self.inner.webhook_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(subscription.as_bytes());
        format!("whsec_{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Subscribes `url` to a resource's changes from now on (or from `from`).
    pub async fn subscribe(
        &self,
        caller: &Caller,
        code: &str,
        url: &str,
        from: Option<&str>,
    ) -> Result<NewSubscription> {
        // The grant first: a caller without one learns nothing about the URL (and causes no
        // DNS lookup).
        let (_, grant) = self.authorize(caller, code, Service::Subscribe).await?;
        crate::egress::check(url, &self.webhook_allow_hosts()).await?;
        let cursor = match from {
            Some(c) => Cursor::parse(c).ok_or_else(|| {
                SharingError::invalid(
                    "CURSOR_INVALID",
                    "游标格式应为 v版本.序号",
                    "the cursor reads v<version>.<seq>",
                )
            })?,
            None => self.feed_head(code)?,
        };
        let s = SubscriptionRow {
            id: format!("S{}", crate::workflow::short_id()),
            grant_id: grant.id.clone(),
            resource_code: code.to_string(),
            application_id: caller.application.clone(),
            url: url.to_string(),
            cursor: cursor.to_string(),
            active: true,
            created_at: now(),
        };
        let mut tx = self.inner.store.begin().await?;
        tx.insert_subscription(&s).await?;
        tx.commit().await?;
        let e = Entry::by(
            Kind::Admin,
            "service.subscribe",
            &caller.principal(),
            &caller.department,
        )
        .channel("service")
        .target(&s.id)
        .detail(url.to_string());
        self.inner.audit.record(e).await?;
        Ok(NewSubscription {
            secret: self.secret_of(&s.id),
            subscription: s,
        })
    }

    pub async fn subscriptions(&self, caller: &Caller) -> Result<Vec<SubscriptionRow>> {
        Ok(self
            .inner
            .store
            .subscriptions()
            .await?
            .into_iter()
            .filter(|s| s.application_id == caller.application)
            .collect())
    }

    fn own_subscription(
        subs: Vec<SubscriptionRow>,
        caller: &Caller,
        id: &str,
    ) -> Result<SubscriptionRow> {
        subs.into_iter()
            .find(|s| s.id == id && s.application_id == caller.application)
            .ok_or_else(|| SharingError::NotFound(format!("subscription {id}")))
    }

    pub async fn unsubscribe(&self, caller: &Caller, id: &str) -> Result<()> {
        let s = Self::own_subscription(self.inner.store.subscriptions().await?, caller, id)?;
        let mut tx = self.inner.store.begin().await?;
        tx.deactivate_subscription(&s.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A subscription's deliveries, newest first (`state = dead` is the dead-letter list).
    pub async fn deliveries(
        &self,
        caller: &Caller,
        id: &str,
        state: Option<&str>,
    ) -> Result<Vec<DeliveryRow>> {
        let s = Self::own_subscription(self.inner.store.subscriptions().await?, caller, id)?;
        let state = match state.filter(|s| !s.is_empty()) {
            None => None,
            // An unknown state matches no delivery.
            Some(text) => match DeliveryState::parse_term(text) {
                Some(st) => Some(st),
                None => return Ok(Vec::new()),
            },
        };
        Ok(self.inner.store.deliveries(Some(&s.id), state, 500).await?)
    }

    /// Puts a dead delivery back in the queue.
    pub async fn redeliver(
        &self,
        caller: &Caller,
        subscription: &str,
        delivery: &str,
    ) -> Result<()> {
        let s = Self::own_subscription(
            self.inner.store.subscriptions().await?,
            caller,
            subscription,
        )?;
        let d = self
            .inner
            .store
            .deliveries(Some(&s.id), None, 10_000)
            .await?
            .into_iter()
            .find(|d| d.id == delivery)
            .ok_or_else(|| SharingError::NotFound(format!("delivery {delivery}")))?;
        if d.state != DeliveryState::Dead {
            return Err(SharingError::state(
                "只有死信可以重新投递",
                "only dead deliveries can be redelivered",
            ));
        }
        let mut tx = self.inner.store.begin().await?;
        tx.record_delivery_attempt(&d.id, DeliveryState::Pending, 0, &now(), &d.last_error)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One round: enqueue new ranges, then attempt due deliveries.
    pub async fn run_webhooks(&self) -> Result<()> {
        let subs = self.inner.store.subscriptions().await?;
        for s in subs.iter().filter(|s| s.active) {
            let Some(from) = Cursor::parse(&s.cursor) else {
                continue;
            };
            let (batch, _) = self.index(&s.resource_code)?.changes(from, PER_DELIVERY)?;
            let Some(last) = batch.last() else { continue };
            let d = DeliveryRow {
                id: format!("D{}", crate::workflow::short_id()),
                subscription_id: s.id.clone(),
                from_cursor: from.to_string(),
                to_cursor: last.cursor.to_string(),
                changes: batch.len() as i64,
                state: DeliveryState::Pending,
                attempts: 0,
                next_attempt_at: now(),
                last_error: String::new(),
                created_at: now(),
                delivered_at: None,
            };
            let mut tx = self.inner.store.begin().await?;
            if tx.enqueue_delivery(&d, &s.cursor).await? {
                tx.commit().await?;
            }
        }
        for d in self.inner.store.due_deliveries(&now(), 50).await? {
            let Some(s) = subs.iter().find(|s| s.id == d.subscription_id) else {
                continue;
            };
            if !self
                .inner
                .store
                .claim_delivery(&d.id, &d.next_attempt_at, &lease_until())
                .await?
            {
                continue;
            }
            let outcome = self.attempt(s, &d).await;
            let attempts = d.attempts + 1;
            match outcome {
                Ok(()) => {
                    let mut tx = self.inner.store.begin().await?;
                    tx.record_delivery_attempt(
                        &d.id,
                        DeliveryState::Delivered,
                        attempts,
                        &now(),
                        "",
                    )
                    .await?;
                    tx.commit().await?;
                }
                Err((permanent, error)) => {
                    let dead = permanent || attempts >= MAX_ATTEMPTS;
                    let next = (chrono::Utc::now() + backoff(attempts))
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    let mut tx = self.inner.store.begin().await?;
                    tx.record_delivery_attempt(
                        &d.id,
                        if dead {
                            DeliveryState::Dead
                        } else {
                            DeliveryState::Pending
                        },
                        attempts,
                        &next,
                        &error,
                    )
                    .await?;
                    tx.commit().await?;
                }
            }
        }
        Ok(())
    }

    /// Sends one delivery. `Err((permanent, why))`.
    async fn attempt(
        &self,
        s: &SubscriptionRow,
        d: &DeliveryRow,
    ) -> std::result::Result<(), (bool, String)> {
        let caller = Caller {
            application: s.application_id.clone(),
            name: String::new(),
            department: String::new(),
            role: shuniu_types::Role::DataOfficer,
        };
        let rec = self
            .inner
            .directory
            .resource(&s.resource_code)
            .await
            .map_err(|e| (false, e.to_string()))?;
        let app = self
            .inner
            .store
            .applications()
            .await
            .map_err(|e| (false, e.to_string()))?
            .into_iter()
            .find(|a| a.id == s.application_id);
        let Some(app) = app.filter(|a| a.revoked_at.is_none()) else {
            return Err((true, "APPLICATION_REVOKED".into()));
        };
        let caller = Caller {
            department: app.department_code.clone(),
            role: app.role,
            name: app.name.clone(),
            ..caller
        };
        // The grant as it stands now decides: a revoked grant stops deliveries.
        let (grant, decision) = self
            .decide_call(&caller, &rec, Service::Subscribe)
            .map_err(|e| (true, e.to_string()))?;
        decision.map_err(|d| (true, d.code.to_string()))?;
        let Some(grant) = grant else {
            return Err((true, "NO_GRANT".into()));
        };
        let from = Cursor::parse(&d.from_cursor).unwrap_or_default();
        let to = Cursor::parse(&d.to_cursor).unwrap_or_default();
        let mut page = self
            .feed_page(&rec, &grant, from, PER_DELIVERY)
            .map_err(|e| (false, e.to_string()))?;
        page.changes
            .retain(|c| Cursor::parse(&c.cursor).is_some_and(|x| x <= to));
        page.next_cursor = to.to_string();
        page.has_more = false;
        let body = serde_json::to_vec(&serde_json::json!({
            "delivery": d.id,
            "subscription": s.id,
            "resource": rec.code,
            "from_cursor": d.from_cursor,
            "to_cursor": d.to_cursor,
            "changes": page.changes,
        }))
        .map_err(|e| (true, e.to_string()))?;
        let rows = page.changes.len() as u64;
        // Checked again at each delivery (the name may point elsewhere now), and sent to the
        // checked address only.
        let destination = crate::egress::check(&s.url, &self.webhook_allow_hosts())
            .await
            .map_err(|e| (true, e.code().to_string()))?;
        let result =
            crate::egress::post_signed(&destination, &d.id, None, &self.secret_of(&s.id), body)
                .await;
        // Data left the hub (or tried to): audited either way.
        let e = Entry::by(
            Kind::Access,
            "service.webhook",
            &caller.principal(),
            &caller.department,
        )
        .channel("service")
        .resource(&rec.code, &rec.spec.provider)
        .target(&d.id)
        .rows(rows)
        .fields(grant.fields.iter().map(|f| f.name.clone()).collect())
        .purpose(Some(grant.purpose.clone()))
        .grant(Some(grant.id.clone()))
        .result(if result == "ok" {
            "ok"
        } else {
            "WEBHOOK_FAILED"
        });
        if let Err(e) = self.inner.audit.record(e).await {
            return Err((false, e.to_string()));
        }
        if result == "ok" {
            self.inner.directory.count_rows(&grant.id, rows);
            Ok(())
        } else {
            Err((false, result))
        }
    }
}
