//! Electronic licences and e-seals: types, seals (public key in clear, private key sealed),
//! licences and their state history. `shuniu-licences` decides what is issued, signed and
//! revoked; this module only stores and loads.

use sqlx::AssertSqlSafe;

use crate::{Result, Store, Tx, get};

/// A licence type (证照类型).
#[derive(Debug, Clone, PartialEq)]
pub struct LicenceTypeRow {
    /// GB/T 36902 type code.
    pub code: String,
    pub name: String,
    /// The department that defines the type.
    pub definer: String,
    /// Departments that issue it.
    pub issuers: Vec<String>,
    /// The catalog resource licences are issued from, and its items.
    pub resource_code: String,
    pub holder_item: String,
    /// `id_number` or `credit_code`.
    pub holder_type: String,
    pub holder_name_item: String,
    /// The item whose value is the licence's serial; `None`: the hub numbers them.
    pub serial_item: Option<String>,
    /// (item, label) the face and the QR code carry.
    pub fields: Vec<(String, String)>,
    /// `None`: valid without end (长期).
    pub validity_years: Option<i64>,
    /// The resource's dataset version its licences were last issued from (the change log is
    /// read from there); `None` before the first issue.
    pub reached_version: Option<i64>,
    pub created_by: String,
    pub created_at: String,
}

/// An e-seal (电子印章).
#[derive(Debug, Clone, PartialEq)]
pub struct SealRow {
    pub code: String,
    pub department: String,
    pub name: String,
    pub kid: String,
    pub public_key: String,
    /// Under the master key (`shuniu-keys`).
    pub sealed_private_key: String,
    pub signer_id: String,
    pub valid_from: String,
    pub valid_until: String,
    /// `active` (signs) or `retired` (verifies what it signed).
    pub state: String,
    /// GB/T 38540 seal information (JSON).
    pub info: serde_json::Value,
    pub created_by: String,
    pub created_at: String,
}

/// One version of one licence.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenceRow {
    pub id: String,
    pub type_code: String,
    pub serial: String,
    pub version: i64,
    /// The audit log's keyed digest of the holder's identifier.
    pub holder_subject: String,
    /// The holder's identifier sealed with the master key (SM4-GCM, for this licence's
    /// identifier): opened only to derive the licence library (电子证照库). Empty for
    /// licences issued before it was kept.
    pub holder_sealed: String,
    pub holder_type: String,
    pub holder_name: String,
    pub holder_shown: String,
    pub issuer: String,
    pub seal_code: String,
    pub resource_code: String,
    pub source_version: i64,
    pub status_index: i64,
    pub state: String,
    pub issued_at: String,
    pub valid_from: String,
    pub valid_until: Option<String>,
    /// The QR text.
    pub envelope: String,
    pub claims: serde_json::Value,
    pub uses: i64,
    pub superseded_by: Option<String>,
}

/// A change of a licence's state.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenceEventRow {
    pub licence_id: String,
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub reason: String,
}

fn json_list(r: &sqlx::any::AnyRow, col: &str) -> Result<serde_json::Value> {
    crate::quality::json(r, col)
}

fn type_row(r: &sqlx::any::AnyRow) -> Result<LicenceTypeRow> {
    let issuers: Vec<String> = serde_json::from_value(json_list(r, "issuers")?).unwrap_or_default();
    let fields: Vec<(String, String)> =
        serde_json::from_value(json_list(r, "fields")?).unwrap_or_default();
    Ok(LicenceTypeRow {
        code: get(r, "code")?,
        name: get(r, "name")?,
        definer: get(r, "definer")?,
        issuers,
        resource_code: get(r, "resource_code")?,
        holder_item: get(r, "holder_item")?,
        holder_type: get(r, "holder_type")?,
        holder_name_item: get(r, "holder_name_item")?,
        serial_item: get(r, "serial_item")?,
        fields,
        validity_years: get(r, "validity_years")?,
        reached_version: get(r, "reached_version")?,
        created_by: get(r, "created_by")?,
        created_at: get(r, "created_at")?,
    })
}

fn seal_row(r: &sqlx::any::AnyRow) -> Result<SealRow> {
    Ok(SealRow {
        code: get(r, "code")?,
        department: get(r, "department")?,
        name: get(r, "name")?,
        kid: get(r, "kid")?,
        public_key: get(r, "public_key")?,
        sealed_private_key: get(r, "sealed_private_key")?,
        signer_id: get(r, "signer_id")?,
        valid_from: get(r, "valid_from")?,
        valid_until: get(r, "valid_until")?,
        state: get(r, "state")?,
        info: crate::quality::json(r, "info")?,
        created_by: get(r, "created_by")?,
        created_at: get(r, "created_at")?,
    })
}

