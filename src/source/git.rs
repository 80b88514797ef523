//! Git repositories, read with gix: no `git` program runs, no hook and no filter (checkout
//! filters such as LFS or `core.autocrlf` are never applied: the pack is the committed bytes).
//!
//! A remote repository is fetched into a bare repository inside staging (`staging/repo`), and
//! the wanted commit's tree is then read from that object database and written through the
//! [`TreeWriter`], like every other source: the same link rule, `.git` exclusion, limits and
//! per-file digests. gix never writes a work tree. A local repository (a `file://` URL or a
//! path) is opened in place, because gix's file transport would spawn `git upload-pack`.
//!
//! What is fetched: without a ref, the default branch at depth 1; a branch or tag, that ref at
//! depth 1; a full commit id, that commit at depth 1 when the server serves unadvertised
//! commits, else every branch and tag in full; an abbreviated id, every branch and tag in full,
//! then the prefix is resolved locally (ambiguous or unknown: "commit … not found").
//!
//! Hermetic: the user's and the system's git configuration are ignored, and credentials are
//! never asked for (no prompt, no askpass, no credential helper): a server that wants them
//! fails the install. Credentials in the URL are used and redacted from all output.
//!
//! Transports:
//! - https, and http with `allow_http`: gix's reqwest transport (rustls). The network policy
//!   reaches it as far as its transport honours it: `timeout` becomes the connect timeout and
//!   the per-read timeout (seconds without progress); the trust roots are the archive
//!   downloads' (the system's, built-in Mozilla roots when it has none, `ca_file`;
//!   `SSL_CERT_FILE` names the system's); proxies come from `HTTPS_PROXY`/`HTTP_PROXY`/
//!   `NO_PROXY` (reqwest reads them); an index's headers are sent when the repository is on
//!   that index's origin; `limits.max_download_bytes` stops the fetch once the pack data
//!   received passes it. Not honoured: redirects once extra headers are configured (gix
//!   refuses to follow them). gix also refuses to send URL credentials over plain http.
//! - `git://`: a plain TCP connection, integrity resting on `--checksum` as for `file://`.
//! - ssh (`git@host:path`, `ssh://`): the one part of attune-pack that runs an external
//!   program, the system `ssh` client (`ssh -o BatchMode=yes`, so it never prompts), with the
//!   user's ssh configuration, keys and agent.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gix::bstr::ByteSlice;
use gix::object::tree::EntryKind;
use gix::progress::{Id, MessageLevel, Step, StepShared, Unit};
use gix::protocol::transport::client::blocking_io::http;
use gix::ObjectId;

use crate::context::{blocking, Context};
use crate::error::{Error, IoContext, Result};
use crate::model::events::{Event, Phase};
use crate::model::receipt::{ReceiptSource, SourceKind};
use crate::net::{address_not_allowed, Guard, IndexTrust, NetRules};
use crate::safety::{Reserved, Rule, TreeWriter};
use crate::source::writers::write_reserved;
use crate::source::Fetched;
use crate::util::redact::redact_url;

/// Materializes the repository at `url` (at `git_ref`, else its default branch) into
/// `writer`'s tree, using `staging` for the fetched objects. Also the entry point for an
/// http(s) URL that turned out not to be an archive (rule 5 of the reference, with `git_ref: None` and
/// a fresh writer).
pub(crate) async fn materialize(
    ctx: &Context,
    url: &str,
    git_ref: Option<&str>,
    writer: TreeWriter,
    staging: &Path,
) -> Result<Fetched> {
    // The archive downloads' roots, loaded once; other transports have no TLS.
    let roots = match crate::source::is_http(url) {
        true => Some(ctx.http().await?.roots().to_vec()),
        false => None,
    };
    let trust = IndexTrust::from_config(ctx.config());
    let headers = trust
        .headers_for(url)
        .into_iter()
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    let policy = ctx.policy();
    let fetch = GitFetch {
        url: url.to_owned(),
        git_ref: git_ref.map(str::to_owned),
        guard: Guard::new(policy.addresses.clone()),
        policy,
        index_hosts: trust.hosts,
        headers,
        roots,
        ctx: ctx.clone(),
        max_download_bytes: ctx.config().limits.max_download_bytes,
        limit_exceeded: AtomicBool::new(false),
    };
    let repo_dir = staging.join("repo");
    let (tree, checkout) = blocking(move || {
        let mut writer = writer;
        let checkout = fetch.run(&repo_dir, &mut writer)?;
        Ok((writer.finish()?, checkout))
    })
    .await?;
    for w in checkout.warnings {
        ctx.warn(w);
    }
    Ok(Fetched {
        tree,
        archive: Vec::new(),
        record: ReceiptSource {
            kind: Some(SourceKind::Git),
            url: Some(redact_url(url)),
            git_ref: git_ref.map(str::to_owned),
            commit: Some(checkout.commit.to_string()),
            ..Default::default()
        },
        validators: Default::default(),
    })
}

