//! The log kept in PostgreSQL (`audit_records`): one transaction per group commit, so a
//! commit is the durability point and there is never a torn tail to recover.

use async_trait::async_trait;
use shuniu_store::{Backend, Store};
use tokio::sync::{Mutex, mpsc};

use crate::error::{AuditError, Result};
use crate::merkle::Hash;
use crate::sign::SignedTreeHead;
use crate::storage::{
    Appended, CatchUp, LogStorage, Record, RecordKind, Recovered, Scan, Seal, checksum,
};

pub struct DatabaseStorage {
    store: Store,
    /// Last record position written; appends are serialized by the log's single writer.
    position: Mutex<i64>,
}

fn hash_of(bytes: &[u8], at: i64) -> Result<Hash> {
    bytes.try_into().map_err(|_| AuditError::Damaged {
        position: format!("audit_records row {at}"),
        reason: "stored hash is not 32 bytes".into(),
    })
}

/// Records other processes wrote after `position`.
async fn catch_up(tx: &mut shuniu_store::Tx, position: &mut i64) -> Result<CatchUp> {
    let mut out = CatchUp::default();
    for r in tx.audit_records_after(*position).await? {
        if r.kind == "E" {
            out.leaves.push(hash_of(&r.hash, r.position)?);
        } else if let Ok(sth) = serde_json::from_slice::<SignedTreeHead>(&r.payload) {
            out.checkpoint = Some(sth);
        }
        *position = r.position;
    }
    Ok(out)
}

impl DatabaseStorage {
    pub fn new(store: Store) -> Result<DatabaseStorage> {
        if store.backend() != Backend::Postgres {
            return Err(AuditError::NeedsPostgres);
        }
        Ok(DatabaseStorage {
            store,
            position: Mutex::new(0),
        })
    }
}

#[async_trait]
impl LogStorage for DatabaseStorage {
    async fn recover(&self, leaves: &mut (dyn FnMut(Hash) + Send)) -> Result<Recovered> {
        let mut recovered = Recovered::default();
        let mut after = 0i64;
        let mut expected = 0i64;
        loop {
            let page = self.store.audit_records_after(after, 10_000).await?;
            let Some(last) = page.last() else { break };
            after = last.position;
            for r in page {
                if r.kind == "E" {
                    if r.seq != expected {
                        return Err(AuditError::Damaged {
                            position: format!("audit_records row {}", r.position),
                            reason: format!("expected entry {expected}, found {}", r.seq),
                        });
                    }
                    leaves(hash_of(&r.hash, r.position)?);
                    expected += 1;
                } else if let Ok(sth) = serde_json::from_slice::<SignedTreeHead>(&r.payload) {
                    recovered.checkpoint = Some(sth);
                }
            }
        }
        *self.position.lock().await = after;
        Ok(recovered)
    }

    async fn append(&self, seal: Seal) -> Result<Appended> {
        let mut pos = self.position.lock().await;
        let mut tx = self.store.begin().await?;
        tx.lock_audit_log().await?;
        let others = catch_up(&mut tx, &mut pos).await?;
        let (entries, checkpoint) = seal(&others);
        let cp = serde_json::to_vec(&checkpoint).map_err(|e| AuditError::Io(e.into()))?;
        let cp_hash = checksum(&cp);
        let mut rows: Vec<(&str, i64, &[u8], &[u8])> = entries
            .iter()
            .map(|e| ("E", e.index as i64, e.payload.as_slice(), e.leaf.as_slice()))
            .collect();
        rows.push(("C", checkpoint.tree_size as i64, &cp, &cp_hash));
        tx.insert_audit_records(*pos + 1, &rows).await?;
        tx.commit().await?;
        *pos += rows.len() as i64;
        Ok(Appended {
            others,
            leaves: entries.iter().map(|e| e.leaf).collect(),
            checkpoint,
        })
    }

    async fn sync(&self) -> Result<CatchUp> {
        let mut pos = self.position.lock().await;
        let mut tx = self.store.begin().await?;
        let others = catch_up(&mut tx, &mut pos).await?;
        tx.commit().await?;
        Ok(others)
    }

    async fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>> {
        self.store
            .audit_leaf_hashes(from as i64, to as i64)
            .await?
            .into_iter()
            .map(|(seq, h)| hash_of(&h, seq))
            .collect()
    }

    async fn entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        Ok(self
            .store
            .audit_payloads(from as i64, to as i64)
            .await?
            .into_iter()
            .map(|(s, p)| (s as u64, p))
            .collect())
    }

    fn scan(&self) -> Scan {
        let (tx, rx) = mpsc::channel(4);
        let store = self.store.clone();
        tokio::spawn(async move {
            let mut after = 0i64;
            loop {
                let page = match store.audit_records_after(after, 4096).await {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        return;
                    }
                };
                let Some(last) = page.last() else { return };
                after = last.position;
                let mut chunk = Vec::with_capacity(page.len());
                for r in page {
                    let kind = match r.kind.as_str() {
                        "E" => RecordKind::Entry,
                        "C" => RecordKind::Checkpoint,
                        other => {
                            let _ = tx
                                .send(Err(AuditError::Damaged {
                                    position: format!("audit_records row {}", r.position),
                                    reason: format!("unknown record kind {other:?}"),
                                }))
                                .await;
                            return;
                        }
                    };
                    let hash = match hash_of(&r.hash, r.position) {
                        Ok(h) => h,
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    };
                    chunk.push(Record {
                        kind,
                        seq: r.seq as u64,
                        payload: r.payload,
                        hash,
                        segment: None,
                        offset: r.position as u64,
                    });
                }
                if tx.send(Ok(chunk)).await.is_err() {
                    return;
                }
            }
        });
        rx
    }

    fn describe(&self) -> String {
        "PostgreSQL table audit_records".into()
    }
}