const LICENCE_COLUMNS: &str = "id, type_code, serial, version, holder_subject, holder_type,
    holder_name, holder_shown, issuer, seal_code, resource_code, source_version, status_index,
    state, issued_at, valid_from, valid_until, envelope, claims, uses, superseded_by,
    holder_sealed";

fn licence_row(r: &sqlx::any::AnyRow) -> Result<LicenceRow> {
    Ok(LicenceRow {
        id: get(r, "id")?,
        type_code: get(r, "type_code")?,
        serial: get(r, "serial")?,
        version: get(r, "version")?,
        holder_subject: get(r, "holder_subject")?,
        holder_type: get(r, "holder_type")?,
        holder_name: get(r, "holder_name")?,
        holder_shown: get(r, "holder_shown")?,
        issuer: get(r, "issuer")?,
        seal_code: get(r, "seal_code")?,
        resource_code: get(r, "resource_code")?,
        source_version: get(r, "source_version")?,
        status_index: get(r, "status_index")?,
        state: get(r, "state")?,
        issued_at: get(r, "issued_at")?,
        valid_from: get(r, "valid_from")?,
        valid_until: get(r, "valid_until")?,
        envelope: get(r, "envelope")?,
        claims: crate::quality::json(r, "claims")?,
        uses: get(r, "uses")?,
        superseded_by: get(r, "superseded_by")?,
        holder_sealed: get(r, "holder_sealed")?,
    })
}

/// Which licences to list.
#[derive(Debug, Clone, Default)]
pub struct LicenceFilter {
    pub type_code: Option<String>,
    pub state: Option<String>,
    pub issuer: Option<String>,
    pub holder_subject: Option<String>,
    /// Current versions only (not superseded by a re-issue).
    pub current_only: bool,
    pub limit: i64,
    pub offset: i64,
    /// Keyset paging for a pass over every licence: when set, only identifiers after it, in
    /// identifier order (offset ignored); a page costs the same however deep it is.
    pub after_id: Option<String>,
}

