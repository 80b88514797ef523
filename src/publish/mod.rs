//! The pack author's side: building an index entry from a pack (`index entry`), putting it
//! into an index file (`index update`) and combining index files (`index merge`). Entries
//! carry the same checksums the installer verifies, computed the same way.

use std::path::{Path, PathBuf};

use serde_norway::Value as Yaml;

use crate::config::Limits;
use crate::error::{Error, IoContext, Result};
use crate::fs::fsutil::Durability;
use crate::integrity::hashing::{directory_digest, ContentDigest, EntryKind};
use crate::model::checksum::{Algorithm, Checksum};
use crate::model::events::{Event, EventSink};
use crate::pack::locate::{locate, pack_dirs, Located};
use crate::pack::manifest::Manifest;
use crate::safety::{Tree, TreeWriter};
use crate::source::archive::extract_file;
use crate::util::interrupt::Interrupt;

use crate::registry::index::{ContentItem, Contents, Dependencies, InstallSource, PackEntry};

mod attune;
mod git_tree;
mod index_file;
mod push;
mod registry_login;
mod sign;

use git_tree::PublishedRef;

pub use index_file::{merge_indices, update_index, write_index, Conflicts, IndexHeader, Updated};
pub(crate) use push::push;
pub use push::{PushOptions, Pushed};
pub(crate) use registry_login::{login, logout};
pub use sign::{sign_index, SignedIndex};

pub use crate::registry::index::{
    ContentItem as IndexContentItem, Contents as IndexContents, Dependencies as IndexDependencies,
    InstallSource as IndexSource, PackEntry as IndexEntry,
};

/// Where the pack will be published (the `index entry` flags).
#[derive(Debug, Clone, Default)]
pub struct Publish {
    /// The git repository the pack is published in. Its checksum is the content checksum of
    /// the tree committed at `git_ref` when the pack is in a git work tree, else of the files.
    pub git_url: Option<String>,
    /// Default: the tag `v<version>`.
    pub git_ref: Option<String>,
    /// The URL the archive is published at.
    pub archive_url: Option<String>,
    /// The archive file published at `archive_url`; default: PACK_PATH when it is an archive.
    pub archive: Option<PathBuf>,
}

/// Builds the index entry of the pack at `pack_path` (a directory or an archive file).
pub fn build_entry(
    pack_path: &Path,
    publish: &Publish,
    limits: Limits,
    events: &EventSink,
) -> Result<PackEntry> {
    check_sources(publish)?;
    let meta = std::fs::metadata(pack_path)
        .map_err(|e| Error::NotFound(format!("{}: {e}", pack_path.display())))?;
    let unpacked = Unpacked::of(pack_path, meta.is_dir(), limits)?;
    let located = &unpacked.located;
    // Read once: the manifest, and the keys an index entry has beyond it.
    let yaml_origin = format!("{}: {}", pack_path.display(), located.rel_file("pack.yaml"));
    let yaml = Manifest::read_text(&located.dir.join("pack.yaml"), &yaml_origin)?;
    let manifest = Manifest::parse(&yaml, &yaml_origin)?;
    let raw: Yaml = serde_norway::from_str(&yaml).unwrap_or(Yaml::Null);
    let text = |key: &str| raw.get(key).and_then(yaml_text);

    let install_sources =
        install_sources(pack_path, publish, &manifest, &unpacked, limits, events)?;
    let dependencies = Dependencies {
        attune_version: manifest.attune_version.as_ref().map(ToString::to_string),
        python_version: text("python_versions").or_else(|| text("python")),
        nodejs_version: text("nodejs"),
        packs: manifest
            .dependencies
            .iter()
            .map(ToString::to_string)
            .collect(),
    };
    let (description, author, license) =
        required_metadata(&manifest, text("license"), &yaml_origin, events);
    Ok(PackEntry {
        label: manifest.label,
        description,
        version: manifest.version,
        author,
        license,
        email: manifest.email,
        homepage: text("homepage"),
        repository: text("repository"),
        keywords: manifest.keywords,
        runtime_deps: manifest.runtime_deps,
        install_sources,
        contents: read_contents(&located.dir, events),
        dependencies: (dependencies != Dependencies::default()).then_some(dependencies),
        meta: None,
        pack_ref: manifest.pack_ref,
    })
}

