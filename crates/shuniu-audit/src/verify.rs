//! Verification of a whole log (or a range of it) against signed tree heads, reading the
//! storage as it is: no recovery, no derived index, nothing trusted but the public key.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::Serialize;

use crate::error::AuditError;
use crate::merkle::{BLOCK, BLOCK_LEVEL, Frontier, Hash, leaf_hash, root_of};
use crate::sign::{PublicKey, SignedTreeHead};
use crate::storage::{LogStorage, Record, RecordKind, checksum};

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub public_key: PublicKey,
    /// Tree heads to hold the log to (published ones, an exported copy); each must be signed
    /// by the key and match the log's root at its size.
    pub heads: Vec<SignedTreeHead>,
    /// Recompute leaf hashes only for entries in `[from, to)` (others use their stored
    /// hash); the tree is still checked whole.
    pub range: Option<(u64, u64)>,
    /// Rebuild index files that disagree with their records (otherwise they fail the check).
    pub repair_index: bool,
}

/// The first thing that does not match.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// The first entry (index) that does not match, when one can be named.
    pub entry: Option<u64>,
    pub location: String,
    pub reason_zh: String,
    pub reason_en: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub storage: String,
    pub entries: u64,
    pub checkpoints: u64,
    pub root_hash: String,
    /// The largest signed tree head the log was checked against.
    pub verified_against: Option<SignedTreeHead>,
    pub heads_checked: usize,
    pub problem: Option<Problem>,
    /// Index files (entry offsets and leaf hashes that proofs are served from) that disagreed
    /// with the records, and whether they were rebuilt.
    pub index: Vec<String>,
    pub elapsed_ms: u64,
}

struct Pass {
    frontier: Frontier,
    checkpoints: u64,
    last_checkpoint: Option<(SignedTreeHead, String)>,
    /// Size of the tree covered by the checkpoint before the current one.
    previous_checkpoint_size: u64,
    problem: Option<Problem>,
    /// Roots at the sizes of the heads being checked.
    roots_at: BTreeMap<u64, Hash>,
}

fn problem(entry: Option<u64>, location: String, zh: String, en: String) -> Option<Problem> {
    Some(Problem {
        entry,
        location,
        reason_zh: zh,
        reason_en: en,
    })
}

/// What both cores computed for one chunk of records: each entry's leaf hash (when it is
/// recomputed) and the root of every aligned block of [`BLOCK`] consecutive entries the chunk
/// holds whole, so that the pass in order only compares and pushes one subtree per block.
struct Hashed {
    leaves: Vec<Option<Hash>>,
    /// The block's first entry index → the root over its leaves.
    blocks: HashMap<u64, Hash>,
}

fn hash_part(records: &[Record], range: Option<(u64, u64)>) -> Hashed {
    let leaves: Vec<Option<Hash>> = records
        .iter()
        .map(|r| {
            let in_range = range.is_none_or(|(a, b)| r.seq >= a && r.seq < b);
            (r.kind == RecordKind::Entry && in_range).then(|| leaf_hash(r.seq, &r.payload))
        })
        .collect();
    // Whole aligned blocks, as the records claim them; the pass in order still checks every
    // record's position and hash before it uses a block's root.
    let mut blocks = HashMap::new();
    let mut run: Option<(u64, Vec<Hash>)> = None;
    for (r, computed) in records.iter().zip(&leaves) {
        if r.kind != RecordKind::Entry {
            continue;
        }
        let leaf = computed.unwrap_or(r.hash);
        run = match run.take() {
            Some((first, mut l)) if r.seq == first + l.len() as u64 => {
                l.push(leaf);
                Some((first, l))
            }
            _ if r.seq.is_multiple_of(BLOCK) => {
                let mut l = Vec::with_capacity(BLOCK as usize);
                l.push(leaf);
                Some((r.seq, l))
            }
            _ => None,
        };
        if let Some((first, l)) = run.take_if(|(_, l)| l.len() as u64 == BLOCK) {
            blocks.insert(first, root_of(&l));
        }
    }
    Hashed { leaves, blocks }
}