impl Store {
    /// The next free status index (for an issuer that allocates them one process at a time).
    pub async fn next_status_index(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(status_index), -1) + 1 AS n FROM licences")
            .fetch_one(&self.pool)
            .await?;
        get(&row, "n")
    }

    pub async fn licence_types(&self) -> Result<Vec<LicenceTypeRow>> {
        let rows = sqlx::query("SELECT * FROM licence_types ORDER BY code")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(type_row).collect()
    }

    pub async fn licence_seals(&self) -> Result<Vec<SealRow>> {
        let rows = sqlx::query("SELECT * FROM licence_seals ORDER BY department, created_at")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(seal_row).collect()
    }

    pub async fn licence(&self, id: &str) -> Result<Option<LicenceRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LICENCE_COLUMNS} FROM licences WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(licence_row).transpose()
    }

    /// The current version of a licence by its type and serial.
    pub async fn current_licence(
        &self,
        type_code: &str,
        serial: &str,
    ) -> Result<Option<LicenceRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LICENCE_COLUMNS} FROM licences
             WHERE type_code = $1 AND serial = $2 AND superseded_by IS NULL"
        )))
        .bind(type_code)
        .bind(serial)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(licence_row).transpose()
    }

    /// The current licences of a type for many holders (`by_serial` false: keys are holder
    /// subjects) or serials (true), one per key (the latest issued): the comparison bulk
    /// issuing makes for a page of source rows, in a few queries rather than one per row.
    pub async fn current_licences_for(
        &self,
        type_code: &str,
        by_serial: bool,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, LicenceRow>> {
        let column = if by_serial {
            "serial"
        } else {
            "holder_subject"
        };
        let mut out = std::collections::HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT {LICENCE_COLUMNS} FROM licences
                 WHERE type_code = $1 AND {column} IN ({}) AND superseded_by IS NULL
                 ORDER BY issued_at",
                marks.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(type_code);
            for k in chunk {
                q = q.bind(k);
            }
            for r in q.fetch_all(&self.pool).await? {
                let l = licence_row(&r)?;
                let key = if by_serial {
                    l.serial.clone()
                } else {
                    l.holder_subject.clone()
                };
                // Ordered by issue time, so the latest of a key stays.
                out.insert(key, l);
            }
        }
        Ok(out)
    }

    /// How many changes the register has recorded (every issue, re-issue and state change is
    /// an event, and events are never removed): moves whenever the register changes.
    pub async fn licence_register_version(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM licence_events")
            .fetch_one(&self.pool)
            .await?;
        get(&row, "n")
    }

    /// The current licence of a type a holder holds (types without a serial item).
    pub async fn current_licence_of(
        &self,
        type_code: &str,
        holder_subject: &str,
    ) -> Result<Option<LicenceRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LICENCE_COLUMNS} FROM licences
             WHERE type_code = $1 AND holder_subject = $2 AND superseded_by IS NULL
             ORDER BY issued_at DESC LIMIT 1"
        )))
        .bind(type_code)
        .bind(holder_subject)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(licence_row).transpose()
    }

    pub async fn licences(&self, f: &LicenceFilter) -> Result<Vec<LicenceRow>> {
        let mut sql = format!("SELECT {LICENCE_COLUMNS} FROM licences WHERE 1 = 1");
        let mut binds: Vec<&str> = Vec::new();
        for (col, v) in [
            ("type_code", &f.type_code),
            ("state", &f.state),
            ("issuer", &f.issuer),
            ("holder_subject", &f.holder_subject),
        ] {
            if let Some(v) = v {
                binds.push(v);
                sql.push_str(&format!(" AND {col} = ${}", binds.len()));
            }
        }
        if f.current_only {
            sql.push_str(" AND superseded_by IS NULL");
        }
        if let Some(after) = &f.after_id {
            binds.push(after);
            sql.push_str(&format!(
                " AND id > ${} ORDER BY id LIMIT {}",
                binds.len(),
                f.limit.clamp(1, 10_000)
            ));
        } else {
            sql.push_str(&format!(
                " ORDER BY issued_at DESC, id LIMIT {} OFFSET {}",
                f.limit.clamp(1, 10_000),
                f.offset.max(0)
            ));
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(licence_row).collect()
    }

    /// Licences by type and state (current versions).
    pub async fn licence_counts(&self) -> Result<Vec<(String, String, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT type_code, state, COUNT(*) AS n, COALESCE(SUM(uses), 0) AS uses FROM licences
             WHERE superseded_by IS NULL GROUP BY type_code, state ORDER BY type_code, state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get(r, "type_code")?,
                    get(r, "state")?,
                    get(r, "n")?,
                    get(r, "uses")?,
                ))
            })
            .collect()
    }

    /// The status indexes of licences in a state (for the status lists).
    pub async fn licence_status_indexes(&self, state: &str) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT status_index FROM licences WHERE state = $1")
            .bind(state)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| get(r, "status_index")).collect()
    }

    pub async fn licence_events(&self, id: &str) -> Result<Vec<LicenceEventRow>> {
        let rows = sqlx::query(
            "SELECT licence_id, seq, at, actor, action, from_state, to_state, reason
             FROM licence_events WHERE licence_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LicenceEventRow {
                    licence_id: get(r, "licence_id")?,
                    seq: get(r, "seq")?,
                    at: get(r, "at")?,
                    actor: get(r, "actor")?,
                    action: get(r, "action")?,
                    from_state: get(r, "from_state")?,
                    to_state: get(r, "to_state")?,
                    reason: get(r, "reason")?,
                })
            })
            .collect()
    }
}

