//! Append-only segment files: `DIR/NNNNNNNNNNNNNNNNNNNN.seg`, named by the index of their
//! first entry, rolled at [`SEGMENT_BYTES`] after a checkpoint.
//!
//! A record is `tag (1 byte: 'E' entry, 'C' checkpoint) ‖ seq (u64 BE) ‖ length (u32 BE) ‖
//! payload ‖ hash (32 bytes)`. Beside each segment, `NNN.idx` holds for every entry its byte
//! offset (u64 BE) and leaf hash: derived data for serving proofs and entries, rebuilt from
//! the segment when it disagrees, never trusted by verification.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::error::{AuditError, Result};
use crate::files::sync_dir;
use crate::merkle::Hash;
use crate::sign::SignedTreeHead;
use crate::storage::{
    Appended, CatchUp, LogStorage, Record, RecordKind, Recovered, Scan, Seal, checksum,
};

pub const SEGMENT_BYTES: u64 = 64 << 20;
/// The most one group commit writes; a longer unacknowledged tail is damage, not a torn write.
pub const MAX_BATCH_BYTES: u64 = 16 << 20;
const MAX_RECORD: u32 = 8 << 20;
const HEADER: usize = 13;
const IDX_WIDTH: u64 = 40;

pub struct SegmentStorage {
    dir: PathBuf,
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    dir: PathBuf,
    /// First entry index of each segment known, ascending.
    segments: Vec<u64>,
    /// How far this process has read or written: (segment, byte length).
    tail: (u64, u64),
    current: Option<Current>,
    /// Entries stored.
    size: u64,
}

struct Current {
    first: u64,
    file: File,
    idx: File,
}

fn seg_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.seg"))
}
fn idx_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.idx"))
}

fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let mut segments = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".seg")
            && let Ok(first) = stem.parse::<u64>()
        {
            segments.push(first);
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// The writers' lock (`DIR/LOCK`, flock): held for each append, by every process.
struct Locked(File);

impl Locked {
    fn exclusive(dir: &Path) -> Result<Locked> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        f.lock()?;
        Ok(Locked(f))
    }
    fn shared(dir: &Path) -> Result<Locked> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        f.lock_shared()?;
        Ok(Locked(f))
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Writes a file only its owner can read, durably.
pub(crate) fn encode(buf: &mut Vec<u8>, kind: RecordKind, seq: u64, payload: &[u8], hash: &Hash) {
    buf.push(match kind {
        RecordKind::Entry => b'E',
        RecordKind::Checkpoint => b'C',
    });
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.extend_from_slice(payload);
    buf.extend_from_slice(hash);
}

/// Why bytes are not a record.
enum Frame {
    Record(RecordKind, u64, Vec<u8>, Hash, u64),
    End,
    Bad(String),
}

/// Reads one record; `End` exactly at the end of the input.
fn read_frame(r: &mut impl Read) -> std::io::Result<Frame> {
    let mut head = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if got == 0 {
        return Ok(Frame::End);
    }
    if got < HEADER {
        return Ok(Frame::Bad(format!(
            "record header cut short ({got} of {HEADER} bytes)"
        )));
    }
    let kind = match head[0] {
        b'E' => RecordKind::Entry,
        b'C' => RecordKind::Checkpoint,
        t => return Ok(Frame::Bad(format!("unknown record tag 0x{t:02x}"))),
    };
    let seq = u64::from_be_bytes(head[1..9].try_into().unwrap_or_default());
    let len = u32::from_be_bytes(head[9..13].try_into().unwrap_or_default());
    if len > MAX_RECORD {
        return Ok(Frame::Bad(format!("record length {len} is impossible")));
    }
    let mut body = vec![0u8; len as usize + 32];
    if let Err(e) = r.read_exact(&mut body) {
        if e.kind() == ErrorKind::UnexpectedEof {
            return Ok(Frame::Bad("record cut short".into()));
        }
        return Err(e);
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&body[len as usize..]);
    body.truncate(len as usize);
    Ok(Frame::Record(
        kind,
        seq,
        body,
        hash,
        (HEADER + len as usize + 32) as u64,
    ))
}

impl SegmentStorage {
    /// Opens the segments under `dir` (created if needed). Call [`LogStorage::recover`] before
    /// appending; verification needs no recovery.
    pub fn open(dir: &Path) -> Result<SegmentStorage> {
        std::fs::create_dir_all(dir)?;
        let segments = list_segments(dir)?;
        Ok(SegmentStorage {
            dir: dir.to_path_buf(),
            inner: Arc::new(Mutex::new(Inner {
                dir: dir.to_path_buf(),
                segments,
                tail: (0, 0),
                current: None,
                size: 0,
            })),
        })
    }

    fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
        inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AuditError::Io(std::io::Error::other(e)))?
}

