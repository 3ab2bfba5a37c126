//! Files of sensitive data sealed as a stream: a comparison job's keys and its result hold ID
//! numbers and granted fields, so they are written in frames of up to 64 KiB, each sealed with
//! SM4-GCM under the data key. A frame's associated data names the file (its label), the
//! frame's position and whether it is the last, so frames cannot be reordered, dropped, moved
//! to another file or cut off at the end without the reader noticing.

use std::io::{self, Read, Write};

use crate::{CellKey, CellSealer};

const FRAME: usize = 64 * 1024;

fn aad(label: &str, index: u64, last: bool) -> String {
    format!("{label}#{index}{}", if last { "#end" } else { "" })
}

/// Seals what is written to it; [`SealedWriter::finish`] writes the last frame (a writer
/// dropped without it leaves a file that does not open: a cut-off file is never read as whole).
pub struct SealedWriter<W: Write> {
    inner: W,
    sealer: CellSealer,
    label: String,
    buf: Vec<u8>,
    index: u64,
    sealed: Vec<u8>,
}

impl<W: Write> SealedWriter<W> {
    pub fn new(key: &CellKey, label: &str, inner: W) -> io::Result<SealedWriter<W>> {
        Ok(SealedWriter {
            inner,
            sealer: key.sealer().map_err(io::Error::other)?,
            label: label.to_string(),
            buf: Vec::with_capacity(FRAME),
            index: 0,
            sealed: Vec::with_capacity(FRAME + 64),
        })
    }

    fn frame(&mut self, last: bool) -> io::Result<()> {
        self.sealed.clear();
        self.sealer
            .seal_into(
                &aad(&self.label, self.index, last),
                &self.buf,
                &mut self.sealed,
            )
            .map_err(io::Error::other)?;
        self.inner
            .write_all(&(self.sealed.len() as u32).to_le_bytes())?;
        self.inner.write_all(&self.sealed)?;
        self.buf.clear();
        self.index += 1;
        Ok(())
    }

    /// Seals the last frame and returns the inner writer, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        self.frame(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SealedWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = FRAME - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == FRAME {
            self.frame(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Frames are sealed whole; what is buffered waits for the frame to fill or `finish`.
        self.inner.flush()
    }
}

/// Opens a stream written by [`SealedWriter`]; an altered, reordered or cut-off stream is an
/// error, never short data.
pub struct SealedReader<R: Read> {
    inner: R,
    key: CellKey,
    label: String,
    index: u64,
    plain: Vec<u8>,
    at: usize,
    done: bool,
}

impl<R: Read> SealedReader<R> {
    pub fn new(key: &CellKey, label: &str, inner: R) -> SealedReader<R> {
        SealedReader {
            inner,
            key: key.clone(),
            label: label.to_string(),
            index: 0,
            plain: Vec::new(),
            at: 0,
            done: false,
        }
    }

    fn next_frame(&mut self) -> io::Result<()> {
        let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
        let mut len = [0u8; 4];
        match self.inner.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(bad("sealed file cut off before its last frame"));
            }
            Err(e) => return Err(e),
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > FRAME + 64 {
            return Err(bad("sealed frame too long"));
        }
        let mut sealed = vec![0u8; len];
        self.inner
            .read_exact(&mut sealed)
            .map_err(|_| bad("sealed file cut off inside a frame"))?;
        // The last frame is known by its associated data: try it as a middle frame first.
        let (plain, last) = match self.key.open(&aad(&self.label, self.index, false), &sealed) {
            Ok(p) => (p, false),
            Err(_) => (
                self.key
                    .open(&aad(&self.label, self.index, true), &sealed)
                    .map_err(|e| bad(&e.to_string()))?,
                true,
            ),
        };
        self.plain = plain;
        self.at = 0;
        self.index += 1;
        self.done = last;
        Ok(())
    }
}

impl<R: Read> Read for SealedReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_frame()?;
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sealed(data: &[u8], label: &str) -> Vec<u8> {
        let key = CellKey::from_secret(&[1; 32]);
        let mut w = SealedWriter::new(&key, label, Vec::new()).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn opened(bytes: &[u8], label: &str) -> io::Result<Vec<u8>> {
        let key = CellKey::from_secret(&[1; 32]);
        let mut out = Vec::new();
        SealedReader::new(&key, label, bytes).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn cut_reordered_or_moved_streams_do_not_open() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let s = sealed(&data, "comparison:C1/result");
        assert_eq!(opened(&s, "comparison:C1/result").unwrap(), data);
        assert!(opened(&s, "comparison:C2/result").is_err(), "another file");
        // Cut after the first frame: not read as a short file.
        let first = 4 + u32::from_le_bytes(s[..4].try_into().unwrap()) as usize;
        assert!(opened(&s[..first], "comparison:C1/result").is_err());
        let mut flipped = s.clone();
        flipped[first + 10] ^= 1;
        assert!(opened(&flipped, "comparison:C1/result").is_err());
        // A sealed stream does not show what it holds.
        let id = b"370202199003070011";
        let s = sealed(id, "x");
        assert!(!s.windows(id.len()).any(|w| w == id));
        assert_eq!(opened(&sealed(b"", "x"), "x").unwrap(), b"");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn any_bytes_round_trip(data in proptest::collection::vec(any::<u8>(), 0..200_000)) {
            prop_assert_eq!(opened(&sealed(&data, "l"), "l").unwrap(), data);
        }
    }
}
