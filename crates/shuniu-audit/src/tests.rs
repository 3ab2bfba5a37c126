//! The log end to end on segment files: appends, proofs, restart, crash recovery, and every
//! kind of tampering named by `verify`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use shuniu_types::identity::Actor;

use crate::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use crate::segment::encode;
use crate::storage::RecordKind;
use crate::*;

fn entry(i: u64) -> Entry {
    Entry::new(Kind::Access, "data.preview", &Actor::local_operator())
        .resource(&format!("R{}", i % 7), "370200GA")
        .rows(i)
        .purpose(Some(format!("purpose {i}")))
}

async fn open(dir: &Path) -> AuditLog {
    let storage = Arc::new(SegmentStorage::open(&dir.join("log")).unwrap());
    let keys =
        shuniu_keys::MasterKey::load(shuniu_keys::KeySource::File(dir.join("master.key"))).unwrap();
    AuditLog::open(dir, storage, None, &keys).await.unwrap()
}

async fn check(dir: &Path) -> VerifyReport {
    let storage = SegmentStorage::open(&dir.join("log")).unwrap();
    let key =
        PublicKey::from_hex(&std::fs::read_to_string(dir.join("tree-head.pub")).unwrap()).unwrap();
    let opts = VerifyOptions {
        public_key: key,
        heads: published_heads(dir).unwrap(),
        range: None,
        repair_index: false,
    };
    verify(&storage, &opts).await
}

