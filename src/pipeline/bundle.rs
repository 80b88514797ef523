//! `bundle create`, `bundle list`, `bundle verify`: packs carried across an air gap in one
//! file (the format is [`crate::records::bundle_file`]'s). Creating one runs each pack through the
//! install pipeline's fetch and validation (checksums, identity, path safety) with its
//! archive bytes kept; a git or directory pack becomes a deterministic .tar.gz of its tree.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::context::{blocking, Context};
use crate::error::{Error, IoContext, Result};
pub use crate::integrity::signature::PasswordFn;
use crate::integrity::signature::{SigningKey, TrustedKeys};
use crate::model::checksum::{Algorithm, Checksum};
use crate::model::receipt::{ReceiptSource, SourceKind};
use crate::pack::locate::{locate_in, Subdir};
use crate::pack::manifest::Manifest;
use crate::publish::{build_entry, Publish};
use crate::records::bundle_file::{self, BundleManifest, BundleParts, BundledPack, PACKS_DIR};
use crate::records::lockfile::Lockfile;
use crate::records::oci_artifact::{self, write_tree_tar_gz, PackTree};
use crate::records::oci_layout::{self, layout_name, LayoutPack};
use crate::registry::Registry;
use crate::safety::TreeWriter;
use crate::source::archive::{extract_file, ArchiveFormat};
use crate::source::PackSource;
use crate::store::Workspace;
use crate::util::interrupt::Interrupt;

use super::locked::{compare, locked_source};
use super::options::InstallOptions;
use super::plan::{self, upsert, Step};

/// What `bundle create` puts in a bundle, set with builder methods.
///
/// ```
/// use attune_pack::{BundleOptions, DetectOptions, PackSource};
/// let slack = PackSource::detect("slack@^2", &DetectOptions::new()).unwrap();
/// let opts = BundleOptions::new().pack(slack).with_deps();
/// # let _ = opts;
/// ```
#[derive(Default)]
pub struct BundleOptions {
    sources: Vec<PackSource>,
    with_deps: bool,
    all_installed: bool,
    lockfile: Option<Lockfile>,
    sign_key: Option<(PathBuf, Option<PasswordFn>)>,
    format: BundleFormat,
}

/// What `bundle create` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BundleFormat {
    /// One bundle file (`--format tar`, the default).
    #[default]
    Tar,
    /// An OCI image layout directory (`--format oci-layout`), for `skopeo copy` into a
    /// registry and `install oci-layout:DIR`.
    OciLayout,
}

impl BundleOptions {
    /// An empty bundle request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bundle this pack (a registry reference, or any other source).
    pub fn pack(mut self, source: PackSource) -> Self {
        self.sources.push(source);
        self
    }

    /// Also bundle the packs' dependencies, resolved from the registries as
    /// `install --with-deps` resolves them.
    pub fn with_deps(mut self) -> Self {
        self.with_deps = true;
        self
    }

    /// Bundle every installed pack at its installed build.
    pub fn all_installed(mut self) -> Self {
        self.all_installed = true;
        self
    }

    /// Bundle the packs of a lockfile at their locked builds.
    pub fn lockfile(mut self, lock: Lockfile) -> Self {
        self.lockfile = Some(lock);
        self
    }

    /// Sign `index.json` with this minisign secret key; `password` is asked only when the
    /// key is encrypted (without one, an encrypted key is a usage error).
    pub fn sign_key(mut self, key: impl Into<PathBuf>, password: Option<PasswordFn>) -> Self {
        self.sign_key = Some((key.into(), password));
        self
    }

    /// Writes `format` instead of a bundle file.
    pub fn format(mut self, format: BundleFormat) -> Self {
        self.format = format;
        self
    }

    fn is_empty(&self) -> bool {
        self.sources.is_empty() && !self.all_installed && self.lockfile.is_none()
    }
}

/// What `bundle create` wrote.
#[derive(Debug, Clone)]
pub struct BundleReport {
    /// The bundle file.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: BundleManifest,
    /// The bundle timestamp (Unix seconds).
    pub timestamp: u64,
    /// The id of the key that signed it (hex, as minisign prints it).
    pub signed_by: Option<String>,
}

