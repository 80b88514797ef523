//! Archives (.zip; .tar, plain or compressed with gzip, xz, zstd or bzip2): format detection
//! and extraction through the [`TreeWriter`], hashing the archive bytes in the same pass that
//! extracts them.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use crate::context::{blocking, Context};
use crate::error::{Error, IoContext, Result, KNOWN_ARCHIVE_FORMATS};
use crate::integrity::hashing::HashingReader;
use crate::model::checksum::{Algorithm, Checksum};
use crate::model::events::{Event, Phase};
use crate::model::receipt::SourceKind;
use crate::safety::{Rule, TreeWriter, MAX_EXTENSION_BYTES};
pub use crate::source::decompress::Compression;
use crate::source::decompress::Decoder;
use crate::source::extract::{corrupt, stream_error, ArchiveDigest};
use crate::source::pipe::{self, PipeWriter, Pumped};
use crate::source::{local_record, Fetched};

/// An archive format attune-pack reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    Zip,
    /// A tar, plain or compressed.
    Tar(Compression),
}

impl ArchiveFormat {
    /// From the magic bytes at the start of the data (at least 262 bytes for plain tar).
    pub fn sniff(head: &[u8]) -> Option<ArchiveFormat> {
        if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            Some(ArchiveFormat::Zip)
        } else if let Some(compression) = Compression::sniff(head) {
            Some(ArchiveFormat::Tar(compression))
        } else if head.len() >= 262 && &head[257..262] == b"ustar" || is_v7_tar_header(head) {
            Some(ArchiveFormat::Tar(Compression::None))
        } else {
            None
        }
    }

    /// From a file name or URL path (`.zip`, `.tar`, `.tar.gz`/`.tgz`, `.tar.xz`/`.txz`,
    /// `.tar.zst`/`.tzst`, `.tar.bz2`/`.tbz2`); query strings ignored.
    pub fn from_name(name: &str) -> Option<ArchiveFormat> {
        let path = crate::source::url_path_or_name(name).to_ascii_lowercase();
        if path.ends_with(".zip") {
            Some(ArchiveFormat::Zip)
        } else {
            Compression::from_tar_suffix(&path).map(ArchiveFormat::Tar)
        }
    }

    /// The usual file-name suffix of the format (`zip`, `tar.gz`, …).
    pub fn extension(self) -> &'static str {
        match self {
            ArchiveFormat::Zip => "zip",
            ArchiveFormat::Tar(compression) => compression.tar_extension(),
        }
    }
}

/// A pre-POSIX tar header has no magic; its checksum field is the only way to tell.
fn is_v7_tar_header(head: &[u8]) -> bool {
    if head.len() < 512 {
        return false;
    }
    let field = &head[148..156];
    let text: String = field
        .iter()
        .take_while(|b| **b != 0 && **b != b' ')
        .map(|b| *b as char)
        .collect();
    let Ok(stored) = u32::from_str_radix(text.trim(), 8) else {
        return false;
    };
    let sum: u32 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                b' ' as u32
            } else {
                *b as u32
            }
        })
        .sum();
    sum == stored && head[0] != 0
}

/// Extracts a tar stream compressed with `compression` (decided by its first bytes) read once
/// from `reader`, hashing the raw bytes with `algorithms` as they pass. The stream is read to
/// its end, so the digest covers every byte. Reading, hashing and decompressing run on a
/// thread of their own, ahead of the entries' checks and writes on this one (see [`pipe`]).
pub fn extract_tar_stream<R: Read + Send>(
    reader: R,
    writer: &mut TreeWriter,
    algorithms: &[Algorithm],
    max_download_bytes: u64,
    compression: Compression,
) -> Result<ArchiveDigest> {
    let hashing = HashingReader::new(reader, algorithms, max_download_bytes);
    let buffered = BufReader::with_capacity(256 * 1024, hashing);
    let (unpacked, hashed) = std::thread::scope(|scope| {
        let (mut decoded, producer) =
            pipe::spawn(scope, move |out| decode(buffered, compression, out));
        let unpacked =
            unpack_tar(&mut decoded, writer).and_then(|()| drain_decoded(&mut decoded, writer));
        // A producer still sending stops at its next buffer.
        drop(decoded);
        (unpacked, producer.join())
    });
    unpacked?;
    let hashed =
        hashed.map_err(|_| Error::Internal("the archive reading thread panicked".into()))?;
    let checksums = hashed.map_err(|e| stream_error(writer, e, "reading the archive"))?;
    Ok(ArchiveDigest { checksums })
}