/// Records read while catching up: (offset, leaf) of each kept entry, per segment.
type ReadEntries = Vec<(u64, Vec<(u64, Hash)>)>;

impl Inner {
    fn location(&self, first: u64, offset: u64) -> String {
        format!("segment {first:020}.seg, byte {offset}")
    }

    /// Reads what was appended after `self.tail` (by this or another process), keeping what
    /// checkpoints cover and moving an unacknowledged tail aside. Call with the writers'
    /// lock held.
    fn catch_up(&mut self, read: &mut ReadEntries) -> Result<CatchUp> {
        let mut out = CatchUp::default();
        let on_disk = list_segments(&self.dir)?;
        let last_on_disk = on_disk.last().copied();
        let from = self.tail.0;
        for &first in on_disk.iter().filter(|&&f| f >= from) {
            let start = if first == from { self.tail.1 } else { 0 };
            if first != self.tail.0 && first != self.size {
                return Err(AuditError::Damaged {
                    position: format!("segment {first:020}.seg"),
                    reason: format!("segment should start at entry {}", self.size),
                });
            }
            let path = seg_path(&self.dir, first);
            let file_len = std::fs::metadata(&path)?.len();
            if !self.segments.contains(&first) {
                self.segments.push(first);
            }
            if start >= file_len {
                self.tail = (first, start.max(file_len));
                continue;
            }
            let mut f = File::open(&path)?;
            f.seek(SeekFrom::Start(start))?;
            let mut r = BufReader::with_capacity(1 << 20, f);
            let mut offset = start;
            let mut pending: Vec<(u64, Hash)> = Vec::new();
            let mut kept: Vec<(u64, Hash)> = Vec::new();
            let mut cut = start;
            let mut stopped = None;
            loop {
                match read_frame(&mut r)? {
                    Frame::End => break,
                    Frame::Bad(why) => {
                        stopped = Some((offset, why));
                        break;
                    }
                    Frame::Record(kind, seq, payload, hash, n) => {
                        match kind {
                            RecordKind::Entry => {
                                let expected = self.size + kept.len() as u64 + pending.len() as u64;
                                if seq != expected {
                                    return Err(AuditError::Damaged {
                                        position: self.location(first, offset),
                                        reason: format!("expected entry {expected}, found {seq}"),
                                    });
                                }
                                pending.push((offset, hash));
                            }
                            RecordKind::Checkpoint => {
                                if let Ok(sth) = serde_json::from_slice::<SignedTreeHead>(&payload)
                                {
                                    out.checkpoint = Some(sth);
                                }
                                kept.append(&mut pending);
                                cut = offset + n;
                            }
                        }
                        offset += n;
                    }
                }
            }
            if cut < file_len {
                if Some(first) != last_on_disk || file_len - cut > MAX_BATCH_BYTES {
                    let (at, reason) =
                        stopped.unwrap_or((cut, "entries after the last checkpoint".into()));
                    return Err(AuditError::Damaged {
                        position: self.location(first, at),
                        reason,
                    });
                }
                // A write that never returned (its process died): nobody was told it succeeded.
                self.quarantine(first, cut, file_len)?;
                if self.current.as_ref().is_some_and(|c| c.first == first) {
                    self.current = None;
                }
            }
            self.size += kept.len() as u64;
            out.leaves.extend(kept.iter().map(|k| k.1));
            read.push((first, kept));
            self.tail = (first, cut);
        }
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.first != self.tail.0)
        {
            self.current = None;
        }
        Ok(out)
    }

    fn recover(&mut self, leaves: &mut dyn FnMut(Hash)) -> Result<Recovered> {
        let _lock = Locked::exclusive(&self.dir)?;
        let mut recovered = Recovered::default();
        self.segments = list_segments(&self.dir)?;
        self.size = 0;
        self.tail = (0, 0);
        self.current = None;
        let n = self.segments.len();
        // Sealed segments: their index files, when complete, give the leaves without a scan.
        for i in 0..n.saturating_sub(1) {
            let (first, next) = (self.segments[i], self.segments[i + 1]);
            if first != self.size {
                break;
            }
            let idx = idx_path(&self.dir, first);
            let count = next - first;
            if std::fs::metadata(&idx).map(|m| m.len()).ok() != Some(count * IDX_WIDTH) {
                break;
            }
            let mut r = BufReader::with_capacity(1 << 20, File::open(&idx)?);
            let mut rec = [0u8; IDX_WIDTH as usize];
            for _ in 0..count {
                r.read_exact(&mut rec)?;
                let mut h = [0u8; 32];
                h.copy_from_slice(&rec[8..]);
                leaves(h);
            }
            self.size = next;
            self.tail = (next, 0);
        }
        let mut read = ReadEntries::new();
        let caught = self.catch_up(&mut read)?;
        for h in &caught.leaves {
            leaves(*h);
        }
        // Index files of what was scanned (each from its start) are rewritten in place (other
        // processes may hold them open for appending): their last writes were not synced.
        for (first, entries) in &read {
            let mut buf = Vec::with_capacity(entries.len() * IDX_WIDTH as usize);
            for (off, h) in entries {
                buf.extend_from_slice(&off.to_be_bytes());
                buf.extend_from_slice(h);
            }
            let mut f = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(idx_path(&self.dir, *first))?;
            f.set_len(0)?;
            f.write_all(&buf)?;
        }
        recovered.checkpoint = caught
            .checkpoint
            .or_else(|| self.last_checkpoint().ok().flatten());
        Ok(recovered)
    }

    /// The last checkpoint in the segment before the tail (when recovery read no records).
    fn last_checkpoint(&self) -> Result<Option<SignedTreeHead>> {
        let mut last = None;
        for &first in self.segments.iter().rev() {
            let f = File::open(seg_path(&self.dir, first))?;
            let mut r = BufReader::with_capacity(1 << 20, f);
            while let Frame::Record(kind, _, payload, _, _) = read_frame(&mut r)? {
                if kind == RecordKind::Checkpoint {
                    last = serde_json::from_slice(&payload).ok();
                }
            }
            if last.is_some() {
                break;
            }
        }
        Ok(last)
    }

    /// Moves bytes `[cut, len)` of a segment to `quarantine/` and truncates it.
    fn quarantine(&self, first: u64, cut: u64, len: u64) -> Result<String> {
        let qdir = self.dir.join("quarantine");
        std::fs::create_dir_all(&qdir)?;
        let qpath = qdir.join(format!("{first:020}-{cut}.bin"));
        let mut f = File::open(seg_path(&self.dir, first))?;
        f.seek(SeekFrom::Start(cut))?;
        let mut tail = Vec::with_capacity((len - cut) as usize);
        f.read_to_end(&mut tail)?;
        let mut q = File::create(&qpath)?;
        q.write_all(&tail)?;
        q.sync_all()?;
        let f = OpenOptions::new()
            .write(true)
            .open(seg_path(&self.dir, first))?;
        f.set_len(cut)?;
        f.sync_all()?;
        tracing::warn!(
            segment = first,
            bytes = len - cut,
            kept = %qpath.display(),
            "audit log: moved an unacknowledged tail aside"
        );
        Ok(qpath.display().to_string())
    }

    fn append(&mut self, seal: Seal) -> Result<Appended> {
        let _lock = Locked::exclusive(&self.dir)?;
        let others = self.catch_up(&mut ReadEntries::new())?;
        let (entries, checkpoint) = seal(&others);
        if self.current.is_none() {
            // Continue the tail segment, or start a new one named by the next entry.
            let first = if !self.segments.is_empty() && self.tail.1 < SEGMENT_BYTES {
                self.tail.0
            } else {
                self.size
            };
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(seg_path(&self.dir, first))?;
            let idx = OpenOptions::new()
                .create(true)
                .append(true)
                .open(idx_path(&self.dir, first))?;
            if first != self.tail.0 || self.segments.is_empty() {
                sync_dir(&self.dir)?;
                self.tail = (first, 0);
            }
            if !self.segments.contains(&first) {
                self.segments.push(first);
            }
            self.current = Some(Current { first, file, idx });
        }
        let cur = self.current.as_mut().ok_or(AuditError::Poisoned)?;
        let base = self.tail.1;
        let mut buf =
            Vec::with_capacity(entries.iter().map(|e| e.payload.len() + 77).sum::<usize>() + 512);
        let mut idx_buf = Vec::with_capacity(entries.len() * IDX_WIDTH as usize);
        for e in &entries {
            idx_buf.extend_from_slice(&(base + buf.len() as u64).to_be_bytes());
            idx_buf.extend_from_slice(&e.leaf);
            encode(&mut buf, RecordKind::Entry, e.index, &e.payload, &e.leaf);
        }
        let cp = serde_json::to_vec(&checkpoint).map_err(|e| AuditError::Io(e.into()))?;
        encode(
            &mut buf,
            RecordKind::Checkpoint,
            checkpoint.tree_size,
            &cp,
            &checksum(&cp),
        );
        cur.file.write_all(&buf)?;
        cur.file.sync_data()?;
        cur.idx.write_all(&idx_buf)?;
        self.tail.1 += buf.len() as u64;
        self.size += entries.len() as u64;
        if self.tail.1 >= SEGMENT_BYTES {
            self.current = None;
        }
        Ok(Appended {
            others,
            leaves: entries.iter().map(|e| e.leaf).collect(),
            checkpoint,
        })
    }

    fn sync(&mut self) -> Result<CatchUp> {
        let _lock = Locked::exclusive(&self.dir)?;
        self.catch_up(&mut ReadEntries::new())
    }

    /// Each segment's index file as its records say it should be; the ones that differ are
    /// named (from the first entry that differs) and, when `repair`, rewritten.
    fn check_index(&self, repair: bool) -> Result<Vec<String>> {
        let mut findings = Vec::new();
        for first in list_segments(&self.dir)? {
            let f = File::open(seg_path(&self.dir, first))?;
            let mut r = BufReader::with_capacity(1 << 20, f);
            let mut offset = 0u64;
            let mut expected: Vec<u8> = Vec::new();
            while let Frame::Record(kind, _, _, hash, n) = read_frame(&mut r)? {
                if kind == RecordKind::Entry {
                    expected.extend_from_slice(&offset.to_be_bytes());
                    expected.extend_from_slice(&hash);
                }
                offset += n;
            }
            let path = idx_path(&self.dir, first);
            let actual = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            if actual == expected {
                continue;
            }
            let differs_at = actual
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(actual.len().min(expected.len()));
            let entry = first + differs_at as u64 / IDX_WIDTH;
            findings.push(format!(
                "{first:020}.idx disagrees with {first:020}.seg from entry {entry}{}",
                if repair { " (rebuilt)" } else { "" }
            ));
            if repair {
                // In place: other processes may hold the file open for appending.
                let mut f = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)?;
                f.set_len(0)?;
                f.write_all(&expected)?;
                f.sync_all()?;
            }
        }
        Ok(findings)
    }

    /// (segment first index, offset, leaf) of entries `[from, to)`.
    fn index_range(&self, from: u64, to: u64) -> Result<Vec<(u64, u64, Hash)>> {
        if to > self.size || from > to {
            return Err(AuditError::NoSuchEntry {
                index: to.saturating_sub(1),
                size: self.size,
            });
        }
        let mut out = Vec::with_capacity((to - from) as usize);
        let mut at = from;
        while at < to {
            let s = self.segments.partition_point(|&f| f <= at) - 1;
            let first = self.segments[s];
            let end = self
                .segments
                .get(s + 1)
                .copied()
                .unwrap_or(self.size)
                .min(to);
            let f = File::open(idx_path(&self.dir, first))?;
            let mut buf = vec![0u8; ((end - at) * IDX_WIDTH) as usize];
            f.read_exact_at(&mut buf, (at - first) * IDX_WIDTH)?;
            for rec in buf.chunks_exact(IDX_WIDTH as usize) {
                let mut h = [0u8; 32];
                h.copy_from_slice(&rec[8..]);
                let off = u64::from_be_bytes(rec[..8].try_into().unwrap_or_default());
                out.push((first, off, h));
            }
            at = end;
        }
        Ok(out)
    }
}