/// What `bundle verify` found: everything checked.
#[derive(Debug, Clone)]
pub struct BundleVerified {
    /// The bundle's manifest.
    pub manifest: BundleManifest,
    /// The bundle timestamp (Unix seconds).
    pub timestamp: u64,
    /// The key whose signature verified, when keys were given.
    pub signed_by: Option<String>,
    /// Whether the bundle carries a signature (checked only when keys were given).
    pub signed: bool,
}

/// A pack ready to be bundled: its step, and its file once made.
struct Prepared {
    step: Step,
    origin: ReceiptSource,
}

/// `bundle create`: every pack fetched and validated, then one bundle written atomically.
pub(crate) async fn create(
    ctx: &Context,
    workspace: &Arc<Workspace>,
    output: &Path,
    mut opts: BundleOptions,
) -> Result<BundleReport> {
    if opts.is_empty() {
        return Err(Error::Usage(
            "bundle create: name packs to bundle, or give --all-installed or --from-lock".into(),
        ));
    }
    let key = match opts.sign_key.take() {
        Some((path, password)) => Some(blocking(move || load_key(&path, password)).await?),
        None => None,
    };
    if opts.format == BundleFormat::OciLayout && key.is_some() {
        return Err(Error::Usage(
            "--sign-key applies to bundle files; an OCI layout's packs are checked by their digests".into(),
        ));
    }
    let (prepared, last_updated) = prepare_all(ctx, workspace, &opts).await?;
    if opts.format == BundleFormat::OciLayout {
        let output = output.to_owned();
        return blocking(move || write_layout(&output, &prepared)).await;
    }
    let timestamp = timestamp(last_updated)?;
    let (ctx2, output2) = (ctx.clone(), output.to_owned());
    blocking(move || {
        let written = write_bundle(&ctx2, &output2, &prepared, key.as_ref(), timestamp);
        drop(prepared);
        written
    })
    .await
}

fn load_key(path: &Path, password: Option<PasswordFn>) -> Result<SigningKey> {
    SigningKey::open(path, password, "--sign-key").map_err(|e| Error::Usage(e.0))
}

/// Every pack asked for, fetched and validated, each ref and version once; with the newest
/// `last_updated` of the indices used.
async fn prepare_all(
    ctx: &Context,
    workspace: &Arc<Workspace>,
    opts: &BundleOptions,
) -> Result<(Vec<Prepared>, Option<u64>)> {
    let registry = Registry::new(ctx);
    let install = InstallOptions {
        force: true,
        with_deps: opts.with_deps,
        keep_archive: true,
        ..InstallOptions::default()
    };
    let mut planned = Vec::new();
    let mut steps = Vec::new();
    for source in &opts.sources {
        let prepared = plan::prepare(
            ctx,
            workspace,
            &registry,
            source.clone(),
            &install,
            planned.clone(),
        );
        for step in prepared.await.map_err(Error::from)? {
            let receipt = super::commit::receipt(
                workspace,
                &step.validated,
                Default::default(),
                Default::default(),
            );
            upsert(&mut planned, &receipt);
            steps.push(step);
        }
    }
    let mut locked = opts.lockfile.clone();
    if opts.all_installed {
        let ws = workspace.clone();
        let receipts = blocking(move || ws.receipts()).await?;
        let sourced: Vec<_> = receipts
            .into_iter()
            .filter(|r| r.source.kind.is_some())
            .collect();
        let mut lock = locked.take().unwrap_or_else(|| Lockfile::of(&[]));
        lock.packs.extend(Lockfile::of(&sourced).packs);
        locked = Some(lock);
    }
    for pack in locked.iter().flat_map(|l| &l.packs) {
        let source = locked_source(ctx, workspace, pack).await?;
        let mut opts = InstallOptions {
            subdir: super::origin::subdir_of(&pack.source),
            ..install.clone()
        };
        opts.with_deps = false;
        if matches!(
            pack.source.kind,
            Some(SourceKind::Archive | SourceKind::LocalArchive)
        ) {
            opts.checksum = pack.checksum.archive.clone();
        }
        let prepared = plan::prepare(ctx, workspace, &registry, source, &opts, Vec::new());
        let step = prepared.await.map_err(Error::from)?.pop();
        let step = step.ok_or_else(|| Error::Internal("an empty plan".into()))?;
        compare(pack, &step)?;
        steps.push(step);
    }
    Ok((dedup(steps), registry.newest_last_updated()))
}