/// A log of `n` entries written by concurrent callers, with a published head.
async fn populated(n: u64) -> (tempfile::TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path()).await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(8) {
                log.record(entry(i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    log.sign_now().await.unwrap();
    (dir, log)
}

fn segment_file(dir: &Path) -> PathBuf {
    dir.join("log").join(format!("{:020}.seg", 0))
}

type Rec = (RecordKind, u64, Vec<u8>, [u8; 32]);

fn read_records(dir: &Path) -> Vec<Rec> {
    let bytes = std::fs::read(segment_file(dir)).unwrap();
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let kind = if bytes[at] == b'E' {
            RecordKind::Entry
        } else {
            RecordKind::Checkpoint
        };
        let seq = u64::from_be_bytes(bytes[at + 1..at + 9].try_into().unwrap());
        let len = u32::from_be_bytes(bytes[at + 9..at + 13].try_into().unwrap()) as usize;
        let payload = bytes[at + 13..at + 13 + len].to_vec();
        let hash: [u8; 32] = bytes[at + 13 + len..at + 45 + len].try_into().unwrap();
        out.push((kind, seq, payload, hash));
        at += 45 + len;
    }
    out
}

fn write_records(dir: &Path, recs: &[Rec]) {
    let mut buf = Vec::new();
    for (k, s, p, h) in recs {
        encode(&mut buf, *k, *s, p, h);
    }
    std::fs::write(segment_file(dir), buf).unwrap();
}

fn entry_positions(recs: &[Rec]) -> Vec<usize> {
    recs.iter()
        .enumerate()
        .filter(|(_, r)| r.0 == RecordKind::Entry)
        .map(|(i, _)| i)
        .collect()
}

#[tokio::test]
async fn appends_are_provable_and_verify() {
    let (dir, log) = populated(600).await;
    assert_eq!(log.size(), 600);
    let head = log.latest_head().unwrap();
    assert_eq!(head.tree_size, 600);
    assert!(head.verify(log.public_key()));
    let root = head.root().unwrap();
    for i in [0u64, 1, 255, 256, 511, 599] {
        let p = log.inclusion_proof(i, 600).await.unwrap();
        let leaf: [u8; 32] = hex::decode(&p.leaf_hash).unwrap().try_into().unwrap();
        let path: Vec<[u8; 32]> = p
            .audit_path
            .iter()
            .map(|h| hex::decode(h).unwrap().try_into().unwrap())
            .collect();
        assert!(verify_inclusion(i, 600, &leaf, &path, &root), "entry {i}");
        // The stored leaf is the hash of the stored entry at that index.
        let e = log.entry(i).await.unwrap();
        assert_eq!(leaf_hash(i, &e.to_bytes()), leaf);
    }
    // Consistency between an older published size and now.
    let old = log.inclusion_proof(0, 300).await.unwrap();
    assert_eq!(old.tree_size, 300);
    let c = log.consistency_proof(300, 600).await.unwrap();
    let proof: Vec<[u8; 32]> = c
        .proof
        .iter()
        .map(|h| hex::decode(h).unwrap().try_into().unwrap())
        .collect();
    let leaves = log.storage().leaf_hashes(0, 300).await.unwrap();
    let old_root = crate::merkle::root_of(&leaves);
    assert!(verify_consistency(300, 600, &old_root, &root, &proof));
    assert!(log.inclusion_proof(0, 601).await.is_err());
    let report = check(dir.path()).await;
    assert!(report.ok, "{:?}", report.problem);
    assert_eq!(report.entries, 600);
    assert!(report.checkpoints >= 1);
}

#[tokio::test]
async fn a_restart_keeps_everything_and_continues_the_tree() {
    let (dir, log) = populated(300).await;
    let root = log.latest_head().unwrap().root_hash;
    drop(log);
    let log = open(dir.path()).await;
    assert_eq!(log.size(), 300);
    assert_eq!(log.latest_head().unwrap().root_hash, root);
    assert_eq!(log.record(entry(300)).await.unwrap(), 300);
    assert_eq!(log.entry(300).await.unwrap().rows, Some(300));
    assert!(check(dir.path()).await.ok);
}

#[tokio::test]
async fn a_torn_write_is_cut_on_recovery_and_kept_aside() {
    let (dir, log) = populated(50).await;
    drop(log);
    // A crash in the middle of a group commit: entries written, no checkpoint, last one torn.
    let mut torn = Vec::new();
    for i in 50..53u64 {
        let p = entry(i).to_bytes();
        encode(&mut torn, RecordKind::Entry, i, &p, &leaf_hash(i, &p));
    }
    torn.truncate(torn.len() - 10);
    let mut bytes = std::fs::read(segment_file(dir.path())).unwrap();
    bytes.extend_from_slice(&torn);
    std::fs::write(segment_file(dir.path()), &bytes).unwrap();
    // Before recovery, verify reports the uncovered tail.
    let r = check(dir.path()).await;
    assert!(!r.ok);
    assert_eq!(
        r.problem.unwrap().entry,
        Some(52),
        "the torn record is entry 52"
    );
    let log = open(dir.path()).await;
    assert_eq!(log.size(), 50);
    assert!(
        dir.path()
            .join("log/quarantine")
            .read_dir()
            .unwrap()
            .next()
            .is_some()
    );
    assert!(check(dir.path()).await.ok);
    assert_eq!(log.record(entry(50)).await.unwrap(), 50);
    assert!(check(dir.path()).await.ok);
}

#[tokio::test]
async fn editing_an_entry_is_named() {
    let (dir, log) = populated(40).await;
    drop(log);
    let mut recs = read_records(dir.path());
    let pos = entry_positions(&recs)[17];
    let text = String::from_utf8(recs[pos].2.clone())
        .unwrap()
        .replace("purpose", "purp0se");
    recs[pos].2 = text.into_bytes();
    write_records(dir.path(), &recs);
    let p = check(dir.path()).await.problem.expect("edit detected");
    assert_eq!(p.entry, Some(17), "{p:?}");
    assert!(p.reason_en.contains("content"), "{p:?}");
}

#[tokio::test]
async fn editing_an_entry_and_its_hash_is_named_by_its_commit() {
    let (dir, log) = populated(40).await;
    drop(log);
    let mut recs = read_records(dir.path());
    let pos = entry_positions(&recs)[23];
    let seq = recs[pos].1;
    let text = String::from_utf8(recs[pos].2.clone())
        .unwrap()
        .replace("purpose", "purp0se");
    recs[pos].2 = text.into_bytes();
    recs[pos].3 = leaf_hash(seq, &recs[pos].2);
    write_records(dir.path(), &recs);
    let p = check(dir.path()).await.problem.expect("edit detected");
    // The damaged commit is named by its first entry; entry 23 is in it.
    let first = p.entry.unwrap();
    assert!(first <= 23, "{p:?}");
    assert!(p.reason_en.contains("root"), "{p:?}");
}

#[tokio::test]
async fn deleting_an_entry_is_named() {
    let (dir, log) = populated(40).await;
    drop(log);
    let mut recs = read_records(dir.path());
    let pos = entry_positions(&recs)[9];
    recs.remove(pos);
    write_records(dir.path(), &recs);
    let p = check(dir.path()).await.problem.expect("deletion detected");
    assert_eq!(p.entry, Some(9), "{p:?}");
}

#[tokio::test]
async fn reordering_entries_is_named() {
    let (dir, log) = populated(40).await;
    drop(log);
    let mut recs = read_records(dir.path());
    let e = entry_positions(&recs);
    recs.swap(e[12], e[13]);
    write_records(dir.path(), &recs);
    let p = check(dir.path()).await.problem.expect("reorder detected");
    assert_eq!(p.entry, Some(12), "{p:?}");
}

#[tokio::test]
async fn truncating_the_log_is_named() {
    let (dir, log) = populated(40).await;
    drop(log);
    // Cut back to an earlier checkpoint: records still parse, but a published head covers more.
    let mut recs = read_records(dir.path());
    let cut = recs
        .iter()
        .position(|r| r.0 == RecordKind::Checkpoint && r.1 >= 10 && r.1 < 40)
        .expect("an intermediate checkpoint");
    let kept = recs[cut].1;
    recs.truncate(cut + 1);
    write_records(dir.path(), &recs);
    let p = check(dir.path())
        .await
        .problem
        .expect("truncation detected");
    assert_eq!(p.entry, Some(kept), "{p:?}");
    assert!(p.reason_en.contains("missing"), "{p:?}");
    // Cutting mid-record is named too.
    let bytes = std::fs::read(segment_file(dir.path())).unwrap();
    std::fs::write(segment_file(dir.path()), &bytes[..bytes.len() - 7]).unwrap();
    assert!(!check(dir.path()).await.ok);
}

#[tokio::test]
async fn appending_forged_entries_is_named() {
    let (dir, log) = populated(40).await;
    drop(log);
    let mut recs = read_records(dir.path());
    let forged = entry(99).to_bytes();
    recs.push((
        RecordKind::Entry,
        40,
        forged.clone(),
        leaf_hash(40, &forged),
    ));
    write_records(dir.path(), &recs);
    let p = check(dir.path())
        .await
        .problem
        .expect("forged append detected");
    assert_eq!(p.entry, Some(40), "{p:?}");
    // With a forged checkpoint signed by another key, still refused.
    let (other, _) = Signer::generate().unwrap();
    let mut leaves = Vec::new();
    for r in &recs {
        if r.0 == RecordKind::Entry {
            leaves.push(r.3);
        }
    }
    let sth = other.sign(
        41,
        "2026-11-22T09:00:00.000+08:00".into(),
        &crate::merkle::root_of(&leaves),
    );
    let cp = serde_json::to_vec(&sth).unwrap();
    recs.push((
        RecordKind::Checkpoint,
        41,
        cp.clone(),
        crate::storage::checksum(&cp),
    ));
    write_records(dir.path(), &recs);
    let p = check(dir.path())
        .await
        .problem
        .expect("forged checkpoint detected");
    assert_eq!(p.entry, Some(40), "{p:?}");
    assert!(p.reason_en.contains("signature"), "{p:?}");
}

#[tokio::test]
async fn a_head_signed_elsewhere_or_for_another_tree_is_refused() {
    let (dir, log) = populated(20).await;
    let good = log.latest_head().unwrap();
    let storage = SegmentStorage::open(&dir.path().join("log")).unwrap();
    let mut forged = good.clone();
    forged.root_hash = hex::encode([1u8; 32]);
    let opts = VerifyOptions {
        public_key: log.public_key().clone(),
        heads: vec![forged],
        range: None,
        repair_index: false,
    };
    assert!(!verify(&storage, &opts).await.ok);
    let opts = VerifyOptions {
        public_key: log.public_key().clone(),
        heads: vec![good],
        range: Some((5, 10)),
        repair_index: false,
    };
    assert!(verify(&storage, &opts).await.ok);
}

#[tokio::test]
async fn two_processes_appending_to_one_log_keep_one_tree() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(dir.path()).await;
    let b = open(dir.path()).await;
    for i in 0..60 {
        assert_eq!(a.record(entry(i)).await.unwrap(), 2 * i);
        assert_eq!(b.record(entry(i)).await.unwrap(), 2 * i + 1);
    }
    assert_eq!(a.sync().await.unwrap(), 120);
    assert_eq!(
        a.latest_head().unwrap().root_hash,
        b.latest_head().unwrap().root_hash
    );
    let p = a.inclusion_proof(119, 120).await.unwrap();
    assert_eq!(p.audit_path.len(), 6);
    a.sign_now().await.unwrap();
    let r = check(dir.path()).await;
    assert!(r.ok, "{:?}", r.problem);
    assert_eq!(r.entries, 120);
}