/// One git install: where from, what, and under which network policy.
struct GitFetch {
    url: String,
    git_ref: Option<String>,
    policy: NetRules,
    /// The address rule in gix's HTTP client; it remembers what it refused.
    guard: Guard,
    /// Hosts of the configured indices, trusted even when `allowed_source_hosts` is set.
    index_hosts: Vec<String>,
    /// Headers of the indices on the repository's origin (`Name: value`).
    headers: Vec<String>,
    /// Trust roots for https; `Some` exactly for http(s) URLs.
    roots: Option<Vec<reqwest::Certificate>>,
    /// Events and the interrupt flag.
    ctx: Context,
    /// `limits.max_download_bytes`, checked against the pack bytes gix reports.
    max_download_bytes: u64,
    /// Set when a fetch was stopped for passing `max_download_bytes`.
    limit_exceeded: AtomicBool,
}

/// What was written: the commit, and what the caller should warn about.
struct Checkout {
    commit: ObjectId,
    warnings: Vec<String>,
}

/// What to fetch from a remote.
enum Want {
    DefaultBranch,
    Ref(String),
    Commit(ObjectId),
    /// An abbreviated commit id (or a ref name made of hex digits).
    Prefix(String),
}

impl GitFetch {
    fn run(&self, repo_dir: &Path, writer: &mut TreeWriter) -> Result<Checkout> {
        let url = gix::url::parse(self.url.as_bytes().as_bstr())
            .map_err(|e| self.invalid("invalid git URL", &e))?;
        let (mut repo, commit) = if url.scheme == gix::url::Scheme::File {
            let path = gix::path::from_bstring(url.path.clone())
                .map_err(|e| self.invalid("invalid git path", &e))?;
            self.open_local(&path)?
        } else {
            self.check_policy(&url)?;
            self.ctx.emit(Event::Phase(Phase::Fetching));
            self.fetch_remote(repo_dir)?
        };
        self.ctx.emit(Event::Phase(Phase::Extracting));
        bound_pack_cache(&mut repo);
        let mut warnings = Vec::new();
        let tree = repo
            .find_commit(commit)
            .and_then(|c| c.tree_id())
            .map_err(|e| self.git_error(&format!("reading commit {commit}"), e))?;
        let mut blobs = Vec::new();
        self.walk_tree(&repo, tree.detach(), "", writer, &mut blobs, &mut warnings)?;
        self.write_blobs(&repo, blobs, writer)?;
        drop(repo);
        if repo_dir.exists() {
            std::fs::remove_dir_all(repo_dir).ctx(|| format!("removing {}", repo_dir.display()))?;
        }
        Ok(Checkout { commit, warnings })
    }

    fn shown_url(&self) -> String {
        redact_url(&self.url)
    }

    /// A URL gix cannot read: its error quotes the input, so it is scrubbed.
    fn invalid(&self, what: &str, e: &dyn std::fmt::Display) -> Error {
        Error::Usage(format!(
            "{what} {}: {}",
            self.shown_url(),
            crate::util::redact::scrub(&e.to_string(), &self.url)
        ))
    }