/// One pass over the storage. With `every_checkpoint`, each checkpoint's root and signature
/// is checked as it is met (to locate damage); otherwise only the last one's, at the end.
async fn pass(
    storage: &dyn LogStorage,
    opts: &VerifyOptions,
    every_checkpoint: bool,
    sizes: &[u64],
) -> Pass {
    let mut p = Pass {
        frontier: Frontier::default(),
        checkpoints: 0,
        last_checkpoint: None,
        previous_checkpoint_size: 0,
        problem: None,
        roots_at: BTreeMap::new(),
    };
    if sizes.contains(&0) {
        p.roots_at.insert(0, Frontier::default().root());
    }
    // The leaves of the block being passed whose root was computed beforehand: pushed as one
    // subtree when the block is complete (every record checked), one by one if the pass stops.
    let mut block: Option<(Hash, Vec<Hash>)> = None;
    let no_head_inside = |first: u64| {
        let at = sizes.partition_point(|&s| s <= first);
        sizes.get(at).is_none_or(|&s| s >= first + BLOCK)
    };
    // Chunks are hashed whole, one per core at a time, while the reader reads ahead and this
    // pass checks the chunks already hashed, in order. (Splitting each chunk across the cores
    // instead left them idle whenever the reader had not finished the next one.)
    let mut scan = storage.scan();
    let (hashed_tx, mut hashed_rx) = tokio::sync::mpsc::channel(2);
    let range = opts.range;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hasher = tokio::spawn(async move {
        let mut inflight = std::collections::VecDeque::new();
        let mut read_all = false;
        loop {
            while !read_all && inflight.len() <= cores {
                match scan.recv().await {
                    Some(Ok(records)) => {
                        inflight.push_back(Ok(tokio::task::spawn_blocking(move || {
                            let hashed = hash_part(&records, range);
                            (records, hashed)
                        })));
                    }
                    Some(Err(e)) => {
                        // Everything read before the error is delivered first, then the error.
                        inflight.push_back(Err(e));
                        read_all = true;
                    }
                    None => read_all = true,
                }
            }
            let Some(next) = inflight.pop_front() else {
                break;
            };
            let item = match next {
                Ok(job) => job
                    .await
                    .map_err(|e| AuditError::Io(std::io::Error::other(e.to_string()))),
                Err(e) => Err(e),
            };
            if hashed_tx.send(item).await.is_err() {
                break;
            }
        }
    });
    'outer: while let Some(chunk) = hashed_rx.recv().await {
        let (records, hashed) = match chunk {
            Ok(r) => r,
            Err(AuditError::Damaged { position, reason }) => {
                let at = p.frontier.size();
                p.problem = problem(
                    Some(at),
                    position,
                    format!("存储无法按记录读取（{reason}），第 {at} 条及以后无法核对"),
                    format!(
                        "the storage cannot be read as records ({reason}); entry {at} onward cannot be checked"
                    ),
                );
                break;
            }
            Err(e) => {
                p.problem = problem(
                    None,
                    storage.describe(),
                    format!("读取失败：{e}"),
                    format!("reading failed: {e}"),
                );
                break;
            }
        };
        for (r, computed) in records.iter().zip(hashed.leaves) {
            let expected = p.frontier.size() + block.as_ref().map_or(0, |b| b.1.len() as u64);
            match r.kind {
                RecordKind::Entry => {
                    if r.seq != expected {
                        p.problem = problem(
                            Some(expected),
                            r.location(),
                            format!(
                                "此处应为第 {expected} 条，实为第 {} 条（条目被删除、插入或调换）",
                                r.seq
                            ),
                            format!(
                                "expected entry {expected} here, found entry {} (an entry was deleted, inserted or moved)",
                                r.seq
                            ),
                        );
                        break 'outer;
                    }
                    let leaf = computed.unwrap_or(r.hash);
                    if leaf != r.hash {
                        p.problem = problem(
                            Some(expected),
                            r.location(),
                            format!("第 {expected} 条的内容与其记录的哈希不符（内容被改动）"),
                            format!(
                                "entry {expected}'s content does not match its recorded hash (the content was changed)"
                            ),
                        );
                        break 'outer;
                    }
                    // Checking every checkpoint's root needs the tree at every size: no blocks.
                    if block.is_none()
                        && !every_checkpoint
                        && let Some(root) = hashed.blocks.get(&r.seq)
                        && no_head_inside(r.seq)
                    {
                        block = Some((*root, Vec::with_capacity(BLOCK as usize)));
                    }
                    match &mut block {
                        Some((root, leaves)) => {
                            leaves.push(leaf);
                            if leaves.len() as u64 == BLOCK {
                                p.frontier.push_subtree(BLOCK_LEVEL, *root);
                                block = None;
                            }
                        }
                        None => p.frontier.push(leaf),
                    }
                    let size = p.frontier.size();
                    if block.is_none() && sizes.binary_search(&size).is_ok() {
                        p.roots_at.insert(size, p.frontier.root());
                    }
                }
                RecordKind::Checkpoint => {
                    let first = p.previous_checkpoint_size;
                    let bad = |zh: String, en: String| {
                        problem(
                            Some(first.min(expected.saturating_sub(1))),
                            r.location(),
                            format!(
                                "{zh}（第 {first} 至 {} 条一同签名）",
                                expected.saturating_sub(1)
                            ),
                            format!(
                                "{en} (entries {first} to {} were signed together)",
                                expected.saturating_sub(1)
                            ),
                        )
                    };
                    if checksum(&r.payload) != r.hash || r.seq != expected {
                        p.problem = bad(
                            "签名树头记录损坏或位置不对".into(),
                            "a checkpoint record is damaged or out of place".into(),
                        );
                        break 'outer;
                    }
                    let Ok(sth) = serde_json::from_slice::<SignedTreeHead>(&r.payload) else {
                        p.problem = bad(
                            "签名树头无法解析".into(),
                            "a checkpoint cannot be parsed".into(),
                        );
                        break 'outer;
                    };
                    if sth.tree_size != expected {
                        p.problem = bad(
                            format!("签名树头声称覆盖 {} 条，实有 {expected} 条", sth.tree_size),
                            format!(
                                "a checkpoint claims {} entries where there are {expected}",
                                sth.tree_size
                            ),
                        );
                        break 'outer;
                    }
                    if every_checkpoint {
                        if sth.root() != Some(p.frontier.root()) {
                            p.problem = bad(
                                format!("重新计算的树根与树大小 {expected} 处签名的树根不符"),
                                format!(
                                    "the recomputed root differs from the root signed at tree size {expected}"
                                ),
                            );
                            break 'outer;
                        }
                        if !sth.verify(&opts.public_key) {
                            p.problem = bad(
                                format!("树大小 {expected} 处的 SM2 签名无效"),
                                format!("the SM2 signature at tree size {expected} is invalid"),
                            );
                            break 'outer;
                        }
                    }
                    p.checkpoints += 1;
                    p.previous_checkpoint_size = expected;
                    p.last_checkpoint = Some((sth, r.location()));
                }
            }
        }
    }
    hasher.abort();
    for leaf in block.map(|b| b.1).unwrap_or_default() {
        p.frontier.push(leaf);
    }
    p
}