/// The index beside a segment (offsets and leaf hashes proofs are served from) is derived
/// data: a flipped byte in it fails verification, naming the file and the first entry it
/// misstates, and `repair_index` rebuilds it from the records.
#[tokio::test]
async fn a_damaged_index_fails_verification_and_is_rebuilt() {
    let (dir, log) = populated(40).await;
    drop(log);
    let idx = dir.path().join("log").join(format!("{:020}.idx", 0));
    let mut bytes = std::fs::read(&idx).unwrap();
    let width = 8 + 32;
    bytes[10 * width + 8 + 3] ^= 0x01; // a leaf hash
    bytes[20 * width + 7] ^= 0x10; // an offset
    std::fs::write(&idx, &bytes).unwrap();

    let report = check(dir.path()).await;
    assert!(!report.ok, "{report:?}");
    assert_eq!(report.index.len(), 1, "{:?}", report.index);
    assert!(
        report.index[0].contains("from entry 10"),
        "{:?}",
        report.index
    );
    assert!(report.problem.unwrap().reason_en.contains("--repair-index"));

    let storage = SegmentStorage::open(&dir.path().join("log")).unwrap();
    let key =
        PublicKey::from_hex(&std::fs::read_to_string(dir.path().join("tree-head.pub")).unwrap())
            .unwrap();
    let repaired = verify(
        &storage,
        &VerifyOptions {
            public_key: key,
            heads: published_heads(dir.path()).unwrap(),
            range: None,
            repair_index: true,
        },
    )
    .await;
    assert!(repaired.ok, "{repaired:?}");
    assert!(repaired.index[0].ends_with("(rebuilt)"));
    let again = check(dir.path()).await;
    assert!(again.ok && again.index.is_empty(), "{again:?}");

    // The log serves entries and proofs from the rebuilt index.
    let log = open(dir.path()).await;
    let head = log.latest_head().unwrap();
    let proof = log.inclusion_proof(10, head.tree_size).await.unwrap();
    let leaf = storage_leaf(dir.path(), 10).await;
    assert!(verify_inclusion_of(&proof, leaf, &head));
}