/// Each ref and version once (the first); the concrete origin of each.
fn dedup(steps: Vec<Step>) -> Vec<Prepared> {
    let mut out: Vec<Prepared> = Vec::new();
    for step in steps {
        let m = &step.validated.manifest;
        let seen = out.iter().any(|p| {
            let n = &p.step.validated.manifest;
            (&n.pack_ref, &n.version) == (&m.pack_ref, &m.version)
        });
        if !seen {
            let origin = concrete(&step.validated.staged.fetched.record);
            out.push(Prepared { step, origin });
        }
    }
    out
}

/// The kind the bytes came from: a registry record says which index, and its URL which kind.
fn concrete(record: &ReceiptSource) -> ReceiptSource {
    let mut origin = record.clone();
    if origin.kind == Some(SourceKind::Registry) {
        let url = origin.url.clone().unwrap_or_default();
        origin.kind = Some(match (&origin.commit, url.strip_prefix("file://")) {
            (Some(_), _) => SourceKind::Git,
            (None, Some(path)) => {
                origin.path = Some(path.to_owned());
                origin.url = None;
                SourceKind::LocalArchive
            }
            (None, None) => SourceKind::Archive,
        });
    }
    origin
}

/// `SOURCE_DATE_EPOCH` when set; else the newest `last_updated` of the indices the packs
/// were resolved in (the same registry state gives the same bundle); else now.
fn timestamp(last_updated: Option<u64>) -> Result<u64> {
    if let Ok(s) = std::env::var("SOURCE_DATE_EPOCH") {
        return s.trim().parse().map_err(|_| {
            Error::Usage(format!(
                "SOURCE_DATE_EPOCH `{s}` is not a number of seconds"
            ))
        });
    }
    if let Some(t) = last_updated {
        return Ok(t);
    }
    Ok(crate::model::receipt::now().unix_timestamp().max(0) as u64)
}

/// The pack files, the index, the signature, then the bundle. Runs on the blocking pool.
fn write_bundle(
    ctx: &Context,
    output: &Path,
    prepared: &[Prepared],
    key: Option<&SigningKey>,
    timestamp: u64,
) -> Result<BundleReport> {
    let mut entries = Vec::new();
    let mut files = Vec::new();
    for p in prepared {
        ctx.interrupt().check()?;
        let (name, path) = pack_file(&p.step, timestamp)?;
        let entry = index_entry(ctx, p, &name, &path)?;
        let m = &p.step.validated.manifest;
        entries.push(((m.pack_ref.clone(), m.version.clone()), entry));
        files.push((name, path));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let doc = json!({
        "registry_name": "bundle",
        "registry_url": "",
        "version": "1.0",
        "last_updated": bundle_file::rfc3339(timestamp),
        "packs": entries.into_iter().map(|(_, e)| e).collect::<Vec<Value>>(),
    });
    let mut index_json =
        serde_json::to_vec_pretty(&doc).map_err(|e| Error::Internal(e.to_string()))?;
    index_json.push(b'\n');
    let signature = key.map(|k| {
        k.sign(
            &index_json,
            &format!("timestamp:{timestamp}\tfile:{}", bundle_file::INDEX),
        )
        .into_bytes()
    });
    let parts = BundleParts {
        index_json,
        signature,
        files,
    };
    bundle_file::write(output, &parts)?;
    let (manifest, _) = bundle_file::manifest_of(&parts.index_json, parts.signature.as_deref())
        .map_err(Error::Internal)?;
    Ok(BundleReport {
        path: output.to_owned(),
        manifest,
        timestamp,
        signed_by: key.map(|k| k.id().to_string()),
    })
}

/// The packs as an OCI image layout at `output`, each named `REF_TAG`. Runs on the blocking
/// pool.
fn write_layout(output: &Path, prepared: &[Prepared]) -> Result<BundleReport> {
    let mut built = Vec::new();
    for p in prepared {
        let v = &p.step.validated;
        let yaml_path = v.located.dir.join("pack.yaml");
        let yaml = Manifest::read_text(&yaml_path, &yaml_path.display().to_string())?;
        let layer = v.staged.staging.path().join("layer.tar.gz");
        let artifact =
            oci_artifact::build(pack_tree(&p.step), &yaml, &v.manifest, &v.content, &layer)?;
        built.push((artifact, layer));
    }
    let packs: Vec<LayoutPack> = built
        .iter()
        .zip(prepared)
        .map(|((artifact, layer), p)| LayoutPack {
            name: layout_name(&p.step.validated.manifest.pack_ref, &artifact.tag),
            artifact,
            layer_file: layer,
        })
        .collect();
    oci_layout::write(output, &packs)?;
    let index =
        std::fs::read(output.join("index.json")).ctx(|| "reading the layout's index.json")?;
    let bundled = built
        .iter()
        .zip(prepared)
        .map(|((artifact, _), p)| BundledPack {
            pack_ref: p.step.validated.manifest.pack_ref.clone(),
            version: p.step.validated.manifest.version.clone(),
            file: format!(
                "blobs/sha256/{}",
                &artifact.manifest_digest["sha256:".len()..]
            ),
            origin: p.origin.clone(),
            archive: artifact
                .layer
                .digest
                .parse()
                .unwrap_or_else(|_| p.step.validated.content.clone()),
            content: p.step.validated.content.clone(),
            subdir: None,
        });
    Ok(BundleReport {
        path: output.to_owned(),
        manifest: BundleManifest {
            format: 1,
            index: Checksum {
                algorithm: Algorithm::Sha256,
                digest: crate::integrity::hashing::sha256_bytes(&index).to_vec(),
            },
            signature: None,
            packs: bundled.collect(),
        },
        timestamp: oci_artifact::artifact_time(),
        signed_by: None,
    })
}

/// The pack root's files, relative to it.
fn pack_tree(step: &Step) -> PackTree<'_> {
    let v = &step.validated;
    PackTree {
        dir: &v.located.dir,
        entries: v.staged.fetched.tree.digest.entries_under(&v.located.rel),
    }
}