/// The producer's half of [`extract_tar_stream`]: decompresses into `out`, then reads what
/// follows the compressed stream, so the digest covers every byte.
fn decode<R: Read>(
    buffered: BufReader<HashingReader<R>>,
    compression: Compression,
    out: &mut PipeWriter,
) -> io::Result<Vec<Checksum>> {
    // Failing here closes the pipe at once: the consumer sees an empty tar, and the error
    // is reported from this thread's result.
    let mut decoder = Decoder::new(compression, buffered)?;
    let pumped = out.pump(&mut decoder);
    let hashing = decoder.into_inner().into_inner();
    if pumped != Pumped::Done {
        // The consumer has the error that stopped the stream (or stopped on one of its own).
        return Err(io::Error::other("the archive stream stopped early"));
    }
    Ok(hashing.finish()?.0)
}

/// Reads the decoded stream to its end after the tar end marker, so the compressed stream's
/// trailer (its CRC or checksum, and length) is checked; what is left counts against the unpacked limit.
fn drain_decoded<R: Read>(decoder: &mut R, writer: &TreeWriter) -> Result<()> {
    let limit = writer.limits().max_unpacked_bytes;
    let n = io::copy(&mut decoder.take(limit), &mut io::sink())
        .map_err(|e| stream_error(writer, e, "reading the end of the compressed stream"))?;
    if n == limit {
        return Err(writer.unpacked_limit_error("(data after the end of the tar archive)"));
    }
    Ok(())
}

fn unpack_tar<R: Read>(reader: R, writer: &mut TreeWriter) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    // Raw entries: the tar crate would read GNU long names and pax records into memory
    // whatever their size; [`Extensions`] caps them first.
    let entries = archive
        .entries()
        .map_err(|e| stream_error(writer, e, "reading tar entries"))?
        .raw(true);
    let mut extensions = Extensions::default();
    for entry in entries {
        let mut entry = entry.map_err(|e| stream_error(writer, e, "reading a tar header"))?;
        // Headers cost decompression too: a stream of empty records must not be free.
        writer.count_unpacked("(tar headers)", 512)?;
        let kind = entry.header().entry_type();
        use tar::EntryType as T;
        if matches!(
            kind,
            T::GNULongName | T::GNULongLink | T::XHeader | T::XGlobalHeader
        ) {
            extensions.read(kind, &mut entry, writer)?;
            continue;
        }
        let described = std::mem::take(&mut extensions);
        let name = utf8(described.name(&entry, writer)?, writer)?;
        let mode = entry.header().mode().unwrap_or(0o644);
        if !matches!(kind, T::Regular | T::Continuous) {
            // Data that only gets skipped still has to be decompressed.
            writer.count_unpacked(&name, entry.size())?;
        }
        match kind {
            T::Regular | T::Continuous => writer.file(&name, mode, &mut entry)?,
            T::Directory => writer.dir(&name)?,
            T::Symlink | T::Link => {
                let target = described
                    .link(&entry, writer)?
                    .map(|b| String::from_utf8(b.into_owned()))
                    .transpose()
                    .map_err(|_| writer.not_utf8(&name))?
                    .unwrap_or_default();
                if kind == T::Symlink {
                    writer.symlink(&name, &target)?
                } else {
                    writer.hardlink(&name, &target)?
                }
            }
            T::Char | T::Block => writer.special(&name, "device file")?,
            T::Fifo => writer.special(&name, "FIFO")?,
            T::GNUSparse => writer.special(&name, "sparse file")?,
            _ => writer.special(&name, "unknown tar entry type")?,
        }
    }
    if !extensions.is_empty() {
        return Err(corrupt(
            writer,
            "a long name or pax record with no entry after it",
        ));
    }
    Ok(())
}

fn utf8(bytes: Cow<'_, [u8]>, writer: &TreeWriter) -> Result<String> {
    String::from_utf8(bytes.into_owned())
        .map_err(|e| writer.not_utf8(&String::from_utf8_lossy(e.as_bytes())))
}

/// The GNU long name and link and the pax records that describe the next tar entry, read
/// with a size cap (the tar crate's own reading has none: a 1 GiB long name, a few MB
/// compressed, would be held in memory whole).
#[derive(Default)]
struct Extensions {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Pax>,
}

/// The pax keys that change what an entry is. The others (times, owners, xattrs, comments)
/// are never applied.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<Vec<u8>>,
}