/// The description, author and license an entry must carry as strings (Attune refuses an
/// index with one missing): empty when pack.yaml does not say, with one warning naming them.
fn required_metadata(
    manifest: &Manifest,
    license: Option<String>,
    origin: &str,
    events: &EventSink,
) -> (String, String, String) {
    let fields = [
        ("description", manifest.description.clone()),
        ("author", manifest.author.clone()),
        ("license", license),
    ];
    let missing: Vec<&str> = fields
        .iter()
        .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
        .map(|(k, _)| *k)
        .collect();
    if !missing.is_empty() {
        events(&Event::Warning(format!(
            "{origin} has no {}; written as {} in the index entry (set {} in pack.yaml)",
            missing.join(", "),
            if missing.len() == 1 {
                "an empty string"
            } else {
                "empty strings"
            },
            if missing.len() == 1 { "it" } else { "them" }
        )));
    }
    let [(_, d), (_, a), (_, l)] = fields;
    (
        d.unwrap_or_default(),
        a.unwrap_or_default(),
        l.unwrap_or_default(),
    )
}

/// An entry needs a source, and an archive file needs the URL it is published at.
fn check_sources(publish: &Publish) -> Result<()> {
    if publish.git_url.is_none() && publish.archive_url.is_none() {
        return Err(Error::Usage(
            "an index entry needs at least one install source: a git URL or an archive URL".into(),
        ));
    }
    if publish.archive.is_some() && publish.archive_url.is_none() {
        return Err(Error::Usage(
            "an archive file is given without the URL it is published at".into(),
        ));
    }
    Ok(())
}

/// The pack as an install would see it: its root, its content checksum and, for an archive,
/// the sha256 of its bytes.
struct Unpacked {
    located: Located,
    content: Checksum,
    /// The pack's files, relative to its root.
    entries: Vec<(String, EntryKind)>,
    archive_sha256: Option<Checksum>,
    /// A directory's per-file digests, compared with a committed tree's.
    work: Option<ContentDigest>,
    /// An archive's unpacked tree, removed when dropped.
    _tree: Option<tempfile::TempDir>,
}

impl Unpacked {
    /// A directory is read where it is; an archive is unpacked (with the installer's safety
    /// rules) so the content checksum is the one an install of it would compute.
    fn of(pack_path: &Path, is_dir: bool, limits: Limits) -> Result<Unpacked> {
        let origin = pack_path.display().to_string();
        if is_dir {
            let located = locate(pack_path, &origin)?;
            let work = directory_digest(&located.dir)?;
            return Ok(Unpacked {
                located,
                content: work.checksum_under(""),
                entries: work.entries_under(""),
                archive_sha256: None,
                work: Some(work),
                _tree: None,
            });
        }
        let (tree, written, archive_sha256) = unpack(pack_path, limits)?;
        let located = locate(tree.path(), &origin)?;
        written.check_links_within(&located.rel, &origin)?;
        Ok(Unpacked {
            content: written.digest.checksum_under(&located.rel),
            entries: written.digest.entries_under(&located.rel),
            located,
            archive_sha256,
            work: None,
            _tree: Some(tree),
        })
    }
}

/// An archive unpacked into a temporary directory with the installer's safety rules: the
/// directory, what was written, and the sha256 of the archive's bytes (read once).
fn unpack(file: &Path, limits: Limits) -> Result<(tempfile::TempDir, Tree, Option<Checksum>)> {
    if !file.is_file() {
        return Err(Error::NotFound(format!(
            "archive {}: no such file",
            file.display()
        )));
    }
    let tree = tempfile::tempdir().ctx(|| "creating a temporary directory")?;
    let origin = file.display().to_string();
    let mut writer = TreeWriter::new(
        tree.path(),
        &origin,
        limits,
        Interrupt::new(),
        Durability::NoSync,
    );
    let digest = extract_file(file, &mut writer, &[Algorithm::Sha256])?;
    let written = writer.finish()?;
    Ok((tree, written, digest.checksums.into_iter().next()))
}

