//! Citizens' sessions, OpenID Connect sign-ins under way and sign-in attempts per address.
//! `shuniu-auth` decides what they mean; this module only stores and loads. Secrets are kept
//! as digests where only equality is needed (session tokens, the flow's `state`).

use chrono::{SecondsFormat, Utc};

use crate::{Result, Store, Tx, get, now};

fn after(d: std::time::Duration) -> String {
    (Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::minutes(10)))
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A live citizen session: whose record it opens, and how the person signed in.
#[derive(Debug, Clone)]
pub struct CitizenSessionRow {
    /// The ID number of a person, or the credit code of an enterprise (see `subject_kind`).
    pub id_number: String,
    /// `person` or `enterprise`.
    pub subject_kind: String,
    pub name: String,
    pub via: String,
    pub expires_at: String,
}

/// A sign-in sent to an identity provider and not yet answered.
#[derive(Debug, Clone)]
pub struct SignInFlowRow {
    /// `citizen` or `console`.
    pub purpose: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Where the person goes once signed in (a same-site path).
    pub return_to: String,
}

impl Store {
    pub async fn citizen_session(&self, token_hash: &str) -> Result<Option<CitizenSessionRow>> {
        let row = sqlx::query(
            "SELECT id_number, subject_kind, name, via, expires_at FROM citizen_sessions
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(CitizenSessionRow {
                id_number: get(&r, "id_number")?,
                subject_kind: get(&r, "subject_kind")?,
                name: get(&r, "name")?,
                via: get(&r, "via")?,
                expires_at: get(&r, "expires_at")?,
            })
        })
        .transpose()
    }
}

impl Tx {
    /// A session on a person's (`subject_kind` `person`, keyed by ID number) or an enterprise's
    /// (`enterprise`, keyed by credit code) own page.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_citizen_session(
        &mut self,
        token_hash: &str,
        subject_kind: &str,
        id_number: &str,
        name: &str,
        via: &str,
        ttl: std::time::Duration,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO citizen_sessions (token_hash, id_number, name, via, created_at, expires_at, subject_kind)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash)
        .bind(id_number)
        .bind(name)
        .bind(via)
        .bind(now())
        .bind(after(ttl))
        .bind(subject_kind)
        .execute(&mut *self.tx)
        .await?;
        // Swept on each sign-in rather than by a background job, as console sessions are.
        sqlx::query("DELETE FROM citizen_sessions WHERE expires_at <= $1")
            .bind(now())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn delete_citizen_session(&mut self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM citizen_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn insert_sign_in_flow(
        &mut self,
        state_hash: &str,
        flow: &SignInFlowRow,
        ttl: std::time::Duration,
    ) -> Result<()> {
        sqlx::query("DELETE FROM sign_in_flows WHERE expires_at <= $1")
            .bind(now())
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO sign_in_flows (state_hash, purpose, nonce, pkce_verifier, return_to, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(state_hash)
        .bind(&flow.purpose)
        .bind(&flow.nonce)
        .bind(&flow.pkce_verifier)
        .bind(&flow.return_to)
        .bind(now())
        .bind(after(ttl))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Removes and returns a live flow: each `state` is answered at most once, so a replayed
    /// answer from the identity provider finds nothing.
    pub async fn take_sign_in_flow(&mut self, state_hash: &str) -> Result<Option<SignInFlowRow>> {
        let row = sqlx::query(
            "DELETE FROM sign_in_flows WHERE state_hash = $1 AND expires_at > $2
             RETURNING purpose, nonce, pkce_verifier, return_to",
        )
        .bind(state_hash)
        .bind(now())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| {
            Ok(SignInFlowRow {
                purpose: get(&r, "purpose")?,
                nonce: get(&r, "nonce")?,
                pkce_verifier: get(&r, "pkce_verifier")?,
                return_to: get(&r, "return_to")?,
            })
        })
        .transpose()
    }

    /// Counts one attempt of `address` in `scope` and returns the attempts in the current
    /// window with the window's start. One statement, so that concurrent processes count
    /// together.
    pub async fn count_sign_in_attempt(
        &mut self,
        scope: &str,
        address: &str,
        window: std::time::Duration,
    ) -> Result<(i64, String)> {
        let cutoff = (Utc::now()
            - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::minutes(10)))
        .to_rfc3339_opts(SecondsFormat::Millis, true);
        sqlx::query("DELETE FROM sign_in_attempts WHERE window_start <= $1")
            .bind(&cutoff)
            .execute(&mut *self.tx)
            .await?;
        let row = sqlx::query(
            "INSERT INTO sign_in_attempts (scope, address, window_start, attempts) VALUES ($1, $2, $3, 1)
             ON CONFLICT (scope, address) DO UPDATE SET attempts = sign_in_attempts.attempts + 1
             RETURNING attempts, window_start",
        )
        .bind(scope)
        .bind(address)
        .bind(now())
        .fetch_one(&mut *self.tx)
        .await?;
        Ok((get(&row, "attempts")?, get(&row, "window_start")?))
    }
}