impl Pax {
    /// Parses a pax record. Whatever tar readers could read differently is refused: a key
    /// given twice (some take the first, most the last), and a global record that sets a
    /// path, link or size (GNU tar applies it to every later entry, others ignore it).
    /// GNU's pax sparse files are refused like type `S` ones.
    fn parse(data: &[u8], global: bool, header: &str, writer: &TreeWriter) -> Result<Pax> {
        let mut pax = Pax::default();
        for record in tar::PaxExtensions::new(data) {
            let record = record.map_err(|_| corrupt(writer, "malformed pax record"))?;
            let key = record.key_bytes();
            if key.starts_with(b"GNU.sparse.") {
                return Err(writer.refuse(header, Rule::SpecialFile("sparse file")));
            }
            let slot = match key {
                b"path" => &mut pax.path,
                b"linkpath" => &mut pax.linkpath,
                b"size" => &mut pax.size,
                _ => continue,
            };
            if global {
                return Err(writer.refuse(
                    header,
                    Rule::Ambiguous("a global pax record sets a path, link or size".into()),
                ));
            }
            if slot.replace(record.value_bytes().to_vec()).is_some() {
                return Err(writer.refuse(
                    header,
                    Rule::Ambiguous("a pax record gives the same key twice".into()),
                ));
            }
        }
        Ok(pax)
    }
}

impl Extensions {
    fn is_empty(&self) -> bool {
        self.long_name.is_none() && self.long_link.is_none() && self.pax.is_none()
    }

    fn read<R: Read>(
        &mut self,
        kind: tar::EntryType,
        entry: &mut tar::Entry<'_, R>,
        writer: &mut TreeWriter,
    ) -> Result<()> {
        let size = entry.size();
        let header = header_name(entry);
        if size > MAX_EXTENSION_BYTES {
            return Err(writer.refuse(&header, Rule::ExtensionTooLarge(size)));
        }
        writer.count_unpacked(&header, size)?;
        let mut data = Vec::with_capacity(size as usize);
        entry
            .read_to_end(&mut data)
            .map_err(|e| stream_error(writer, e, "reading a tar extension record"))?;
        let taken = match kind {
            tar::EntryType::GNULongName => self.long_name.replace(data).is_some(),
            tar::EntryType::GNULongLink => self.long_link.replace(data).is_some(),
            tar::EntryType::XHeader => {
                let pax = Pax::parse(&data, false, &header, writer)?;
                self.pax.replace(pax).is_some()
            }
            _ => {
                Pax::parse(&data, true, &header, writer)?;
                false
            }
        };
        if taken {
            return Err(corrupt(
                writer,
                "two records of one kind describe the same entry",
            ));
        }
        Ok(())
    }

    fn pax(&self) -> &Pax {
        static NONE: Pax = Pax {
            path: None,
            linkpath: None,
            size: None,
        };
        self.pax.as_ref().unwrap_or(&NONE)
    }

    /// The entry's name: a pax `path`, else a GNU long name, else the header's. Both records
    /// naming different paths is refused: tar readers disagree on which one wins. A pax
    /// `size` must agree with the header, which is what raw entries read the data by.
    fn name<'a, R: Read>(
        &'a self,
        entry: &'a tar::Entry<'_, R>,
        writer: &TreeWriter,
    ) -> Result<Cow<'a, [u8]>> {
        if let Some(size) = &self.pax().size {
            let size = std::str::from_utf8(size)
                .ok()
                .and_then(|s| s.parse::<u64>().ok());
            if size.is_none() || size != entry.header().entry_size().ok() {
                return Err(ambiguous(
                    entry,
                    writer,
                    "its pax size record disagrees with its header's size (files over 8 GiB are not supported)",
                ));
            }
        }
        let long = self.long_name.as_deref().map(trim_nul);
        match (self.pax().path.as_deref(), long) {
            (Some(pax), Some(long)) if pax != long => Err(ambiguous(
                entry,
                writer,
                "a GNU long name and a pax path name it differently",
            )),
            (Some(name), _) | (None, Some(name)) => Ok(Cow::Borrowed(name)),
            (None, None) => Ok(entry.path_bytes()),
        }
    }

    /// The link target: a pax `linkpath`, else a GNU long link, else the header's; the two
    /// records disagreeing is refused like names.
    fn link<'a, R: Read>(
        &'a self,
        entry: &'a tar::Entry<'_, R>,
        writer: &TreeWriter,
    ) -> Result<Option<Cow<'a, [u8]>>> {
        let long = self.long_link.as_deref().map(trim_nul);
        match (self.pax().linkpath.as_deref(), long) {
            (Some(pax), Some(long)) if pax != long => Err(ambiguous(
                entry,
                writer,
                "a GNU long link and a pax linkpath give it different targets",
            )),
            (Some(target), _) | (None, Some(target)) => Ok(Some(Cow::Borrowed(target))),
            (None, None) => Ok(entry.link_name_bytes()),
        }
    }
}

