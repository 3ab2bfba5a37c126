//! Durable file writes for the log's segments (the keys are sealed files of `shuniu-keys`).

use std::fs::File;
use std::path::Path;

pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