impl Tx {
    pub async fn put_licence_type(&mut self, t: &LicenceTypeRow) -> Result<()> {
        sqlx::query("DELETE FROM licence_types WHERE code = $1")
            .bind(&t.code)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO licence_types (code, name, definer, issuers, resource_code, holder_item,
                 holder_type, holder_name_item, serial_item, fields, validity_years, reached_version,
                 created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&t.code)
        .bind(&t.name)
        .bind(&t.definer)
        .bind(serde_json::json!(t.issuers).to_string())
        .bind(&t.resource_code)
        .bind(&t.holder_item)
        .bind(&t.holder_type)
        .bind(&t.holder_name_item)
        .bind(&t.serial_item)
        .bind(serde_json::json!(t.fields).to_string())
        .bind(t.validity_years)
        .bind(t.reached_version)
        .bind(&t.created_by)
        .bind(&t.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records the dataset version a type's licences were issued from.
    pub async fn set_licence_type_reached(&mut self, code: &str, version: i64) -> Result<()> {
        sqlx::query("UPDATE licence_types SET reached_version = $1 WHERE code = $2")
            .bind(version)
            .bind(code)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn insert_seal(&mut self, s: &SealRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO licence_seals (code, department, name, kid, public_key,
                 sealed_private_key, signer_id, valid_from, valid_until, state, info, created_by,
                 created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&s.code)
        .bind(&s.department)
        .bind(&s.name)
        .bind(&s.kid)
        .bind(&s.public_key)
        .bind(&s.sealed_private_key)
        .bind(&s.signer_id)
        .bind(&s.valid_from)
        .bind(&s.valid_until)
        .bind(&s.state)
        .bind(s.info.to_string())
        .bind(&s.created_by)
        .bind(&s.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Retires a department's active seals (they keep verifying what they signed).
    pub async fn retire_seals(&mut self, department: &str) -> Result<()> {
        sqlx::query(
            "UPDATE licence_seals SET state = 'retired' WHERE department = $1 AND state = 'active'",
        )
        .bind(department)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// The next free status index.
    pub async fn next_status_index(&mut self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(status_index), -1) + 1 AS n FROM licences")
            .fetch_one(&mut *self.tx)
            .await?;
        get(&row, "n")
    }

    /// Stores a new licence version; the one it re-issues is marked superseded.
    pub async fn insert_licence(
        &mut self,
        l: &LicenceRow,
        supersedes: Option<&str>,
        actor: &str,
        reason: &str,
    ) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO licences ({LICENCE_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     $18, $19, $20, $21, $22)"
        )))
        .bind(&l.id)
        .bind(&l.type_code)
        .bind(&l.serial)
        .bind(l.version)
        .bind(&l.holder_subject)
        .bind(&l.holder_type)
        .bind(&l.holder_name)
        .bind(&l.holder_shown)
        .bind(&l.issuer)
        .bind(&l.seal_code)
        .bind(&l.resource_code)
        .bind(l.source_version)
        .bind(l.status_index)
        .bind(&l.state)
        .bind(&l.issued_at)
        .bind(&l.valid_from)
        .bind(&l.valid_until)
        .bind(&l.envelope)
        .bind(l.claims.to_string())
        .bind(l.uses)
        .bind(&l.superseded_by)
        .bind(&l.holder_sealed)
        .execute(&mut *self.tx)
        .await?;
        self.licence_event(&l.id, &l.issued_at, actor, "issue", None, &l.state, reason)
            .await?;
        if let Some(old) = supersedes {
            let from: Option<String> = sqlx::query("SELECT state FROM licences WHERE id = $1")
                .bind(old)
                .fetch_optional(&mut *self.tx)
                .await?
                .map(|r| get(&r, "state"))
                .transpose()?;
            sqlx::query(
                "UPDATE licences SET superseded_by = $1, state = 'cancelled' WHERE id = $2",
            )
            .bind(&l.id)
            .bind(old)
            .execute(&mut *self.tx)
            .await?;
            self.licence_event(
                old,
                &l.issued_at,
                actor,
                "reissue",
                from.as_deref(),
                "cancelled",
                &format!("换发为 {} / re-issued as {}", l.id, l.id),
            )
            .await?;
        }
        Ok(())
    }

    /// Moves a licence to another state, with the event.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_licence_state(
        &mut self,
        id: &str,
        at: &str,
        actor: &str,
        action: &str,
        from: &str,
        to: &str,
        reason: &str,
    ) -> Result<bool> {
        let done = sqlx::query("UPDATE licences SET state = $1 WHERE id = $2 AND state = $3")
            .bind(to)
            .bind(id)
            .bind(from)
            .execute(&mut *self.tx)
            .await?
            .rows_affected()
            == 1;
        if done {
            self.licence_event(id, at, actor, action, Some(from), to, reason)
                .await?;
        }
        Ok(done)
    }

    pub async fn add_licence_use(&mut self, id: &str) -> Result<()> {
        sqlx::query("UPDATE licences SET uses = uses + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn licence_event(
        &mut self,
        id: &str,
        at: &str,
        actor: &str,
        action: &str,
        from: Option<&str>,
        to: &str,
        reason: &str,
    ) -> Result<()> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM licence_events WHERE licence_id = $1",
        )
        .bind(id)
        .fetch_one(&mut *self.tx)
        .await?;
        let seq: i64 = get(&row, "n")?;
        sqlx::query(
            "INSERT INTO licence_events (licence_id, seq, at, actor, action, from_state, to_state,
                 reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(from)
        .bind(to)
        .bind(reason)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
