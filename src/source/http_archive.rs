//! Archive URLs: the body is extracted while it downloads, in one pass. tars, plain or
//! compressed, flow download → hash → decompress → untar into staging and are never written whole to disk; a zip
//! (whose central directory is at its end) is spooled into staging while hashed, then
//! extracted. The format is read from the first bytes, so `/archive/main` and
//! `download?id=` URLs work like `.tar.gz` ones.

use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::context::{blocking, Context};
use crate::error::{Error, IoContext, Result};
use crate::integrity::hashing::{is_limit_exceeded, HashingReader};
use crate::model::checksum::{Algorithm, Checksum};
use crate::model::events::{Event, Phase};
use crate::model::receipt::{ReceiptSource, SourceKind};
use crate::net::Response;
use crate::safety::{Tree, TreeWriter};
use crate::source::archive::{self, ArchiveFormat};
use crate::source::{git, Fetched, Validators};
use crate::util::interrupt::Interrupt;
use crate::util::redact::redact_url;

/// Enough of the body to tell the formats apart (a tar header is 512 bytes).
const SNIFF_BYTES: usize = 512;
/// Chunks in flight between the download and the extractor: enough to keep both busy,
/// little enough that memory stays flat however large the archive.
const CHANNEL_CHUNKS: usize = 16;
/// How often a stalled download looks at the interrupt flag.
const INTERRUPT_POLL: Duration = Duration::from_millis(100);
/// Progress events at most this often (in bytes), not once per network packet.
const PROGRESS_STEP: u64 = 256 * 1024;

/// What a web URL turned out to be.
pub(crate) enum Downloaded {
    Archive(Box<Fetched>),
    /// No archive: the first bytes are something else, or the server has nothing at the URL
    /// itself (a git server answers only below it, at `info/refs`). Holds the error to report
    /// if the URL is not a git repository either.
    NotAnArchive(Error),
}

/// Downloads the archive at `url` and extracts it through `writer` into the staging tree;
/// `staging` holds the zip spool. `algorithms` are hashed over the archive bytes; with
/// `keep`, the bytes are also written to that file as they pass (the zip spool is that file).
pub(crate) async fn materialize(
    ctx: &Context,
    url: &str,
    writer: TreeWriter,
    staging: &Path,
    algorithms: &[Algorithm],
    keep: Option<&Path>,
) -> Result<Downloaded> {
    ctx.emit(Event::Phase(Phase::Downloading));
    ctx.interrupt().check()?;
    let mut response = match ctx.http().await?.get(url, None).await {
        Ok(response) => response,
        Err(
            e @ Error::Network {
                status: Some(404), ..
            },
        ) => return Ok(Downloaded::NotAnArchive(e)),
        Err(e) => return Err(e),
    };
    let max = ctx.config().limits.max_download_bytes;
    if response.content_length().is_some_and(|n| n > max) {
        return Err(writer.download_limit_error("(the archive itself)"));
    }
    let mut download = Download {
        total: response.content_length(),
        done: 0,
        reported: 0,
        ctx,
    };

    let mut head = Vec::with_capacity(SNIFF_BYTES);
    while head.len() < SNIFF_BYTES {
        match download.next(&mut response).await? {
            Some(chunk) => head.extend_from_slice(&chunk),
            None => break,
        }
    }
    let Some(format) = ArchiveFormat::sniff(&head) else {
        return Ok(Downloaded::NotAnArchive(not_an_archive(url, &response)));
    };
    let validators = Validators {
        etag: response.header("etag").map(str::to_owned),
        last_modified: response.header("last-modified").map(str::to_owned),
    };
    let body = Body {
        response,
        head,
        format,
    };
    let (tree, archive) = extract_body(ctx, body, writer, staging, algorithms, keep).await?;
    Ok(Downloaded::Archive(Box::new(Fetched {
        tree,
        archive,
        record: ReceiptSource {
            kind: Some(SourceKind::Archive),
            url: Some(redact_url(url)),
            ..Default::default()
        },
        validators,
    })))
}

/// A response body known to be an archive of `format`; `head` holds its first bytes,
/// already read.
pub(crate) struct Body {
    pub response: Response,
    pub head: Vec<u8>,
    pub format: ArchiveFormat,
}

/// Extracts `body` while it downloads (see the module's header) and returns the tree and
/// the checksums of the archive bytes (`algorithms`).
pub(crate) async fn extract_body(
    ctx: &Context,
    body: Body,
    writer: TreeWriter,
    staging: &Path,
    algorithms: &[Algorithm],
    keep: Option<&Path>,
) -> Result<(Tree, Vec<Checksum>)> {
    let Body {
        mut response,
        head,
        format,
    } = body;
    // The announced length was checked by the caller (against the limit, or a manifest's
    // size); the limit is also counted as the bytes arrive.
    let max = ctx.config().limits.max_download_bytes;
    let download = Download {
        total: response.content_length(),
        done: head.len() as u64,
        reported: 0,
        ctx,
    };
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let spool = staging.to_owned();
    let algos = algorithms.to_vec();
    let keep = keep.map(Path::to_owned);
    let extract = blocking(move || {
        let reader = ChannelReader {
            rx,
            current: Bytes::new(),
            keep: None,
        };
        extract(format, reader, writer, &spool, &algos, max, keep.as_deref())
    });
    let feed = feed(tx, head, download, &mut response);
    let (fed, extracted) = tokio::join!(feed, extract);
    // A failed download explains the extractor's failure, not the other way round.
    fed?;
    extracted
}