/// The pack's file in the bundle (`REF-VERSION.EXT`) and where its bytes are: the archive as
/// fetched, or a deterministic .tar.gz of the staged pack tree.
fn pack_file(step: &Step, timestamp: u64) -> Result<(String, PathBuf)> {
    let v = &step.validated;
    let stem = format!("{}-{}", v.manifest.pack_ref, v.manifest.version).replace('+', "_");
    if let Some(kept) = &v.staged.kept {
        let mut head = Vec::new();
        File::open(kept)
            .and_then(|f| f.take(512).read_to_end(&mut head))
            .ctx(|| format!("reading {}", kept.display()))?;
        let ext = ArchiveFormat::sniff(&head)
            .ok_or_else(|| Error::Internal("a kept archive of no known format".into()))?
            .extension();
        return Ok((format!("{stem}.{ext}"), kept.clone()));
    }
    let path = v.staged.staging.path().join("bundled.tar.gz");
    tree_tar_gz(step, &path, timestamp)?;
    Ok((format!("{stem}.tar.gz"), path))
}

/// The pack root as a tar.gz whose bytes depend on its content and `timestamp` only (the
/// layer of an OCI artifact is written the same way).
fn tree_tar_gz(step: &Step, to: &Path, timestamp: u64) -> Result<()> {
    let tree = pack_tree(step);
    let file = File::create(to).ctx(|| format!("creating {}", to.display()))?;
    write_tree_tar_gz(&tree, BufWriter::new(file), timestamp)
        .and_then(|mut out| out.flush())
        .map_err(|e| Error::io(format!("writing {}", to.display()), e))
}

/// The pack's index entry, its one source the bundled file (with its origin and content
/// checksum as extra fields).
fn index_entry(ctx: &Context, p: &Prepared, name: &str, file: &Path) -> Result<Value> {
    let v = &p.step.validated;
    let publish = Publish {
        archive_url: Some(format!("{PACKS_DIR}{name}")),
        archive: Some(file.to_owned()),
        ..Publish::default()
    };
    // Its warnings (a pack.yaml without a license) are the author's business, said at install.
    let quiet = crate::model::events::ignore();
    let entry = build_entry(&v.located.dir, &publish, ctx.config().limits, &quiet)?;
    let mut entry = serde_json::to_value(entry).map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(Value::Object(source)) = entry.pointer_mut("/install_sources/0") {
        let origin = serde_json::to_value(&p.origin).map_err(|e| Error::Internal(e.to_string()))?;
        source.insert("origin".into(), origin);
        source.insert("content".into(), Value::String(v.content.to_string()));
    }
    Ok(entry)
}

/// `bundle list`: the bundle read and its structure and digests checked.
pub(crate) async fn list(path: &Path) -> Result<BundleManifest> {
    let path = path.to_owned();
    blocking(move || {
        let scratch = tempfile::tempdir().ctx(|| "creating a temporary directory")?;
        Ok(bundle_file::open(&path, scratch.path())?.manifest)
    })
    .await
}