/// An archive published beside a pack directory: the sha256 of its bytes and, when it holds
/// the pack in a subdirectory (an archive of a repository of many), that directory, so an
/// install of the entry finds it. An archive without this pack (its ref and version) is
/// refused: every install of the entry would fail.
fn published_archive(
    file: &Path,
    manifest: &Manifest,
    limits: Limits,
) -> Result<(Checksum, Option<String>)> {
    let (tree, _, sha256) = unpack(file, limits)?;
    let sha256 = sha256.ok_or_else(|| Error::Internal("the archive was not hashed".into()))?;
    let origin = file.display().to_string();
    let root = locate(tree.path(), &origin).ok().map(|l| l.rel);
    let dirs = pack_dirs(tree.path());
    for dir in root.iter().chain(&dirs) {
        let yaml = tree.path().join(dir).join("pack.yaml");
        let Ok(found) = Manifest::load_as(&yaml, &format!("{origin}: {dir}/pack.yaml")) else {
            continue;
        };
        if (&found.pack_ref, &found.version) == (&manifest.pack_ref, &manifest.version) {
            let located_as_is = root.as_ref() == Some(dir);
            return Ok((sha256, (!located_as_is).then(|| dir.clone())));
        }
    }
    Err(Error::NotFound(format!(
        "archive {origin} holds no pack `{}` {} (pack.yaml found in: {})",
        manifest.pack_ref,
        manifest.version,
        match dirs.is_empty() {
            true => "none".to_owned(),
            false => dirs
                .iter()
                .map(|d| if d.is_empty() { "." } else { d.as_str() })
                .collect::<Vec<_>>()
                .join(", "),
        }
    )))
}

/// The entry's sources: git (its checksum: the content checksum of what the ref holds) and
/// archive (the archive file's bytes).
fn install_sources(
    pack_path: &Path,
    publish: &Publish,
    manifest: &Manifest,
    unpacked: &Unpacked,
    limits: Limits,
    events: &EventSink,
) -> Result<Vec<InstallSource>> {
    let mut sources = Vec::new();
    if let Some(url) = &publish.git_url {
        let git_ref = publish
            .git_ref
            .clone()
            .unwrap_or_else(|| format!("v{}", manifest.version));
        let published = PublishedRef {
            name: &git_ref,
            given: publish.git_ref.is_some(),
        };
        let (checksum, subdir) = git_checksum(unpacked, published, events)?;
        sources.push(InstallSource::Git {
            url: url.clone(),
            git_ref: Some(git_ref),
            checksum: Some(checksum),
            subdir,
        });
    }
    if let Some(url) = &publish.archive_url {
        let file = match &publish.archive {
            Some(f) => f.as_path(),
            None if unpacked.archive_sha256.is_some() => pack_path,
            None => {
                return Err(Error::Usage(
                    "an archive URL needs the archive file published there when the pack is a directory, so that its checksum can be computed".into(),
                ))
            }
        };
        let (checksum, subdir) = match &unpacked.archive_sha256 {
            Some(sha256) if file == pack_path => (sha256.clone(), None),
            _ => published_archive(file, manifest, limits)?,
        };
        sources.push(InstallSource::Archive {
            url: url.clone(),
            checksum: Some(checksum),
            subdir,
        });
    }
    Ok(sources)
}