#[async_trait]
impl LogStorage for SegmentStorage {
    async fn recover(&self, leaves: &mut (dyn FnMut(Hash) + Send)) -> Result<Recovered> {
        // Recovery reads files on this thread: it runs once, before the log takes writes.
        let mut inner = Self::lock(&self.inner);
        inner.recover(leaves)
    }

    async fn append(&self, seal: Seal) -> Result<Appended> {
        let inner = self.inner.clone();
        blocking(move || Self::lock(&inner).append(seal)).await
    }

    async fn sync(&self) -> Result<CatchUp> {
        let inner = self.inner.clone();
        blocking(move || Self::lock(&inner).sync()).await
    }

    async fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>> {
        let inner = self.inner.clone();
        blocking(move || {
            Ok(Self::lock(&inner)
                .index_range(from, to)?
                .into_iter()
                .map(|r| r.2)
                .collect())
        })
        .await
    }

    async fn entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let inner = self.inner.clone();
        blocking(move || {
            let g = Self::lock(&inner);
            let idx = g.index_range(from, to)?;
            let mut out = Vec::with_capacity(idx.len());
            let mut open: Option<(u64, File)> = None;
            for (i, (first, off, _)) in idx.into_iter().enumerate() {
                if open.as_ref().map(|o| o.0) != Some(first) {
                    open = Some((first, File::open(seg_path(&g.dir, first))?));
                }
                let Some((_, f)) = open.as_mut() else {
                    continue;
                };
                f.seek(SeekFrom::Start(off))?;
                let mut r = BufReader::new(&mut *f);
                match read_frame(&mut r)? {
                    Frame::Record(RecordKind::Entry, _, payload, _, _) => {
                        out.push((from + i as u64, payload))
                    }
                    _ => {
                        return Err(AuditError::Damaged {
                            position: g.location(first, off),
                            reason: "the index points at no entry".into(),
                        });
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn check_index(&self, repair: bool) -> Result<Vec<String>> {
        let inner = self.inner.clone();
        blocking(move || {
            let g = Self::lock(&inner);
            // Writers wait while the index is compared (and rewritten).
            let _lock = if repair {
                Locked::exclusive(&g.dir)?
            } else {
                Locked::shared(&g.dir)?
            };
            g.check_index(repair)
        })
        .await
    }

    fn scan(&self) -> Scan {
        let (tx, rx) = mpsc::channel(4);
        let dir = self.dir.clone();
        std::thread::spawn(move || {
            let send = |chunk| tx.blocking_send(chunk).is_ok();
            // What writers have finished, read under their lock: a write in progress is not
            // yet part of the log and must not look like damage.
            let snapshot = (|| -> Result<Vec<(u64, u64)>> {
                let _lock = Locked::shared(&dir)?;
                list_segments(&dir)?
                    .into_iter()
                    .map(|f| Ok((f, std::fs::metadata(seg_path(&dir, f))?.len())))
                    .collect()
            })();
            let snapshot = match snapshot {
                Ok(s) => s,
                Err(e) => {
                    send(Err(e));
                    return;
                }
            };
            for (first, len) in snapshot {
                let f = match File::open(seg_path(&dir, first)) {
                    Ok(f) => f,
                    Err(e) => {
                        send(Err(e.into()));
                        return;
                    }
                };
                let mut r = BufReader::with_capacity(1 << 20, f.take(len));
                let mut offset = 0u64;
                let mut chunk = Vec::with_capacity(4096);
                loop {
                    match read_frame(&mut r) {
                        Err(e) => {
                            send(Err(e.into()));
                            return;
                        }
                        Ok(Frame::End) => break,
                        Ok(Frame::Bad(reason)) => {
                            if !chunk.is_empty() && !send(Ok(std::mem::take(&mut chunk))) {
                                return;
                            }
                            send(Err(AuditError::Damaged {
                                position: format!("segment {first:020}.seg, byte {offset}"),
                                reason,
                            }));
                            return;
                        }
                        Ok(Frame::Record(kind, seq, payload, hash, n)) => {
                            chunk.push(Record {
                                kind,
                                seq,
                                payload,
                                hash,
                                segment: Some(first),
                                offset,
                            });
                            offset += n;
                            // Chunks end after a whole number of aligned blocks where the
                            // entries allow it: verification hashes whole blocks on all cores.
                            let aligned = kind == RecordKind::Entry
                                && (seq + 1).is_multiple_of(crate::merkle::BLOCK);
                            if ((chunk.len() >= 4096 && aligned) || chunk.len() >= 16_384)
                                && !send(Ok(std::mem::take(&mut chunk)))
                            {
                                return;
                            }
                        }
                    }
                }
                if !chunk.is_empty() && !send(Ok(chunk)) {
                    return;
                }
            }
        });
        rx
    }

    fn describe(&self) -> String {
        format!("segment files in {}", self.dir.display())
    }
}
