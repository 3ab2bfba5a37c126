//! The running log: one writer task that group-commits, the tree kept for proofs, published
//! tree heads, and the derived index.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use shuniu_store::{AuditIndexRow, Store};
use tokio::sync::{Mutex, mpsc, oneshot, watch};

use crate::entry::{Entry, SubjectKey, beijing_now};
use crate::error::{AuditError, Result};
use crate::merkle::{
    BLOCK, CachedSubtrees, Hash, TreeCache, consistency_proof, inclusion_path, leaf_hash,
};
use crate::sign::{PublicKey, SignedTreeHead, Signer};
use crate::storage::{CatchUp, LogStorage, Seal, Sealed};

/// A group commit writes at most this many payload bytes.
const MAX_BATCH_PAYLOAD: usize = 8 << 20;
const QUEUE: usize = 65_536;

struct Pending {
    payloads: Vec<Vec<u8>>,
    done: oneshot::Sender<Result<u64>>,
}

struct Tree {
    cache: TreeCache,
    latest: Option<SignedTreeHead>,
}

struct Shared {
    dir: PathBuf,
    storage: Arc<dyn LogStorage>,
    signer: Signer,
    subjects: SubjectKey,
    tree: RwLock<Tree>,
    poisoned: AtomicBool,
    committed: watch::Sender<u64>,
    /// How far the store's audit index has caught up (when this log keeps one).
    indexed: Option<watch::Sender<u64>>,
    /// Serializes publication; holds the tree size of the last published head.
    published: Mutex<u64>,
}

/// The hub's audit log. Cheap to clone; every clone appends to the same log.
#[derive(Clone)]
pub struct AuditLog {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Pending>,
}

/// An entry with its proof of inclusion in a signed tree.
#[derive(Debug, Clone, Serialize)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub audit_path: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsistencyProof {
    pub first: u64,
    pub second: u64,
    pub proof: Vec<String>,
}

/// Where the log's keys and published heads live: `DATA_DIR/audit/`.
pub fn audit_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("audit")
}

/// The subject key (`DIR/subject.key`, sealed under the master key), created on first use.
pub fn load_subject_key(dir: &Path, keys: &shuniu_keys::MasterKey) -> Result<SubjectKey> {
    Ok(SubjectKey::from_bytes(
        keys.secret_file(&dir.join("subject.key"))?,
    ))
}

/// Tree heads published so far (`DIR/tree-heads.jsonl`), oldest first.
pub fn published_heads(dir: &Path) -> Result<Vec<SignedTreeHead>> {
    let text = match std::fs::read_to_string(dir.join("tree-heads.jsonl")) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| AuditError::Damaged {
                position: format!("tree-heads.jsonl line {}", i + 1),
                reason: e.to_string(),
            })
        })
        .collect()
}