    /// `http(s)` goes through the network policy here and its addresses through the guard in
    /// gix's client; `git://` and ssh through the host list and their resolved addresses
    /// (their integrity rests on checksums, so plain transports need no flag).
    fn check_policy(&self, url: &gix::Url) -> Result<()> {
        if self.policy.offline {
            return Err(Error::Offline {
                what: format!("the git repository {}", self.shown_url()),
            });
        }
        match url.scheme {
            gix::url::Scheme::Http | gix::url::Scheme::Https => {
                self.policy.check_url(&self.url, &self.index_hosts)
            }
            _ => {
                let host = url.host().unwrap_or_default();
                self.policy.check_host(host, &self.url, &self.index_hosts)?;
                if url.scheme == gix::url::Scheme::File {
                    return Ok(());
                }
                let port = url.port.unwrap_or(match url.scheme {
                    gix::url::Scheme::Ssh => 22,
                    _ => 9418,
                });
                self.policy.check_resolved(host, port)
            }
        }
    }

    fn want(&self) -> Result<Want> {
        let Some(r) = self.git_ref.as_deref() else {
            return Ok(Want::DefaultBranch);
        };
        if !is_commit_id(r) {
            Ok(Want::Ref(r.to_owned()))
        } else if r.len() == 40 {
            let id = ObjectId::from_hex(r.as_bytes())
                .map_err(|e| Error::Usage(format!("`{r}` is not a valid commit id: {e}")))?;
            Ok(Want::Commit(id))
        } else {
            Ok(Want::Prefix(r.to_ascii_lowercase()))
        }
    }

    /// A repository on this machine, read in place: no transport, nothing copied but the tree.
    fn open_local(&self, path: &Path) -> Result<(gix::Repository, ObjectId)> {
        if !path.exists() {
            return Err(Error::NotFound(format!(
                "{}: no such repository `{}`",
                self.shown_url(),
                path.display()
            )));
        }
        let repo = gix::open_opts(path, gix::open::Options::isolated())
            .map_err(|e| self.git_error("opening the repository", e))?;
        let commit = match self.git_ref.as_deref() {
            None => repo
                .head_commit()
                .map(|c| c.id)
                .map_err(|e| self.git_error("reading HEAD (is the repository empty?)", e))?,
            Some(r) => resolve(&repo, r).map_err(|e| self.unresolved(r, "in the repository", e))?,
        };
        Ok((repo, commit))
    }

    fn fetch_remote(&self, dir: &Path) -> Result<(gix::Repository, ObjectId)> {
        let want = self.want()?;
        let (shallow, name, revision) = match &want {
            Want::DefaultBranch => (true, None, None),
            Want::Ref(r) => (true, Some(r.as_str()), None),
            Want::Commit(id) => (true, None, Some(*id)),
            Want::Prefix(_) => (false, None, None),
        };
        let first = self.clone_into(dir, shallow, name, revision);
        let (repo, need) = match (first, &want) {
            (Ok(repo), Want::Prefix(p)) => (repo, Some(p.clone())),
            (Ok(repo), _) => (repo, None),
            (Err(_), Want::Commit(id)) => {
                self.stopped()?;
                // The server may refuse an unadvertised commit (or not have it): fetch every
                // branch and tag, then look for it, so an unknown id gets a clear error.
                if dir.exists() {
                    std::fs::remove_dir_all(dir).ctx(|| format!("removing {}", dir.display()))?;
                }
                let repo = self
                    .clone_into(dir, false, None, None)
                    .map_err(|e| self.fetch_error(e))?;
                (repo, Some(id.to_string()))
            }
            (Err(e), _) => return Err(self.fetch_error(e)),
        };
        self.ctx.interrupt().check()?;
        let commit = match need {
            Some(spec) => {
                resolve(&repo, &spec).map_err(|e| self.unresolved(&spec, "on the remote", e))?
            }
            None => repo.head_commit().map(|c| c.id).map_err(|e| {
                self.git_error("reading the fetched HEAD (is the repository empty?)", e)
            })?,
        };
        Ok((repo, commit))
    }