/// `bundle verify`: structure, digests, each pack unpacked with the installer's rules and
/// its identity and content checksum compared, and the signature with `keys` (else the
/// config's `bundle_trusted_keys`).
pub(crate) async fn verify(ctx: &Context, path: &Path, keys: &[String]) -> Result<BundleVerified> {
    let keys = match keys.is_empty() {
        true => ctx.config().bundle_trusted_keys.clone(),
        false => keys.to_vec(),
    };
    let (ctx, path) = (ctx.clone(), path.to_owned());
    blocking(move || {
        let scratch = tempfile::tempdir().ctx(|| "creating a temporary directory")?;
        let opened = bundle_file::open(&path, scratch.path())?;
        for (i, pack) in opened.manifest.packs.iter().enumerate() {
            ctx.interrupt().check()?;
            check_pack(&ctx, &path, scratch.path(), i, pack)?;
        }
        let signed_by = check_signature(&ctx, &path, &opened, &keys)?;
        Ok(BundleVerified {
            signed: opened.signature.is_some(),
            manifest: opened.manifest,
            timestamp: opened.timestamp,
            signed_by,
        })
    })
    .await
}

/// One bundled pack unpacked into scratch with the installer's rules: its pack.yaml must be
/// the manifest's ref and version, its content checksum the manifest's.
fn check_pack(
    ctx: &Context,
    bundle: &Path,
    scratch: &Path,
    i: usize,
    pack: &BundledPack,
) -> Result<()> {
    let file = scratch.join("packs").join(&pack.file);
    let root = scratch.join(format!("unpacked-{i}"));
    std::fs::create_dir(&root).ctx(|| format!("creating {}", root.display()))?;
    let origin = format!("{}: {PACKS_DIR}{}", bundle.display(), pack.file);
    let mut writer = TreeWriter::new(
        &root,
        &origin,
        ctx.config().limits,
        Interrupt::new(),
        crate::fs::fsutil::Durability::NoSync,
    );
    extract_file(&file, &mut writer, &[])?;
    let tree = writer.finish()?;
    let subdir = pack
        .subdir
        .as_deref()
        .map(Subdir::parse)
        .transpose()
        .map_err(Error::Usage)?;
    let located = locate_in(&root, subdir.as_ref(), &origin)?;
    tree.check_links_within(&located.rel, &origin)?;
    let content = tree.digest.checksum_under(&located.rel);
    let tampered = |reason: String| Error::BundleTampered {
        path: bundle.display().to_string(),
        reason: format!("{PACKS_DIR}{}: {reason}", pack.file),
    };
    if content != pack.content {
        return Err(tampered(format!(
            "its content checksum is {content}, the manifest says {}",
            pack.content
        )));
    }
    let m = Manifest::load_as(&located.dir.join("pack.yaml"), &origin)?;
    if (&m.pack_ref, &m.version) != (&pack.pack_ref, &pack.version) {
        return Err(tampered(format!(
            "it holds {} {}, the manifest says {} {}",
            m.pack_ref, m.version, pack.pack_ref, pack.version
        )));
    }
    Ok(())
}

/// With keys, the signature must verify (its key id is returned); without, a signed bundle
/// is worth a warning that the signature was not checked.
fn check_signature(
    ctx: &Context,
    path: &Path,
    opened: &bundle_file::OpenedBundle,
    keys: &[String],
) -> Result<Option<String>> {
    let invalid = |reason: String| Error::SignatureInvalid {
        subject: format!("bundle {}", path.display()),
        reason,
    };
    if keys.is_empty() {
        if opened.signature.is_some() {
            ctx.warn(format!(
                "{} is signed, but no trusted key was given (--trusted-key or bundle_trusted_keys): the signature was not checked",
                path.display()
            ));
        }
        return Ok(None);
    }
    let trusted = TrustedKeys::load(keys, None)
        .map_err(|e| Error::Usage(format!("trusted keys: {}", e.0)))?;
    let Some(signature) = &opened.signature else {
        return Err(invalid(
            "the bundle is not signed, and trusted keys were given".into(),
        ));
    };
    let verified = trusted
        .verify(&opened.index_json, signature)
        .map_err(|e| invalid(e.0))?;
    Ok(Some(verified.key_id.to_string()))
}
