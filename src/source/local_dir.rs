//! A local directory: copied entry by entry through the [`TreeWriter`], so the same link rule
//! and limits apply as for archives, by the same walk as `attune-pack checksum DIR`.

use std::fs::File;
use std::path::Path;

use crate::context::{blocking, Context};
use crate::error::{Error, Result};
use crate::fs::walk::{walk, Visit};
use crate::model::events::{Event, Phase};
use crate::model::receipt::SourceKind;
use crate::safety::TreeWriter;
use crate::source::{local_record, Fetched};

/// Materializes the directory at `path` through `writer`.
pub(crate) async fn materialize(ctx: &Context, path: &Path, writer: TreeWriter) -> Result<Fetched> {
    ctx.emit(Event::Phase(Phase::Extracting));
    let (path, record) = local_record(path, SourceKind::LocalDirectory)?;
    let tree = blocking(move || {
        let mut writer = writer;
        copy_dir(&path, &mut writer)?;
        writer.finish()
    })
    .await?;
    Ok(Fetched {
        tree,
        archive: Vec::new(),
        record,
        validators: Default::default(),
    })
}

/// Copies `src` entry by entry through `writer` (the one directory walk, see `walk`).
pub fn copy_dir(src: &Path, writer: &mut TreeWriter) -> Result<()> {
    walk(src, writer)
}

impl Visit for TreeWriter {
    fn dir(&mut self, name: &str) -> Result<()> {
        TreeWriter::dir(self, name)
    }
    fn file(&mut self, name: &str, mode: u32, file: &mut File) -> Result<()> {
        TreeWriter::file(self, name, mode, file)
    }
    fn symlink(&mut self, name: &str, target: &str) -> Result<()> {
        TreeWriter::symlink(self, name, target)
    }
    fn special(&mut self, name: &str, kind: &'static str) -> Result<()> {
        TreeWriter::special(self, name, kind)
    }
    fn not_utf8(&self, name: &str) -> Error {
        TreeWriter::not_utf8(self, name)
    }
}