impl AuditLog {
    /// Opens the log in `storage`, with keys and published heads in `dir`; recovers after a
    /// crash; starts the writer. With `index`, keeps the store's audit index up to date.
    pub async fn open(
        dir: &Path,
        storage: Arc<dyn LogStorage>,
        index: Option<Store>,
        keys: &shuniu_keys::MasterKey,
    ) -> Result<AuditLog> {
        std::fs::create_dir_all(dir)?;
        let signer = Signer::load_or_create(dir, keys)?;
        let subjects = load_subject_key(dir, keys)?;
        let mut cache = TreeCache::default();
        let mut recovered = storage.recover(&mut |h| cache.push(h)).await?;
        // The leaves of sealed segments come from their index files: when they do not add up
        // to the last signed root, the index (derived data) is rebuilt from the records and
        // the log recovered again before anything is concluded about the records.
        if let Some(cp) = &recovered.checkpoint
            && (cp.tree_size != cache.size() || cp.root() != Some(cache.root()))
        {
            let rebuilt = storage.check_index(true).await?;
            if !rebuilt.is_empty() {
                tracing::warn!(?rebuilt, "audit index disagreed with its segments; rebuilt");
                cache = TreeCache::default();
                recovered = storage.recover(&mut |h| cache.push(h)).await?;
            }
        }
        if let Some(cp) = &recovered.checkpoint {
            let root = cache.root();
            if cp.tree_size != cache.size() || cp.root() != Some(root) {
                return Err(AuditError::Damaged {
                    position: storage.describe(),
                    reason: format!(
                        "the last checkpoint signs {} entries with root {}, the log holds {} with root {}",
                        cp.tree_size,
                        cp.root_hash,
                        cache.size(),
                        hex::encode(root)
                    ),
                });
            }
        } else if cache.size() > 0 {
            return Err(AuditError::Damaged {
                position: storage.describe(),
                reason: "entries without any checkpoint".into(),
            });
        }
        let size = cache.size();
        let (committed, _) = watch::channel(size);
        let indexed = index.as_ref().map(|_| watch::channel(0).0);
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            storage,
            signer,
            subjects,
            tree: RwLock::new(Tree {
                cache,
                latest: recovered.checkpoint,
            }),
            poisoned: AtomicBool::new(false),
            committed,
            indexed,
            published: Mutex::new(published_heads(dir)?.last().map_or(0, |h| h.tree_size)),
        });
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(shared.clone(), rx));
        if let Some(store) = index {
            tokio::spawn(indexer(shared.clone(), store));
        }
        Ok(AuditLog { shared, tx })
    }

    /// Appends an entry and returns its index once it is durable.
    pub async fn record(&self, entry: Entry) -> Result<u64> {
        self.record_payloads(vec![entry.to_bytes()]).await
    }

    /// Appends entries together (one durable write); returns the first one's index.
    pub async fn record_all(&self, entries: Vec<Entry>) -> Result<u64> {
        self.record_payloads(entries.iter().map(Entry::to_bytes).collect())
            .await
    }

    async fn record_payloads(&self, payloads: Vec<Vec<u8>>) -> Result<u64> {
        if self.shared.poisoned.load(Ordering::Acquire) {
            return Err(AuditError::Poisoned);
        }
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Pending { payloads, done })
            .await
            .map_err(|_| AuditError::Closed)?;
        rx.await.map_err(|_| AuditError::Closed)?
    }

    /// The subject index for an identifier (an ID number), as stored in entries.
    pub fn subject(&self, identifier: &str) -> String {
        self.shared.subjects.subject(identifier)
    }

    pub fn public_key(&self) -> &PublicKey {
        self.shared.signer.public_key()
    }

    pub fn size(&self) -> u64 {
        self.read_tree().cache.size()
    }

    /// The signed head of the last group commit (covers every durable entry).
    pub fn latest_head(&self) -> Option<SignedTreeHead> {
        self.read_tree().latest.clone()
    }

    pub fn storage(&self) -> &Arc<dyn LogStorage> {
        &self.shared.storage
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    fn read_tree(&self) -> std::sync::RwLockReadGuard<'_, Tree> {
        self.shared.tree.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits, at most `within`, until the store's audit index holds every entry that was
    /// durable when this was called, so that a search made right after an access finds it
    /// (read-your-writes). Returns whether it caught up; a log without an index has nothing
    /// to wait for.
    pub async fn index_caught_up(&self, within: Duration) -> bool {
        let Some(indexed) = &self.shared.indexed else {
            return true;
        };
        let target = *self.shared.committed.borrow();
        let mut rx = indexed.subscribe();
        tokio::time::timeout(within, rx.wait_for(|&upto| upto >= target))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Catches up with entries other processes (the CLI) appended; returns the tree size.
    pub async fn sync(&self) -> Result<u64> {
        self.record_payloads(Vec::new()).await
    }

    /// Signs the current tree now and publishes the head to `tree-heads.jsonl`.
    pub async fn sign_now(&self) -> Result<SignedTreeHead> {
        self.sync().await?;
        let mut published = self.shared.published.lock().await;
        let (size, root) = {
            let t = self.read_tree();
            (t.cache.size(), t.cache.root())
        };
        let sth = self.shared.signer.sign(size, beijing_now(), &root);
        append_head(&self.shared.dir, &sth)?;
        *published = (*published).max(size);
        Ok(sth)
    }

    /// Publishes the latest checkpoint if it covers more than the last published head.
    pub async fn publish_if_grown(&self) -> Result<Option<SignedTreeHead>> {
        self.sync().await?;
        let mut published = self.shared.published.lock().await;
        let Some(latest) = self.latest_head().filter(|l| l.tree_size > *published) else {
            return Ok(None);
        };
        append_head(&self.shared.dir, &latest)?;
        *published = latest.tree_size;
        Ok(Some(latest))
    }

    /// Publishes tree heads every `interval` while the process runs.
    pub fn spawn_publisher(&self, interval: Duration) {
        let log = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = log.publish_if_grown().await {
                    tracing::error!(error = %e, "publishing the audit tree head failed");
                }
            }
        });
    }

    /// An entry's stored payload.
    pub async fn entry(&self, index: u64) -> Result<Entry> {
        let size = self.size();
        if index >= size {
            return Err(AuditError::NoSuchEntry { index, size });
        }
        let mut got = self.shared.storage.entries(index, index + 1).await?;
        let (_, payload) = got.pop().ok_or(AuditError::NoSuchEntry { index, size })?;
        serde_json::from_slice(&payload).map_err(|e| AuditError::Damaged {
            position: format!("entry {index}"),
            reason: e.to_string(),
        })
    }

    /// PATH(index, D[tree_size]) with the leaf's hash.
    pub async fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<InclusionProof> {
        let size = self.size();
        if tree_size > size || tree_size == 0 {
            return Err(AuditError::BadTreeSize {
                requested: tree_size,
                size,
            });
        }
        if index >= tree_size {
            return Err(AuditError::NoSuchEntry {
                index,
                size: tree_size,
            });
        }
        let leaf = self.shared.storage.leaf_hashes(index, index + 1).await?;
        let leaf = *leaf
            .first()
            .ok_or(AuditError::NoSuchEntry { index, size })?;
        let path = self
            .with_subtrees(|src| inclusion_path(src, index, tree_size))
            .await?;
        Ok(InclusionProof {
            leaf_index: index,
            tree_size,
            leaf_hash: hex::encode(leaf),
            audit_path: path.iter().map(hex::encode).collect(),
        })
    }

    /// PROOF(first, D[second]).
    pub async fn consistency_proof(&self, first: u64, second: u64) -> Result<ConsistencyProof> {
        let size = self.size();
        if second > size || first > second {
            return Err(AuditError::BadTreeSize {
                requested: second.max(first),
                size,
            });
        }
        let proof = self
            .with_subtrees(|src| consistency_proof(src, first, second))
            .await?;
        Ok(ConsistencyProof {
            first,
            second,
            proof: proof.iter().map(hex::encode).collect(),
        })
    }

    /// Runs a proof over the cached tree, loading the stored blocks it needs first.
    async fn with_subtrees<T>(
        &self,
        f: impl Fn(&mut CachedSubtrees<'_>) -> std::result::Result<T, crate::merkle::MissingBlock>,
    ) -> Result<T> {
        let mut blocks: HashMap<u64, Vec<Hash>> = HashMap::new();
        for _ in 0..4 {
            let missing = {
                let t = self.read_tree();
                let mut src = CachedSubtrees {
                    cache: &t.cache,
                    blocks: &blocks,
                    missing: Vec::new(),
                };
                let out = f(&mut src);
                if src.missing.is_empty() {
                    return out.map_err(|m| AuditError::Damaged {
                        position: format!("block {}", m.0),
                        reason: "a subtree the proof needs is not in the tree".into(),
                    });
                }
                src.missing
            };
            for b in missing {
                let hashes = self
                    .shared
                    .storage
                    .leaf_hashes(b * BLOCK, (b + 1) * BLOCK)
                    .await?;
                blocks.insert(b, hashes);
            }
        }
        Err(AuditError::Damaged {
            position: self.shared.storage.describe(),
            reason: "the tree kept changing under a proof".into(),
        })
    }
}