/// The git source's checksum and subdirectory: from the committed tree when the pack is a
/// directory in a git work tree, else from the files as they are (with a warning for a
/// directory, whose files may not be what the ref holds).
fn git_checksum(
    unpacked: &Unpacked,
    git_ref: PublishedRef<'_>,
    events: &EventSink,
) -> Result<(Checksum, Option<String>)> {
    let Some(work) = &unpacked.work else {
        return Ok((unpacked.content.clone(), None));
    };
    let dir = &unpacked.located.dir;
    match git_tree::committed(dir, git_ref, work)? {
        Some(c) => {
            c.warnings
                .into_iter()
                .for_each(|w| events(&Event::Warning(w)));
            Ok((c.checksum, c.subdir))
        }
        None => {
            events(&Event::Warning(format!(
                "{} is not in a git work tree: the git source's checksum is taken from the files as they are, which may not be what the ref holds",
                dir.display()
            )));
            Ok((unpacked.content.clone(), None))
        }
    }
}

/// Text of a scalar, or of a list of scalars joined by `, ` (`python_versions: ["3.9"]`).
fn yaml_text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::Sequence(items) => {
            let parts: Vec<String> = items.iter().filter_map(yaml_text).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        _ => crate::pack::manifest::scalar_text(v),
    }
}

/// The `contents` lists, from the YAML files of the pack's component directories (Attune
/// also keeps workflows under `actions/workflows/`).
fn read_contents(root: &Path, events: &EventSink) -> Contents {
    let items = |dirs: &[&str]| -> Vec<ContentItem> {
        let mut out: Vec<ContentItem> = dirs
            .iter()
            .flat_map(|d| yaml_files(&root.join(d)))
            .filter_map(|path| content_item(root, &path, events))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    };
    Contents {
        actions: items(&["actions"]),
        sensors: items(&["sensors"]),
        triggers: items(&["triggers"]),
        rules: items(&["rules"]),
        workflows: items(&["workflows", "actions/workflows"]),
    }
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml"))
        })
        .collect()
}