/// Refuses an entry that tar readers would read differently (named by its header).
fn ambiguous<R: Read>(entry: &tar::Entry<'_, R>, writer: &TreeWriter, why: &'static str) -> Error {
    writer.refuse(&header_name(entry), Rule::Ambiguous(why.into()))
}

/// The name in an entry's own header (not the one its extension records give it).
fn header_name<R: Read>(entry: &tar::Entry<'_, R>) -> String {
    String::from_utf8_lossy(&entry.header().path_bytes()).into_owned()
}

/// GNU long names and links end with a NUL.
fn trim_nul(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(&[0]).unwrap_or(bytes)
}

/// Materializes the archive file at `path` through `writer`, hashing it with `algorithms`;
/// with `keep`, the file is first copied there and the copy is what is read.
pub(crate) async fn materialize(
    ctx: &Context,
    path: &Path,
    writer: TreeWriter,
    algorithms: &[Algorithm],
    keep: Option<&Path>,
) -> Result<Fetched> {
    ctx.emit(Event::Phase(Phase::Extracting));
    let (path, record) = local_record(path, SourceKind::LocalArchive)?;
    let algorithms = algorithms.to_vec();
    let keep = keep.map(Path::to_owned);
    let (tree, archive) = blocking(move || {
        let mut writer = writer;
        let read = match keep {
            Some(keep) => {
                std::fs::copy(&path, &keep)
                    .ctx(|| format!("copying {} to {}", path.display(), keep.display()))?;
                keep
            }
            None => path,
        };
        let digest = extract_file(&read, &mut writer, &algorithms)?;
        Ok((writer.finish()?, digest.checksums))
    })
    .await?;
    Ok(Fetched {
        tree,
        archive,
        record,
        validators: Default::default(),
    })
}

/// Extracts a local archive file, its format decided by its magic bytes (never its name).
pub fn extract_file(
    path: &Path,
    writer: &mut TreeWriter,
    algorithms: &[Algorithm],
) -> Result<ArchiveDigest> {
    let file = File::open(path).ctx(|| format!("opening {}", path.display()))?;
    let max = writer.limits().max_download_bytes;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max {
        return Err(writer.download_limit_error("(the archive itself)"));
    }
    let mut buffered = BufReader::with_capacity(64 * 1024, file);
    let head = buffered
        .fill_buf()
        .ctx(|| format!("reading {}", path.display()))?
        .to_vec();
    let head = if head.len() < 512 && len >= 512 {
        let mut more = vec![0u8; 512];
        let mut f = File::open(path).ctx(|| format!("opening {}", path.display()))?;
        f.read_exact(&mut more)
            .ctx(|| format!("reading {}", path.display()))?;
        more
    } else {
        head
    };
    match ArchiveFormat::sniff(&head) {
        Some(ArchiveFormat::Zip) => {
            crate::source::unzip::extract_zip(buffered.get_ref(), writer, algorithms)
        }
        Some(ArchiveFormat::Tar(compression)) => {
            extract_tar_stream(buffered, writer, algorithms, max, compression)
        }
        None => Err(Error::ArchiveCorrupt {
            archive: path.display().to_string(),
            message: format!("not {KNOWN_ARCHIVE_FORMATS} (unrecognised first bytes)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_formats_by_magic() {
        assert_eq!(
            ArchiveFormat::sniff(b"PK\x03\x04rest"),
            Some(ArchiveFormat::Zip)
        );
        assert_eq!(
            ArchiveFormat::sniff(&[0x1f, 0x8b, 8, 0]),
            Some(ArchiveFormat::Tar(Compression::Gzip))
        );
        assert_eq!(
            ArchiveFormat::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 4]),
            Some(ArchiveFormat::Tar(Compression::Zstd))
        );
        let mut tar = vec![0u8; 512];
        tar[..10].copy_from_slice(b"BZh9-notes");
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(
            ArchiveFormat::sniff(&tar),
            Some(ArchiveFormat::Tar(Compression::None))
        );
        assert_eq!(ArchiveFormat::sniff(b"<html>"), None);
    }

    #[test]
    fn formats_from_names_ignore_queries() {
        assert_eq!(
            ArchiveFormat::from_name("https://h/a.tar.gz?sig=x.zip"),
            Some(ArchiveFormat::Tar(Compression::Gzip))
        );
        assert_eq!(
            ArchiveFormat::from_name("https://h/a.TXZ"),
            Some(ArchiveFormat::Tar(Compression::Xz))
        );
        assert_eq!(ArchiveFormat::from_name("https://h/archive/main"), None);
    }
}