    fn unresolved(&self, spec: &str, place: &'static str, why: Unresolved) -> Error {
        let candidates = match why {
            Unresolved::NotFound => Vec::new(),
            Unresolved::Ambiguous(ids) => ids.iter().map(ToString::to_string).collect(),
            Unresolved::Git(e) => return self.git_error(&format!("resolving `{spec}` {place}"), e),
        };
        Error::CommitNotFound {
            url: self.shown_url(),
            spec: spec.to_owned(),
            place,
            candidates,
        }
    }

    /// Why a fetch was stopped on purpose, if it was: the download limit or an interrupt.
    fn stopped(&self) -> Result<()> {
        if self.limit_exceeded.load(Ordering::Relaxed) {
            return Err(Error::UnsafeArchive {
                origin: self.shown_url(),
                entry: "(git pack)".into(),
                rule: Rule::DownloadTooLarge(self.max_download_bytes),
            });
        }
        self.ctx.interrupt().check()
    }

    fn fetch_error(&self, e: gix::Error) -> Error {
        if let Err(stopped) = self.stopped() {
            return stopped;
        }
        if let Some(refusal) = self.guard.last_refusal() {
            return address_not_allowed(&refusal);
        }
        let what = match self.git_ref.as_deref() {
            Some(r) => format!("fetching `{r}`"),
            None => "fetching the default branch".to_owned(),
        };
        self.git_error(&what, e)
    }