/// Name (`name`, else `ref`, else the file stem) and description of one component file.
fn content_item(root: &Path, path: &Path, events: &EventSink) -> Option<ContentItem> {
    let shown = path
        .strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string();
    let doc: Yaml = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_norway::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(doc) => doc,
        Err(e) => {
            events(&Event::Warning(format!(
                "{shown}: not readable YAML ({e}); left out of `contents`"
            )));
            return None;
        }
    };
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    let field = |k: &str| doc.get(k).and_then(yaml_text);
    Some(ContentItem {
        name: field("name").or_else(|| field("ref")).unwrap_or(stem),
        description: field("description").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that keeps the warnings.
    fn collecting() -> (EventSink, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let warnings = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = warnings.clone();
        let events: EventSink = std::sync::Arc::new(move |e: &Event| {
            if let Event::Warning(w) = e {
                sink.lock().unwrap().push(w.clone());
            }
        });
        (events, warnings)
    }

    fn pack(dir: &Path, version: &str) {
        std::fs::create_dir_all(dir.join("actions/workflows")).unwrap();
        std::fs::create_dir_all(dir.join("sensors")).unwrap();
        std::fs::write(
            dir.join("pack.yaml"),
            format!("ref: demo\nlabel: Demo\nversion: {version}\ndescription: A demo\nauthor: Me\nlicense: MIT\nkeywords: [x]\npython_versions: [\"3.11\"]\ndependencies: [\"core@^1\"]\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("actions/post.yaml"),
            "name: post\ndescription: Posts\n",
        )
        .unwrap();
        std::fs::write(dir.join("actions/post.sh"), "echo\n").unwrap();
        std::fs::write(dir.join("actions/workflows/flow.yaml"), "ref: demo.flow\n").unwrap();
        std::fs::write(dir.join("sensors/watch.yml"), "description: Watches\n").unwrap();
    }

    #[test]
    fn entry_from_a_directory_has_checksums_and_contents() {
        let tmp = tempfile::tempdir().unwrap();
        pack(tmp.path(), "1.2.0");
        // The archive published is of a repository holding the pack in a subdirectory.
        let archive = tmp.path().join("a.tar");
        let mut tar = tar::Builder::new(std::fs::File::create(&archive).unwrap());
        let yaml = b"ref: demo\nversion: 1.2.0\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(yaml.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "repo/packs/demo/pack.yaml", &yaml[..])
            .unwrap();
        tar.finish().unwrap();
        drop(tar);
        let publish = Publish {
            git_url: Some("https://g/demo.git".into()),
            archive_url: Some("https://h/demo.tgz".into()),
            archive: Some(archive.clone()),
            ..Default::default()
        };
        let (events, warnings) = collecting();
        let e = build_entry(tmp.path(), &publish, Limits::default(), &events).unwrap();
        let seen = warnings.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].contains("is not in a git work tree"), "{seen:?}");
        assert_eq!(e.pack_ref, "demo");
        assert_eq!(e.license, "MIT");
        let content = crate::integrity::hashing::directory_checksum(tmp.path()).unwrap();
        assert_eq!(
            e.install_sources[0],
            InstallSource::Git {
                url: "https://g/demo.git".into(),
                git_ref: Some("v1.2.0".into()),
                checksum: Some(content),
                subdir: None,
            }
        );
        assert_eq!(
            e.install_sources[1].checksum(),
            Some(&crate::integrity::hashing::file_checksum(&archive, Algorithm::Sha256).unwrap())
        );
        assert_eq!(e.install_sources[1].subdir(), Some("repo/packs/demo"));
        assert_eq!(e.contents.actions[0].name, "post");
        assert_eq!(e.contents.workflows[0].name, "demo.flow");
        assert_eq!(e.contents.sensors[0].name, "watch");
        assert_eq!(e.contents.sensors[0].description, "Watches");
        let d = e.dependencies.unwrap();
        assert_eq!(d.packs, ["core@^1"]);
        assert_eq!(d.python_version.as_deref(), Some("3.11"));
        let none = Publish::default();
        assert_eq!(
            build_entry(
                tmp.path(),
                &none,
                Limits::default(),
                &crate::model::events::ignore()
            )
            .unwrap_err()
            .exit_code(),
            2
        );
    }

    #[test]
    fn update_adds_then_replaces_and_merge_refuses_conflicts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("p");
        pack(&dir, "1.0.0");
        let publish = Publish {
            git_url: Some("https://g/demo.git".into()),
            ..Default::default()
        };
        let entry = build_entry(
            &dir,
            &publish,
            Limits::default(),
            &crate::model::events::ignore(),
        )
        .unwrap();
        let a = tmp.path().join("a.json");
        let header = IndexHeader {
            registry_name: Some("Demo".into()),
            registry_url: Some("https://demo".into()),
        };
        assert_eq!(
            update_index(&a, &entry, &header, &crate::model::events::ignore()).unwrap(),
            Updated::Added
        );
        assert_eq!(
            update_index(&a, &entry, &header, &crate::model::events::ignore()).unwrap(),
            Updated::Replaced
        );
        let mut changed = entry.clone();
        changed.description = "changed".into();
        let b = tmp.path().join("b.json");
        update_index(&b, &changed, &header, &crate::model::events::ignore()).unwrap();
        let mut v2 = entry.clone();
        v2.version = semver::Version::new(2, 0, 0);
        update_index(&b, &v2, &header, &crate::model::events::ignore()).unwrap();

        let inputs = [a.clone(), b.clone()];
        assert_eq!(
            merge_indices(
                &inputs,
                Conflicts::Refuse,
                &header,
                &crate::model::events::ignore()
            )
            .unwrap_err()
            .code(),
            "conflict"
        );
        let (events, warnings) = collecting();
        let merged = merge_indices(&inputs, Conflicts::LaterWins, &header, &events).unwrap();
        let packs = merged["packs"].as_array().unwrap();
        assert_eq!(packs.len(), 2);
        assert_eq!(packs[0]["description"], "changed");
        assert_eq!(warnings.lock().unwrap().len(), 1);
        let same = merge_indices(
            &[a.clone(), a],
            Conflicts::Refuse,
            &header,
            &crate::model::events::ignore(),
        )
        .unwrap();
        assert_eq!(same["packs"].as_array().unwrap().len(), 1);
    }
}
