//! Where the log's records live: a trait, with append-only segment files in the data
//! directory ([`crate::segment`]) and PostgreSQL ([`crate::database`]) behind it.
//!
//! The log is a sequence of records. An *entry* record holds one audit entry (its index, its
//! JSON payload and its leaf hash); a *checkpoint* record holds the signed tree head over
//! every entry before it. Each group commit writes its entries followed by one checkpoint,
//! durably, before any of them is acknowledged: a log that ends with entries and no
//! checkpoint after them ends in a write that never returned.

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::error::Result;
use crate::merkle::Hash;
use crate::sign::SignedTreeHead;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Entry,
    Checkpoint,
}

/// One record as stored, unverified.
#[derive(Debug, Clone)]
pub struct Record {
    pub kind: RecordKind,
    /// Entry: its index (0-based). Checkpoint: the tree size it signs.
    pub seq: u64,
    pub payload: Vec<u8>,
    /// Entry: its stored leaf hash. Checkpoint: SM3 of the payload (a checksum).
    pub hash: Hash,
    /// Where it is: the segment's first entry index (None in the database) and the byte
    /// offset in the segment (or the row position in the database).
    pub segment: Option<u64>,
    pub offset: u64,
}

impl Record {
    /// For messages: "segment 00…00.seg, byte 1234" or "row 17".
    pub fn location(&self) -> String {
        match self.segment {
            Some(first) => format!("segment {first:020}.seg, byte {}", self.offset),
            None => format!("audit_records row {}", self.offset),
        }
    }
}

/// An entry ready to be written: index, payload, leaf hash.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub index: u64,
    pub payload: Vec<u8>,
    pub leaf: Hash,
}

/// Records other processes appended since this one last looked (the CLI loading data while
/// the server runs): their leaf hashes and the last checkpoint among them.
#[derive(Debug, Default, Clone)]
pub struct CatchUp {
    pub leaves: Vec<Hash>,
    pub checkpoint: Option<SignedTreeHead>,
}

/// Called with the storage locked against other writers, after catching up: numbers and
/// hashes the new entries and signs the tree head over everything.
pub type Seal = Box<dyn FnOnce(&CatchUp) -> (Vec<Sealed>, SignedTreeHead) + Send>;

/// What an append wrote, and what it found others had written before it.
#[derive(Debug)]
pub struct Appended {
    pub others: CatchUp,
    pub leaves: Vec<Hash>,
    pub checkpoint: SignedTreeHead,
}

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The last checkpoint, which covers every entry kept.
    pub checkpoint: Option<SignedTreeHead>,
}

/// Chunks of records in storage order; an `Err` ends the scan where the storage could not be
/// read as records.
pub type Scan = mpsc::Receiver<Result<Vec<Record>>>;

#[async_trait]
pub trait LogStorage: Send + Sync + 'static {
    /// Makes the storage consistent after a crash (cuts a tail that no checkpoint covers, which
    /// no caller was told had succeeded) and reports every kept entry's leaf hash in order.
    async fn recover(&self, leaves: &mut (dyn FnMut(Hash) + Send)) -> Result<Recovered>;

    /// Locks out other writers (in any process), catches up with what they wrote, seals the
    /// new entries through `seal`, and writes them and their checkpoint durably (fsync or
    /// commit) — or not at all as far as recovery is concerned.
    async fn append(&self, seal: Seal) -> Result<Appended>;

    /// Catches up with what other processes appended, without writing.
    async fn sync(&self) -> Result<CatchUp>;

    /// Stored leaf hashes of entries `[from, to)`.
    async fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>>;

    /// Stored payloads of entries `[from, to)`.
    async fn entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>>;

    /// Every record as stored, in order, without recovery or checks: for verification.
    fn scan(&self) -> Scan;

    /// What and where, for messages.
    fn describe(&self) -> String;

    /// Compares the storage's derived index (entry offsets and leaf hashes, from which proofs
    /// and entries are served) with the records themselves; rebuilds what disagrees when
    /// `repair`. One line per disagreement. Storages without a separate index have nothing
    /// to check.
    async fn check_index(&self, _repair: bool) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

pub(crate) fn checksum(payload: &[u8]) -> Hash {
    use sm3::Digest;
    sm3::Sm3::digest(payload).into()
}