    /// Fetches into a new bare repository at `dir`: `name` (a branch or tag) or `revision` (a
    /// full commit id), else the default branch; only the tips when `shallow`.
    fn clone_into(
        &self,
        dir: &Path,
        shallow: bool,
        name: Option<&str>,
        revision: Option<ObjectId>,
    ) -> gix::Result<gix::Repository> {
        let http = self.http_settings();
        let mut prepare = gix::clone::PrepareFetch::new(
            self.url.as_str(),
            dir,
            gix::create::Kind::Bare,
            gix::create::Options::default(),
            gix::open::Options::isolated(),
        )?
        .with_in_memory_config_overrides([
            "core.sshCommand=ssh -o BatchMode=yes",
            "ssh.variant=ssh",
        ])
        .configure_connection(move |c| {
            c.set_credentials(|_| Ok(None));
            if let Some(http) = &http {
                c.set_transport_options(Box::new(http.options()));
            }
            Ok(())
        });
        if shallow {
            prepare =
                prepare.with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(NonZeroU32::MIN));
        }
        if let Some(name) = name {
            prepare = prepare.with_ref_name(Some(name))?;
        }
        if let Some(id) = revision {
            prepare = prepare.with_revision(Some(id.to_string()))?;
        }
        // gix stops when this flag is set: by the caller's interrupt (copied in by a watcher,
        // so a stalled transfer stops too) or by the download limit (seen in the progress).
        let guard = Arc::new(FetchGuard {
            stop: AtomicBool::new(false),
            over_limit: AtomicBool::new(false),
            limit: self.max_download_bytes,
        });
        let progress = Progress::root(self.ctx.clone(), guard.clone());
        // The watcher waits on a channel rather than sleeping, so that the end of the fetch
        // (the sender dropped) wakes it at once: the scope waits for it before returning.
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let stop = &guard.stop;
        let result = std::thread::scope(|scope| {
            scope.spawn(move || {
                while let Err(RecvTimeoutError::Timeout) =
                    finished.recv_timeout(Duration::from_millis(50))
                {
                    if self.ctx.interrupt().is_triggered() {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            });
            let result = prepare.fetch_only(progress, stop);
            drop(done);
            result
        });
        if guard.over_limit.load(Ordering::Relaxed) {
            self.limit_exceeded.store(true, Ordering::Relaxed);
        }
        let (repo, _) = result?;
        Ok(repo)
    }

    /// What gix's HTTP transport gets of the network policy; `None` for other transports.
    fn http_settings(&self) -> Option<HttpSettings> {
        Some(HttpSettings {
            guard: self.guard.clone(),
            timeout: self.policy.timeout,
            roots: self.roots.clone()?,
            headers: self.headers.clone(),
        })
    }

    /// Passes every entry of the tree `id` (at `prefix`) through the writer's checks, depth
    /// first in git's order: directories are made, links recorded, and regular files
    /// reserved in `blobs`, to be written by [`GitFetch::write_blobs`].
    fn walk_tree(
        &self,
        repo: &gix::Repository,
        id: ObjectId,
        prefix: &str,
        writer: &mut TreeWriter,
        blobs: &mut Vec<BlobJob>,
        warnings: &mut Vec<String>,
    ) -> Result<()> {
        let tree = repo
            .find_tree(id)
            .map_err(|e| self.git_error(&format!("reading tree `{prefix}`"), e))?;
        for entry in tree.iter() {
            let entry =
                entry.map_err(|e| self.git_error(&format!("reading tree `{prefix}`"), e))?;
            let path = match entry.filename().to_str() {
                Ok(name) if matches!(name, "" | "." | "..") || name.contains('/') => {
                    return Err(writer.refuse(&format!("{prefix}{name}"), Rule::TreeEntryName))
                }
                Ok(name) => format!("{prefix}{name}"),
                Err(_) => return Err(writer.not_utf8(&format!("{prefix}{}", entry.filename()))),
            };
            let oid = entry.oid().to_owned();
            match entry.kind() {
                EntryKind::Tree => {
                    writer.dir(&path)?;
                    self.walk_tree(repo, oid, &format!("{path}/"), writer, blobs, warnings)?;
                }
                EntryKind::Blob | EntryKind::BlobExecutable => {
                    let mode = if entry.kind() == EntryKind::BlobExecutable {
                        0o755
                    } else {
                        0o644
                    };
                    match writer.reserve_file(&path, mode)? {
                        Some(reserved) => blobs.push(BlobJob {
                            oid,
                            path,
                            reserved,
                        }),
                        // Not installed (`.git/…`): its bytes still count toward the limit.
                        None => {
                            let len = self.read_blob(repo, oid, &path)?.data.len();
                            writer.count_unpacked(&path, len as u64)?;
                        }
                    }
                }
                EntryKind::Link => {
                    let blob = self.read_blob(repo, oid, &path)?;
                    let target =
                        std::str::from_utf8(&blob.data).map_err(|_| writer.not_utf8(&path))?;
                    writer.symlink(&path, target)?;
                }
                EntryKind::Commit => warnings.push(format!(
                    "submodule `{path}` ({oid}) is skipped: submodules are not fetched"
                )),
            }
        }
        Ok(())
    }

    /// Writes the reserved blobs on several threads, each reading through a repository handle
    /// (and delta-base cache) of its own: decoding the blobs is most of a checkout's work.
    fn write_blobs(
        &self,
        repo: &gix::Repository,
        blobs: Vec<BlobJob>,
        writer: &mut TreeWriter,
    ) -> Result<()> {
        write_reserved(
            writer,
            blobs,
            || repo.clone(),
            |repo, job, sink, buf| {
                let blob = self.read_blob(repo, job.oid, &job.path)?;
                sink.write(job.reserved, &job.path, &mut blob.data.as_slice(), buf)
            },
        )
    }

    fn read_blob<'r>(
        &self,
        repo: &'r gix::Repository,
        oid: ObjectId,
        path: &str,
    ) -> Result<gix::Blob<'r>> {
        repo.find_blob(oid)
            .map_err(|e| self.git_error(&format!("reading `{path}`"), e))
    }

    /// A git error with gix's whole cause chain in the message, credentials redacted. The
    /// gix error is kept as the source only when the URL carries no credentials, since gix's
    /// messages may quote the URL in full.
    fn git_error(&self, context: &str, e: gix::Error) -> Error {
        let mut chain = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            let text = c.to_string();
            if !chain.contains(&text) {
                chain.push_str(": ");
                chain.push_str(&text);
            }
            cause = c.source();
        }
        let message = format!(
            "{context}: {}",
            crate::util::redact::scrub(&chain, &self.url)
        );
        Error::Git {
            url: self.shown_url(),
            message,
            source: crate::util::redact::userinfo(&self.url)
                .is_none()
                .then(|| Box::new(e) as _),
        }
    }
}

