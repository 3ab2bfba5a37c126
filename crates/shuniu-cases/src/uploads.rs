//! The applicant's uploaded materials (only what no licence or lookup can replace): each file
//! checked for its kind by its first bytes, sealed under the master key (SM4-GCM, under a
//! label naming the upload) and written atomically into the data directory's `uploads/`. The
//! form carries a reference (`upload:ID:SIZE:MIME:NAME`), never the file.
//!
//! Owns: the `uploads/` directory. Never decides who may read a file: the engine does.

use std::path::{Path, PathBuf};

use shuniu_types::FieldError;

use crate::error::{CasesError, internal};

/// The largest file an applicant may upload.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// The kinds accepted, by their signature: what a scanned or photographed material is.
const KINDS: [(&[u8], &str, &str); 4] = [
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    // OFD (GB/T 33190), the national layout format, is a ZIP container.
    (b"PK\x03\x04", "application/ofd", "ofd"),
];

/// An uploaded file as the form refers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRef {
    pub id: String,
    pub size: usize,
    pub mime: String,
    pub name: String,
}

impl UploadRef {
    pub fn parse(value: &str) -> Option<UploadRef> {
        let mut parts = value.strip_prefix("upload:")?.splitn(4, ':');
        let id = parts.next()?.to_string();
        let size = parts.next()?.parse().ok()?;
        let mime = parts.next()?.to_string();
        let name = parts.next()?.to_string();
        let id_ok = id.len() >= 10
            && id.len() <= 40
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        id_ok.then_some(UploadRef {
            id,
            size,
            mime,
            name,
        })
    }

    pub fn text(&self) -> String {
        format!(
            "upload:{}:{}:{}:{}",
            self.id, self.size, self.mime, self.name
        )
    }
}

#[derive(Clone)]
pub(crate) struct Uploads {
    dir: PathBuf,
}

fn label(id: &str) -> String {
    format!("case.upload:{id}")
}

/// A file name as shown back: no path, no control characters, at most 100 characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != ':')
        .take(100)
        .collect();
    if cleaned.trim().is_empty() {
        "upload".into()
    } else {
        cleaned
    }
}

impl Uploads {
    pub(crate) fn new(dir: &Path) -> Uploads {
        Uploads {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.sealed"))
    }

    /// Checks and keeps one file for the material `field` (`material:photo`, for the errors).
    pub(crate) async fn put(
        &self,
        keys: &shuniu_keys::MasterKey,
        id: String,
        field: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<UploadRef, CasesError> {
        let refuse = |code: &'static str, zh: String, en: String| {
            CasesError::Fields(vec![FieldError::new(field, code, zh, en)])
        };
        if bytes.is_empty() {
            return Err(refuse(
                "CASE_UPLOAD_EMPTY",
                "上传的文件是空的".into(),
                "the uploaded file is empty".into(),
            ));
        }
        if bytes.len() > MAX_UPLOAD_BYTES {
            return Err(refuse(
                "CASE_UPLOAD_TOO_LARGE",
                format!("文件超过 {} MB", MAX_UPLOAD_BYTES / 1024 / 1024),
                format!(
                    "the file is larger than {} MB",
                    MAX_UPLOAD_BYTES / 1024 / 1024
                ),
            ));
        }
        let Some((_, mime, _)) = KINDS.iter().find(|(sig, _, _)| bytes.starts_with(sig)) else {
            return Err(refuse(
                "CASE_UPLOAD_KIND",
                "只接受 PDF、OFD、JPEG 或 PNG 文件".into(),
                "only PDF, OFD, JPEG or PNG files are accepted".into(),
            ));
        };
        let sealed = keys.seal(&label(&id), bytes).map_err(internal)?;
        let path = self.path(&id);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            // Written whole or not at all: a crash leaves no half file under the name.
            shuniu_keys::write_private_atomically(&path, sealed.as_bytes())
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        Ok(UploadRef {
            id,
            size: bytes.len(),
            mime: mime.to_string(),
            name: clean_name(name),
        })
    }

    pub(crate) fn exists(&self, r: &UploadRef) -> bool {
        self.path(&r.id).is_file()
    }

    pub(crate) async fn get(
        &self,
        keys: &shuniu_keys::MasterKey,
        r: &UploadRef,
    ) -> Result<Vec<u8>, CasesError> {
        let path = self.path(&r.id);
        let text = tokio::fs::read_to_string(&path)
            .await
            .map_err(|_| CasesError::NotFound(format!("upload {}", r.id)))?;
        keys.unseal(&label(&r.id), &text).map_err(internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip_and_refuse_paths() {
        let r = UploadRef {
            id: "UPL20261207ABCDEF012345".into(),
            size: 42,
            mime: "image/png".into(),
            name: "新生儿照片: 正面.png".replace(':', ""),
        };
        assert_eq!(UploadRef::parse(&r.text()), Some(r));
        assert_eq!(UploadRef::parse("upload:../../etc:1:a:b"), None);
        assert_eq!(UploadRef::parse("photo.png"), None);
        assert_eq!(clean_name("C:\\Users\\a\\照片.jpg"), "照片.jpg");
        assert_eq!(clean_name("/tmp/\u{0}x"), "x");
    }

    #[tokio::test]
    async fn files_are_checked_sealed_and_read_back() {
        let dir = std::env::temp_dir().join(format!("shuniu-uploads-{}", std::process::id()));
        let up = Uploads::new(&dir);
        let keys = shuniu_keys::MasterKey::ephemeral().expect("key");
        let png = b"\x89PNG\r\n\x1a\nrest of the image";
        let r = up
            .put(
                &keys,
                "UPL0000000001".into(),
                "material:photo",
                "a.png",
                png,
            )
            .await
            .expect("stored");
        assert_eq!((r.mime.as_str(), r.size), ("image/png", png.len()));
        assert!(up.exists(&r));
        assert_eq!(up.get(&keys, &r).await.expect("read"), png);
        let on_disk = std::fs::read(dir.join("UPL0000000001.sealed")).expect("file");
        assert!(!on_disk.windows(4).any(|w| w == b"rest"), "sealed at rest");
        for (bytes, code) in [
            (&b""[..], "CASE_UPLOAD_EMPTY"),
            (&b"MZ\x90\x00 an executable"[..], "CASE_UPLOAD_KIND"),
        ] {
            match up
                .put(&keys, "UPL0000000002".into(), "material:photo", "x", bytes)
                .await
            {
                Err(CasesError::Fields(f)) => assert_eq!(f[0].code, code),
                other => panic!("{other:?}"),
            }
        }
        let big = [b"%PDF-".as_slice(), &vec![0u8; MAX_UPLOAD_BYTES]].concat();
        assert!(
            up.put(&keys, "UPL0000000003".into(), "f", "x.pdf", &big)
                .await
                .is_err()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
