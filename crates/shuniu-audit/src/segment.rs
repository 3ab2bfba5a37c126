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
use crate::merkle::Hash;
use crate::sign::SignedTreeHead;
use crate::storage::{LogStorage, Record, RecordKind, Recovered, Scan, Sealed, checksum};

pub const SEGMENT_BYTES: u64 = 64 << 20;
/// The most one group commit writes; a longer unacknowledged tail is damage, not a torn write.
pub const MAX_BATCH_BYTES: u64 = 16 << 20;
const MAX_RECORD: u32 = 8 << 20;
const HEADER: usize = 13;
const IDX_WIDTH: u64 = 40;

/// (offset, kind, seq, stored hash, payload if a checkpoint) as recovery reads it.
type ScannedRecord = (u64, RecordKind, u64, Hash, Vec<u8>);
/// The records read, and where and why reading stopped before the end (if it did).
type SegmentScan = (Vec<ScannedRecord>, Option<(u64, String)>);

pub struct SegmentStorage {
    dir: PathBuf,
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    dir: PathBuf,
    /// First entry index of each segment, ascending.
    segments: Vec<u64>,
    current: Option<Current>,
    /// Entries stored.
    size: u64,
}

struct Current {
    file: File,
    idx: File,
    len: u64,
}

fn seg_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.seg"))
}
fn idx_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.idx"))
}