/// Sends the body to the extractor, `head` (the bytes read to sniff the format) first.
/// `tx` is moved in, so it is dropped when the body ends: that is the extractor's EOF.
async fn feed(
    tx: mpsc::Sender<io::Result<Bytes>>,
    head: Vec<u8>,
    mut download: Download<'_>,
    response: &mut Response,
) -> Result<()> {
    let mut next = Some(Bytes::from(head));
    while let Some(chunk) = next {
        if tx.send(Ok(chunk)).await.is_err() {
            // The extractor stopped (and says why); reading on would be wasted.
            return Ok(());
        }
        let got = tokio::select! {
            got = download.next(response) => got,
            // The extractor stopped while the server was silent: no need to wait for it.
            _ = tx.closed() => return Ok(()),
        };
        next = match got {
            Ok(next) => next,
            Err(e) => {
                // Without this the extractor would see a clean end of a cut-off body.
                let _ = tx.send(Err(io::Error::other("download failed"))).await;
                return Err(e);
            }
        };
    }
    download.report_end();
    Ok(())
}

/// Rule 5 of the source detection rules: a web URL that is not named like an archive and served none may be a git
/// repository over smart HTTP (`https://host/org/repo`). `writer` must be fresh, on the
/// empty tree the archive attempt left.
pub(crate) async fn as_git_repository(
    ctx: &Context,
    url: &str,
    not_an_archive: Error,
    writer: TreeWriter,
    staging: &Path,
) -> Result<Fetched> {
    if ArchiveFormat::from_name(url).is_some() {
        return Err(not_an_archive);
    }
    ctx.emit(Event::Detected {
        source: redact_url(url),
        kind: "no archive there: trying it as a git repository over smart HTTP",
    });
    git::materialize(ctx, url, None, writer, staging)
        .await
        .map_err(|git| neither(not_an_archive, git))
}

/// The archive attempt's error, saying what git answered too, when git did not get far
/// enough for its own error to matter more (a refusal, an interrupt).
fn neither(not_an_archive: Error, git: Error) -> Error {
    if !git.is_fetch_failure() {
        return git;
    }
    Error::NeitherArchiveNorGit {
        archive: Box::new(not_an_archive),
        git: Box::new(git),
    }
}

/// Reads the body with progress events, stopping at an interrupt even when the server
/// sends nothing.
struct Download<'a> {
    total: Option<u64>,
    done: u64,
    reported: u64,
    ctx: &'a Context,
}

impl Download<'_> {
    async fn next(&mut self, response: &mut Response) -> Result<Option<Bytes>> {
        let chunk = next_chunk(response, self.ctx.interrupt()).await?;
        if let Some(c) = &chunk {
            self.done += c.len() as u64;
            if self.done - self.reported >= PROGRESS_STEP {
                self.report_end();
            }
        }
        Ok(chunk)
    }

    fn report_end(&mut self) {
        self.reported = self.done;
        self.ctx.emit(Event::Bytes {
            done: self.done,
            total: self.total,
        });
    }
}

async fn next_chunk(response: &mut Response, interrupt: &Interrupt) -> Result<Option<Bytes>> {
    loop {
        tokio::select! {
            chunk = response.chunk() => return chunk,
            _ = tokio::time::sleep(INTERRUPT_POLL) => interrupt.check()?,
        }
    }
}

fn not_an_archive(url: &str, response: &Response) -> Error {
    Error::NotAnArchive {
        url: redact_url(url),
        content_type: response.header("content-type").map(str::to_owned),
    }
}

/// Runs on the blocking pool: extracts the stream and returns the tree and the archive
/// checksums; with `keep`, the bytes are written to that file too.
fn extract(
    format: ArchiveFormat,
    mut reader: ChannelReader,
    mut writer: TreeWriter,
    spool_dir: &Path,
    algorithms: &[Algorithm],
    max: u64,
    keep: Option<&Path>,
) -> Result<(Tree, Vec<Checksum>)> {
    let create = |path: &Path| {
        std::fs::File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .ctx(|| format!("creating {}", path.display()))
    };
    let checksums = match format {
        ArchiveFormat::Tar(compression) => {
            reader.keep = keep.map(create).transpose()?;
            archive::extract_tar_stream(reader, &mut writer, algorithms, max, compression)?
                .checksums
        }
        ArchiveFormat::Zip => {
            let mut spool = match keep {
                Some(path) => create(path)?,
                None => tempfile::tempfile_in(spool_dir)
                    .ctx(|| format!("creating a spool file in {}", spool_dir.display()))?,
            };
            let checksums = spool_hashed(reader, &mut spool, algorithms, max, &writer)?;
            // Hashed while spooling; extraction need not hash again.
            crate::source::unzip::extract_zip(&spool, &mut writer, &[])?;
            checksums
        }
    };
    Ok((writer.finish()?, checksums))
}

/// Copies the stream into `spool`, hashing it on the way.
fn spool_hashed(
    reader: ChannelReader,
    spool: &mut std::fs::File,
    algorithms: &[Algorithm],
    max: u64,
    writer: &TreeWriter,
) -> Result<Vec<Checksum>> {
    let mut hashing = HashingReader::new(reader, algorithms, max);
    let mut out = BufWriter::new(spool);
    let copied = io::copy(&mut hashing, &mut out).and_then(|_| out.flush());
    if let Err(e) = copied {
        return Err(if is_limit_exceeded(&e) {
            writer.download_limit_error("(the archive itself)")
        } else {
            Error::io("spooling the zip download", e)
        });
    }
    let (checksums, _) = hashing.finish().ctx(|| "finishing the zip download")?;
    Ok(checksums)
}

/// The async download as a blocking `Read` for the extractors; every byte read is also
/// written to `keep`, when set.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    keep: Option<std::fs::File>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        if let Some(keep) = &mut self.keep {
            keep.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}