/// A blob of the tree, checked and reserved, waiting to be written.
struct BlobJob {
    oid: ObjectId,
    path: String,
    reserved: Reserved,
}

/// Memory for the delta bases kept while the tree is read, per repository handle (one per
/// writing thread, each handle's clone makes its own): with them a blob's delta chain is not
/// decoded again for every blob built on it (the pack is ordered so that neighbours share
/// bases), and the cap keeps memory flat whatever the pack's size (gix's default is 96 MiB).
const PACK_CACHE_BYTES: usize = 8 << 20;

fn bound_pack_cache(repo: &mut gix::Repository) {
    repo.objects.set_pack_cache(|| {
        Box::new(gix::odb::pack::cache::lru::StaticLinkedList::<64>::new(
            PACK_CACHE_BYTES,
        ))
    });
}

/// Why a ref or commit id named no commit.
pub(crate) enum Unresolved {
    NotFound,
    Ambiguous(Vec<ObjectId>),
    Git(gix::Error),
}

impl From<gix::Error> for Unresolved {
    fn from(e: gix::Error) -> Self {
        Unresolved::Git(e)
    }
}

/// A full (40 hex digits) or abbreviated (at least 4) commit id, as git reads one.
fn is_commit_id(s: &str) -> bool {
    (4..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A ref name (as git reads a short name: tags, then branches, …) or a full or abbreviated
/// commit id, peeled to a commit. An abbreviation is resolved among commits only, as
/// `git rev-parse ID^{commit}` does, and must match exactly one.
pub(crate) fn resolve(repo: &gix::Repository, spec: &str) -> Result<ObjectId, Unresolved> {
    if let Ok(Some(mut reference)) = repo.try_find_reference(spec) {
        return Ok(reference.peel_to_commit()?.id);
    }
    if !is_commit_id(spec) {
        return Err(Unresolved::NotFound);
    }
    let prefix = gix::hash::Prefix::from_hex(spec).map_err(|_| Unresolved::NotFound)?;
    let mut candidates = std::collections::HashSet::new();
    repo.objects.lookup_prefix(prefix, Some(&mut candidates))?;
    let mut commits: Vec<ObjectId> = candidates
        .into_iter()
        .filter(|id| {
            repo.find_header(*id)
                .is_ok_and(|h| h.kind() == gix::object::Kind::Commit)
        })
        .collect();
    commits.sort();
    match commits.len() {
        0 => Err(Unresolved::NotFound),
        1 => Ok(commits[0]),
        _ => Err(Unresolved::Ambiguous(commits)),
    }
}

/// The network policy in the form gix's HTTP transport takes it.
#[derive(Clone)]
struct HttpSettings {
    guard: Guard,
    timeout: Duration,
    roots: Vec<reqwest::Certificate>,
    headers: Vec<String>,
}

impl HttpSettings {
    fn options(&self) -> http::Options {
        let settings = self.clone();
        let backend = http::reqwest::Options {
            configure_client: Some(Box::new(move |builder| {
                // reqwest's blocking `timeout` applies per read of the body (and to the wait
                // for response headers), so it bounds time without progress, not the total.
                Ok(builder
                    .dns_resolver(Arc::new(settings.guard.clone()))
                    .connector_layer(settings.guard.clone())
                    .connect_timeout(settings.timeout)
                    .timeout(settings.timeout)
                    .tls_certs_only(settings.roots.clone()))
            })),
            configure_request: None,
        };
        http::Options {
            extra_headers: self.headers.clone(),
            backend: Some(Arc::new(Mutex::new(backend))),
            ..Default::default()
        }
    }
}

/// gix progress → [`Event::Objects`] and [`Event::Bytes`], at most every 100 ms per kind.
struct Progress {
    id: Id,
    name: String,
    max: Option<Step>,
    step: StepShared,
    shared: Arc<Shared>,
}

/// Stops a fetch: `stop` is the flag gix polls.
struct FetchGuard {
    stop: AtomicBool,
    over_limit: AtomicBool,
    limit: u64,
}

struct Shared {
    ctx: Context,
    guard: Arc<FetchGuard>,
    start: Instant,
    /// Milliseconds since `start` of the last event sent, per kind (objects, bytes): one
    /// kind's frequent updates must not hold back the other's.
    last_ms: [AtomicU64; 2],
    /// Pack bytes read so far, shown with every objects event: a fetch that takes less
    /// than the throttle's interval would otherwise end showing its first read.
    bytes: AtomicU64,
}

/// gix-pack's ids for "objects indexed" and "pack bytes read".
const OBJECTS: Id = *b"IWIO";
const PACK_BYTES: Id = *b"BWRB";

impl Progress {
    fn root(ctx: Context, guard: Arc<FetchGuard>) -> Self {
        Progress {
            id: gix::progress::UNKNOWN,
            name: String::new(),
            max: None,
            step: Arc::new(AtomicUsize::new(0)),
            shared: Arc::new(Shared {
                ctx,
                guard,
                start: Instant::now(),
                last_ms: [AtomicU64::new(0), AtomicU64::new(0)],
                bytes: AtomicU64::new(0),
            }),
        }
    }

    fn child(&self, name: String, id: Id) -> Self {
        Progress {
            id,
            name,
            max: None,
            step: Arc::new(AtomicUsize::new(0)),
            shared: self.shared.clone(),
        }
    }

    fn report(&self) {
        if self.id != OBJECTS && self.id != PACK_BYTES {
            return;
        }
        let done = self.step.load(Ordering::Relaxed);
        let guard = &self.shared.guard;
        if self.id == PACK_BYTES {
            self.shared.bytes.store(done as u64, Ordering::Relaxed);
            if done as u64 > guard.limit {
                guard.over_limit.store(true, Ordering::Relaxed);
                guard.stop.store(true, Ordering::Relaxed);
            }
        }
        let now = self.shared.start.elapsed().as_millis() as u64;
        let last = &self.shared.last_ms[usize::from(self.id == PACK_BYTES)];
        if Some(done) != self.max && now.saturating_sub(last.load(Ordering::Relaxed)) < 100 {
            return;
        }
        last.store(now, Ordering::Relaxed);
        let (done, total) = (done as u64, self.max.map(|m| m as u64));
        if self.id == OBJECTS {
            let bytes = self.shared.bytes.load(Ordering::Relaxed);
            let ctx = &self.shared.ctx;
            ctx.emit(Event::Bytes {
                done: bytes,
                total: None,
            });
            ctx.emit(Event::Objects { done, total });
        } else {
            self.shared.ctx.emit(Event::Bytes { done, total });
        }
    }
}

impl gix::progress::Count for Progress {
    fn set(&self, step: Step) {
        self.step.store(step, Ordering::Relaxed);
        self.report();
    }
    fn step(&self) -> Step {
        self.step.load(Ordering::Relaxed)
    }
    fn inc_by(&self, step: Step) {
        self.step.fetch_add(step, Ordering::Relaxed);
        self.report();
    }
    fn counter(&self) -> StepShared {
        self.step.clone()
    }
}

impl gix::progress::Progress for Progress {
    fn init(&mut self, max: Option<Step>, _unit: Option<Unit>) {
        self.max = max;
        self.step.store(0, Ordering::Relaxed);
    }
    fn set_max(&mut self, max: Option<Step>) -> Option<Step> {
        std::mem::replace(&mut self.max, max)
    }
    fn max(&self) -> Option<Step> {
        self.max
    }
    fn set_name(&mut self, name: String) {
        self.name = name;
    }
    fn name(&self) -> Option<String> {
        Some(self.name.clone())
    }
    fn id(&self) -> Id {
        self.id
    }
    fn message(&self, _level: MessageLevel, _message: String) {}
}

impl gix::progress::NestedProgress for Progress {
    type SubProgress = Progress;
    fn add_child(&mut self, name: impl Into<String>) -> Self::SubProgress {
        self.child(name.into(), gix::progress::UNKNOWN)
    }
    fn add_child_with_id(&mut self, name: impl Into<String>, id: Id) -> Self::SubProgress {
        self.child(name.into(), id)
    }
}