/// Writes a file only its owner can read, durably.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

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
    /// appending.
    pub fn open(dir: &Path) -> Result<SegmentStorage> {
        std::fs::create_dir_all(dir)?;
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
        Ok(SegmentStorage {
            dir: dir.to_path_buf(),
            inner: Arc::new(Mutex::new(Inner {
                dir: dir.to_path_buf(),
                segments,
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

impl Inner {
    fn location(&self, first: u64, offset: u64) -> String {
        format!("segment {first:020}.seg, byte {offset}")
    }

    /// Scans a whole segment: (offset, record) for each record, and where it stopped reading
    /// records (None at a clean end).
    fn scan_segment(&self, first: u64) -> Result<SegmentScan> {
        let f = File::open(seg_path(&self.dir, first))?;
        let mut r = BufReader::with_capacity(1 << 20, f);
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            match read_frame(&mut r)? {
                Frame::End => return Ok((out, None)),
                Frame::Bad(why) => return Ok((out, Some((offset, why)))),
                Frame::Record(kind, seq, payload, hash, n) => {
                    let keep = if kind == RecordKind::Checkpoint {
                        payload
                    } else {
                        Vec::new()
                    };
                    out.push((offset, kind, seq, hash, keep));
                    offset += n;
                }
            }
        }
    }

    fn recover(&mut self, leaves: &mut dyn FnMut(Hash)) -> Result<Recovered> {
        let mut recovered = Recovered::default();
        let mut size = 0u64;
        let n = self.segments.len();
        for (i, &first) in self.segments.clone().iter().enumerate() {
            if first != size {
                return Err(AuditError::Damaged {
                    position: format!("segment {first:020}.seg"),
                    reason: format!("segment should start at entry {size}"),
                });
            }
            let last = i + 1 == n;
            let expected = if last {
                None
            } else {
                Some(self.segments[i + 1] - first)
            };
            let idx = idx_path(&self.dir, first);
            let idx_ok = match (expected, std::fs::metadata(&idx)) {
                (Some(count), Ok(m)) => m.len() == count * IDX_WIDTH,
                _ => false,
            };
            if idx_ok {
                let mut r = BufReader::with_capacity(1 << 20, File::open(&idx)?);
                let mut rec = [0u8; IDX_WIDTH as usize];
                for _ in 0..expected.unwrap_or(0) {
                    r.read_exact(&mut rec)?;
                    let mut h = [0u8; 32];
                    h.copy_from_slice(&rec[8..]);
                    leaves(h);
                }
                size += expected.unwrap_or(0);
                continue;
            }
            let (records, stopped) = self.scan_segment(first)?;
            let file_len = std::fs::metadata(seg_path(&self.dir, first))?.len();
            // Keep everything up to the last checkpoint.
            let cut = records
                .iter()
                .rposition(|r| r.1 == RecordKind::Checkpoint)
                .map(|p| {
                    let (off, _, _, _, payload) = &records[p];
                    off + (HEADER + payload.len() + 32) as u64
                })
                .unwrap_or(0);
            if !last && (stopped.is_some() || cut != file_len) {
                let (at, reason) =
                    stopped.unwrap_or((cut, "entries after the last checkpoint".into()));
                return Err(AuditError::Damaged {
                    position: self.location(first, at),
                    reason,
                });
            }
            if file_len - cut > MAX_BATCH_BYTES {
                let (at, why) =
                    stopped.unwrap_or((cut, "entries after the last checkpoint".into()));
                return Err(AuditError::Damaged {
                    position: self.location(first, at),
                    reason: why,
                });
            }
            if cut < file_len {
                recovered.quarantined = Some(self.quarantine(first, cut, file_len)?);
            }
            let mut idx_buf = Vec::new();
            let mut entries = 0u64;
            for (off, kind, seq, hash, payload) in &records {
                if *off >= cut {
                    break;
                }
                match kind {
                    RecordKind::Entry => {
                        if *seq != size + entries {
                            return Err(AuditError::Damaged {
                                position: self.location(first, *off),
                                reason: format!("expected entry {}, found {seq}", size + entries),
                            });
                        }
                        idx_buf.extend_from_slice(&off.to_be_bytes());
                        idx_buf.extend_from_slice(hash);
                        leaves(*hash);
                        entries += 1;
                    }
                    RecordKind::Checkpoint => {
                        if let Ok(sth) = serde_json::from_slice::<SignedTreeHead>(payload) {
                            recovered.checkpoint = Some(sth);
                        }
                    }
                }
            }
            let tmp = idx.with_extension("idx.tmp");
            std::fs::write(&tmp, &idx_buf)?;
            std::fs::rename(&tmp, &idx)?;
            size += entries;
            if last {
                let file = OpenOptions::new()
                    .append(true)
                    .open(seg_path(&self.dir, first))?;
                let idx = OpenOptions::new().append(true).open(&idx)?;
                self.current = Some(Current {
                    file,
                    idx,
                    len: cut,
                });
            }
        }
        self.size = size;
        Ok(recovered)
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

    fn append(&mut self, entries: &[Sealed], checkpoint: &SignedTreeHead) -> Result<()> {
        if self.current.is_none() {
            let first = self.size;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(seg_path(&self.dir, first))?;
            let idx = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(idx_path(&self.dir, first))?;
            sync_dir(&self.dir)?;
            if self.segments.last() != Some(&first) {
                self.segments.push(first);
            }
            self.current = Some(Current { file, idx, len: 0 });
        }
        let cur = self.current.as_mut().ok_or(AuditError::Poisoned)?;
        let mut buf =
            Vec::with_capacity(entries.iter().map(|e| e.payload.len() + 77).sum::<usize>() + 512);
        let mut idx_buf = Vec::with_capacity(entries.len() * IDX_WIDTH as usize);
        for e in entries {
            idx_buf.extend_from_slice(&(cur.len + buf.len() as u64).to_be_bytes());
            idx_buf.extend_from_slice(&e.leaf);
            encode(&mut buf, RecordKind::Entry, e.index, &e.payload, &e.leaf);
        }
        let cp = serde_json::to_vec(checkpoint).map_err(|e| AuditError::Io(e.into()))?;
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
        cur.len += buf.len() as u64;
        self.size += entries.len() as u64;
        if cur.len >= SEGMENT_BYTES {
            self.current = None;
        }
        Ok(())
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

    async fn append(&self, entries: Vec<Sealed>, checkpoint: &SignedTreeHead) -> Result<()> {
        let inner = self.inner.clone();
        let checkpoint = checkpoint.clone();
        blocking(move || Self::lock(&inner).append(&entries, &checkpoint)).await
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

    fn scan(&self) -> Scan {
        let (tx, rx) = mpsc::channel(4);
        let dir = self.dir.clone();
        let segments = Self::lock(&self.inner).segments.clone();
        std::thread::spawn(move || {
            let send = |chunk| tx.blocking_send(chunk).is_ok();
            for first in segments {
                let f = match File::open(seg_path(&dir, first)) {
                    Ok(f) => f,
                    Err(e) => {
                        send(Err(e.into()));
                        return;
                    }
                };
                let mut r = BufReader::with_capacity(1 << 20, f);
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
                            if chunk.len() == 4096 && !send(Ok(std::mem::take(&mut chunk))) {
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