fn append_head(dir: &Path, sth: &SignedTreeHead) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("tree-heads.jsonl"))?;
    let mut line = serde_json::to_vec(sth).map_err(|e| AuditError::Io(e.into()))?;
    line.push(b'\n');
    f.write_all(&line)?;
    f.sync_data()?;
    Ok(())
}

/// The single writer: takes whatever is queued, seals it, signs the new tree head, writes
/// entries and head in one durable write, then answers every caller in the batch.
async fn writer(shared: Arc<Shared>, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut bytes: usize = first.payloads.iter().map(Vec::len).sum();
        let mut batch = vec![first];
        while bytes < MAX_BATCH_PAYLOAD {
            match rx.try_recv() {
                Ok(p) => {
                    bytes += p.payloads.iter().map(Vec::len).sum::<usize>();
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        if shared.poisoned.load(Ordering::Acquire) {
            for p in batch {
                let _ = p.done.send(Err(AuditError::Poisoned));
            }
            continue;
        }
        let frontier = {
            let t = shared.tree.read().unwrap_or_else(|p| p.into_inner());
            t.cache.frontier()
        };
        let mut counts = Vec::with_capacity(batch.len());
        let mut payloads = Vec::new();
        let mut pendings = Vec::with_capacity(batch.len());
        for p in batch {
            counts.push(p.payloads.len() as u64);
            payloads.extend(p.payloads);
            pendings.push(p.done);
        }
        let result = if payloads.is_empty() {
            // Only callers asking to see what other processes wrote.
            shared.storage.sync().await.map(|others| (others, None))
        } else {
            let signer = shared.signer.clone();
            let seal: Seal = Box::new(move |others: &CatchUp| {
                let mut f = frontier;
                for l in &others.leaves {
                    f.push(*l);
                }
                let base = f.size();
                let sealed: Vec<Sealed> = payloads
                    .into_iter()
                    .enumerate()
                    .map(|(i, payload)| {
                        let index = base + i as u64;
                        let leaf = leaf_hash(index, &payload);
                        f.push(leaf);
                        Sealed {
                            index,
                            payload,
                            leaf,
                        }
                    })
                    .collect();
                let sth = signer.sign(f.size(), beijing_now(), &f.root());
                (sealed, sth)
            });
            shared
                .storage
                .append(seal)
                .await
                .map(|a| (a.others, Some((a.leaves, a.checkpoint))))
        };
        match result {
            Ok((others, ours)) => {
                let (base, size) = {
                    let mut t = shared.tree.write().unwrap_or_else(|p| p.into_inner());
                    for l in others.leaves {
                        t.cache.push(l);
                    }
                    if let Some(cp) = others.checkpoint {
                        t.latest = Some(cp);
                    }
                    let base = t.cache.size();
                    if let Some((leaves, cp)) = ours {
                        for l in leaves {
                            t.cache.push(l);
                        }
                        t.latest = Some(cp);
                    }
                    (base, t.cache.size())
                };
                shared.committed.send_replace(size);
                let mut start = base;
                for (done, n) in pendings.into_iter().zip(counts) {
                    let _ = done.send(Ok(if n == 0 { size } else { start }));
                    start += n;
                }
            }
            Err(e) => {
                // The storage may hold part of this write: stop until a restart recovers it.
                shared.poisoned.store(true, Ordering::Release);
                tracing::error!(error = %e, "audit log write failed; refusing further writes");
                let msg = e.to_string();
                for done in pendings {
                    let _ = done.send(Err(AuditError::Io(std::io::Error::other(msg.clone()))));
                }
            }
        }
    }
}

/// Keeps the store's audit index following the log (derived data, rebuilt from the log).
async fn indexer(shared: Arc<Shared>, store: Store) {
    let mut committed = shared.committed.subscribe();
    loop {
        let target = *committed.borrow_and_update();
        if let Err(e) = index_upto(&shared, &store, target).await {
            tracing::warn!(error = %e, "audit index update failed; will retry");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if committed.changed().await.is_err() {
            return;
        }
    }
}

/// Subjects indexed per transaction (see `index_upto`).
const SUBJECTS_PER_TRANSACTION: usize = 20_000;

async fn index_upto(shared: &Shared, store: &Store, target: u64) -> Result<()> {
    let mut from = store.audit_indexed_upto().await? as u64;
    let reached = |upto: u64| {
        if let Some(indexed) = &shared.indexed {
            indexed.send_if_modified(|v| {
                let grew = upto > *v;
                *v = (*v).max(upto);
                grew
            });
        }
    };
    reached(from);
    while from < target {
        let to = (from + 2000).min(target);
        let entries = shared.storage.entries(from, to).await?;
        let mut rows = Vec::with_capacity(entries.len());
        let mut subjects = Vec::new();
        for (idx, payload) in entries {
            // A transaction holds the control plane's write lock: entries naming many subjects
            // (a list of everyone who qualifies) are indexed a bounded number of subjects at a
            // time, so other writers never wait long.
            if subjects.len() >= SUBJECTS_PER_TRANSACTION {
                let mut tx = store.begin().await?;
                tx.insert_audit_index(&rows, &subjects).await?;
                tx.commit().await?;
                rows.clear();
                subjects.clear();
            }
            let Ok(e) = serde_json::from_slice::<Entry>(&payload) else {
                continue;
            };
            for s in &e.subjects {
                subjects.push((s.clone(), idx as i64));
            }
            rows.push(AuditIndexRow {
                idx: idx as i64,
                at: e.at,
                kind: e.kind.as_str().into(),
                action: e.action,
                principal: e.principal,
                department: e.department,
                channel: e.channel,
                resource: e.resource,
                provider: e.provider,
                rows: e.rows.map(|r| r as i64),
                result: e.result,
                purpose: e.purpose,
            });
        }
        let mut tx = store.begin().await?;
        tx.insert_audit_index(&rows, &subjects).await?;
        tx.commit().await?;
        from = to;
        reached(from);
    }
    Ok(())
}