async fn storage_leaf(dir: &Path, index: u64) -> crate::merkle::Hash {
    let storage = SegmentStorage::open(&dir.join("log")).unwrap();
    storage.recover(&mut |_| {}).await.unwrap();
    let entries = storage.entries(index, index + 1).await.unwrap();
    leaf_hash(index, &entries[0].1)
}

fn verify_inclusion_of(
    proof: &crate::log::InclusionProof,
    leaf: crate::merkle::Hash,
    head: &SignedTreeHead,
) -> bool {
    let path: Vec<crate::merkle::Hash> = proof
        .audit_path
        .iter()
        .map(|h| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h, &mut out).unwrap();
            out
        })
        .collect();
    verify_inclusion(
        proof.leaf_index,
        proof.tree_size,
        &leaf,
        &path,
        &head.root().unwrap(),
    )
}

/// Verification hashes whole aligned blocks of entries on every core and pushes each block as
/// one subtree: a published head inside a block, and tampering inside blocks, are still found
/// and named exactly as entry by entry.
#[tokio::test]
async fn tampering_inside_whole_blocks_is_named() {
    let (dir, log) = populated(300).await;
    for i in 300..1100 {
        log.record(entry(i)).await.unwrap();
    }
    log.sign_now().await.unwrap();
    drop(log);
    let heads = published_heads(dir.path()).unwrap();
    assert!(
        heads.iter().any(|h| h.tree_size == 300),
        "a head inside a block"
    );
    let clean = check(dir.path()).await;
    assert!(clean.ok, "{:?}", clean.problem);
    assert_eq!((clean.entries, clean.heads_checked), (1100, heads.len()));

    let original = read_records(dir.path());
    let e = entry_positions(&original);
    let edited = |recs: &mut Vec<Rec>, at: usize, rehash: bool| {
        let pos = e[at];
        let text = String::from_utf8(recs[pos].2.clone())
            .unwrap()
            .replace("purpose", "purp0se");
        recs[pos].2 = text.into_bytes();
        if rehash {
            recs[pos].3 = leaf_hash(at as u64, &recs[pos].2);
        }
    };

    let mut recs = original.clone();
    edited(&mut recs, 600, false);
    write_records(dir.path(), &recs);
    let p = check(dir.path()).await.problem.expect("edit detected");
    assert_eq!(p.entry, Some(600), "{p:?}");
    assert!(p.reason_en.contains("content"), "{p:?}");

    // Entry 700 and the checkpoint its own commit wrote after it.
    let mut recs = original.clone();
    if recs[e[700] + 1].0 == RecordKind::Checkpoint {
        recs.remove(e[700] + 1);
    }
    recs.remove(e[700]);
    write_records(dir.path(), &recs);
    let p = check(dir.path()).await.problem.expect("deletion detected");
    assert_eq!(p.entry, Some(700), "{p:?}");

    let mut recs = original.clone();
    recs.swap(e[512], e[513]);
    write_records(dir.path(), &recs);
    let p = check(dir.path()).await.problem.expect("reorder detected");
    assert_eq!(p.entry, Some(512), "{p:?}");

    let mut recs = original.clone();
    edited(&mut recs, 800, true);
    write_records(dir.path(), &recs);
    let p = check(dir.path()).await.problem.expect("edit detected");
    let first = p.entry.unwrap();
    assert!(first <= 800, "{p:?}");
    assert!(p.reason_en.contains("root"), "{p:?}");

    write_records(dir.path(), &original);
    assert!(check(dir.path()).await.ok);
}
