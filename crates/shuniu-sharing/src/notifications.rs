//! The hub's outbound notifications: an indicator's alert opened or resolved, told to the
//! owner's system. Another engine writes the notification into the `notifications` outbox in
//! the transaction of the change it announces; this sender delivers it as the change webhooks
//! are delivered — to a checked, pinned address, signed with HMAC-SM3 under the topic's secret,
//! retried with backoff, dead after the last attempt — and audits every attempt.

use shuniu_audit::{Entry, Kind};
use shuniu_store::{NotificationRow, now};
use shuniu_types::states::DeliveryState;

use crate::Sharing;
use crate::error::Result;
use crate::webhooks::{MAX_ATTEMPTS, backoff, lease_until};

impl Sharing {
    /// Checks a notification URL as a webhook's is checked (http or https, no credentials,
    /// not the hub's own network unless the operator allow-listed the host).
    pub async fn check_notification_url(&self, url: &str) -> Result<()> {
        crate::egress::check(url, &self.webhook_allow_hosts()).await?;
        Ok(())
    }

    /// The secret a topic's notifications are signed with. Derived (never stored): the hub
    /// can always tell it again to the topic's owner.
    pub fn notification_secret(&self, topic: &str) -> String {
        self.secret_of(&format!("notify:{topic}"))
    }

    /// Delivers one signed call now (an integrated service pushing a case's step to the
    /// department's system): the address checked and pinned like a webhook's, the body signed
    /// with HMAC-SM3 under `topic`'s secret, `delivery` as its idempotency key. `Err` says why
    /// it was not delivered; the caller retries.
    pub async fn deliver_signed(
        &self,
        url: &str,
        topic: &str,
        delivery: &str,
        event: &str,
        body: Vec<u8>,
    ) -> std::result::Result<(), String> {
        let destination = crate::egress::check(url, &self.webhook_allow_hosts())
            .await
            .map_err(|e| e.code().to_string())?;
        let result = crate::egress::post_signed(
            &destination,
            delivery,
            Some(event),
            &self.notification_secret(topic),
            body,
        )
        .await;
        if result == "ok" { Ok(()) } else { Err(result) }
    }

    /// A topic's notifications, newest first.
    pub async fn notifications(&self, topic: &str, limit: i64) -> Result<Vec<NotificationRow>> {
        Ok(self.inner.store.notifications(topic, limit).await?)
    }

    /// One round: every due notification attempted once. Returns how many were delivered.
    pub async fn run_notifications(&self) -> Result<usize> {
        let mut delivered = 0;
        for n in self.inner.store.due_notifications(&now(), 50).await? {
            if !self
                .inner
                .store
                .claim_notification(&n.id, &n.next_attempt_at, &lease_until())
                .await?
            {
                continue;
            }
            let attempts = n.attempts + 1;
            let (state, next, error) = match self.send_notification(&n).await {
                Ok(()) => {
                    delivered += 1;
                    (DeliveryState::Delivered, now(), String::new())
                }
                Err((permanent, error)) => {
                    let dead = permanent || attempts >= MAX_ATTEMPTS;
                    let next = (chrono::Utc::now() + backoff(attempts))
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    (
                        if dead {
                            DeliveryState::Dead
                        } else {
                            DeliveryState::Pending
                        },
                        next,
                        error,
                    )
                }
            };
            let mut tx = self.inner.store.begin().await?;
            tx.record_notification_attempt(&n.id, state, attempts, &next, &error)
                .await?;
            tx.commit().await?;
        }
        Ok(delivered)
    }

    /// Sends one notification; `Err((permanent, reason))` when it was not accepted.
    async fn send_notification(&self, n: &NotificationRow) -> Result<(), (bool, String)> {
        // Checked again at each attempt (the name may point elsewhere now), and sent to the
        // checked address only.
        let destination = crate::egress::check(&n.url, &self.webhook_allow_hosts())
            .await
            .map_err(|e| (true, e.code().to_string()))?;
        let result = crate::egress::post_signed(
            &destination,
            &n.id,
            Some(&n.kind),
            &self.notification_secret(&n.topic),
            n.body.as_bytes().to_vec(),
        )
        .await;
        let e = Entry::by(Kind::Admin, "hub.notify", "scheduler", "")
            .channel("service")
            .target(&n.id)
            .detail(format!("{} {} → {}", n.kind, n.topic, destination.host))
            .result(if result == "ok" {
                "ok"
            } else {
                "WEBHOOK_FAILED"
            });
        if let Err(e) = self.inner.audit.record(e).await {
            return Err((false, e.to_string()));
        }
        if result == "ok" {
            Ok(())
        } else {
            Err((false, result))
        }
    }
}