/// Verifies the log in `storage`.
pub async fn verify(storage: &dyn LogStorage, opts: &VerifyOptions) -> VerifyReport {
    let started = Instant::now();
    let mut sizes: Vec<u64> = opts.heads.iter().map(|h| h.tree_size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut p = pass(storage, opts, false, &sizes).await;
    let size = p.frontier.size();
    let root = p.frontier.root();
    if p.problem.is_none() {
        p.problem = conclude(&mut p, opts, size, &root, storage);
        if p.problem.is_some() {
            // Something signed does not match: go again, checking every checkpoint, to say where.
            let located = pass(storage, opts, true, &sizes).await;
            if located.problem.is_some() {
                p.problem = located.problem;
            }
        }
    }
    // The records verify: now the index the server serves proofs and entries from must say
    // the same as the records.
    let index = match storage.check_index(opts.repair_index).await {
        Ok(findings) => findings,
        Err(e) => vec![format!("index could not be checked: {e}")],
    };
    if p.problem.is_none() && !index.is_empty() && !opts.repair_index {
        p.problem = problem(
            None,
            storage.describe(),
            format!(
                "索引文件与日志记录不一致：{}（可用 --repair-index 重建）",
                index.join("；")
            ),
            format!(
                "index files disagree with the records: {} (rebuild them with --repair-index)",
                index.join("; ")
            ),
        );
    }
    let against = opts
        .heads
        .iter()
        .chain(p.last_checkpoint.as_ref().map(|c| &c.0))
        .max_by_key(|h| h.tree_size)
        .cloned();
    VerifyReport {
        ok: p.problem.is_none(),
        storage: storage.describe(),
        entries: size,
        checkpoints: p.checkpoints,
        root_hash: hex::encode(root),
        verified_against: against,
        heads_checked: opts.heads.len(),
        problem: p.problem.clone(),
        index,
        elapsed_ms: started.elapsed().as_millis() as u64,
    }
}

fn conclude(
    p: &mut Pass,
    opts: &VerifyOptions,
    size: u64,
    root: &Hash,
    storage: &dyn LogStorage,
) -> Option<Problem> {
    match &p.last_checkpoint {
        None if size > 0 => {
            return problem(
                Some(0),
                storage.describe(),
                "日志中没有任何签名树头".into(),
                "the log holds no signed tree head".into(),
            );
        }
        Some((cp, _)) if cp.tree_size < size => {
            return problem(
                Some(cp.tree_size),
                storage.describe(),
                format!(
                    "第 {} 条起的 {} 条不在任何签名树头之下（伪造的追加或未完成的写入）",
                    cp.tree_size,
                    size - cp.tree_size
                ),
                format!(
                    "entries from {} on ({} of them) are not covered by any signed tree head (forged or unfinished appends)",
                    cp.tree_size,
                    size - cp.tree_size
                ),
            );
        }
        Some((cp, location)) if cp.root() != Some(*root) || !cp.verify(&opts.public_key) => {
            return problem(
                None,
                location.clone(),
                "最后一个签名树头与日志内容不符".into(),
                "the last signed tree head does not match the log".into(),
            );
        }
        _ => {}
    }
    for h in &opts.heads {
        if h.tree_size > size {
            return problem(
                Some(size),
                storage.describe(),
                format!(
                    "日志只有 {size} 条，而 {} 的签名树头覆盖 {} 条：第 {size} 条起缺失（被截断）",
                    h.timestamp, h.tree_size
                ),
                format!(
                    "the log has {size} entries but the tree head signed at {} covers {}: entries from {size} on are missing (truncated)",
                    h.timestamp, h.tree_size
                ),
            );
        }
        if !h.verify(&opts.public_key) {
            return problem(
                None,
                format!("tree head of {}", h.timestamp),
                format!("{} 的树头签名无效（不是此密钥签的）", h.timestamp),
                format!(
                    "the tree head of {} is not validly signed by this key",
                    h.timestamp
                ),
            );
        }
        if p.roots_at.get(&h.tree_size).copied() != h.root() {
            return problem(
                None,
                format!("tree head of {}", h.timestamp),
                format!(
                    "树大小 {} 处重新计算的树根与 {} 签名的不符",
                    h.tree_size, h.timestamp
                ),
                format!(
                    "the root recomputed at tree size {} differs from the one signed at {}",
                    h.tree_size, h.timestamp
                ),
            );
        }
    }
    None
}
