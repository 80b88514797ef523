//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): internals reached
//! without widening the public API. Each asserts what must hold for every input: no panic,
//! and for extraction, nothing written outside staging.

use std::path::{Component, Path, PathBuf};

use crate::config::Limits;
use crate::fs::fsutil::Durability;
use crate::model::checksum::{Algorithm, Checksum};
use crate::pack::manifest::Manifest;
use crate::registry::index::Index;
use crate::registry::summaries::Summaries;
use crate::safety::TreeWriter;
use crate::source::archive::{self, ArchiveFormat};
use crate::source::{detect_with, DetectOptions, PackSource, PathProbe};
use crate::util::interrupt::Interrupt;

/// A file system where the input's own bytes decide what exists, so detection's every rule
/// is reachable without touching the disk.
struct Imagined(u8);

impl PathProbe for Imagined {
    fn is_file(&self, _: &Path) -> bool {
        self.0 & 1 != 0
    }
    fn is_dir(&self, _: &Path) -> bool {
        self.0 & 2 != 0
    }
    fn is_git_repo(&self, _: &Path) -> bool {
        self.0 & 4 != 0
    }
    fn is_work_tree(&self, _: &Path) -> bool {
        self.0 & 8 != 0
    }
}

/// Source detection: never panics, and a source it names displays without its credentials
/// (an ssh user name without a password is not one).
pub fn detect(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = std::str::from_utf8(rest) else {
        return;
    };
    let mut opts = DetectOptions::new();
    if flags & 8 != 0 {
        opts = opts.git_ref("main");
    }
    if flags & 16 != 0 {
        opts = opts.registry("main");
    }
    if flags & 32 != 0 {
        opts = opts.refuse_registry();
    }
    let Ok(source) = detect_with(input, &opts, &Imagined(flags)) else {
        return;
    };
    let shown = source.display_name();
    if let PackSource::Git { url, .. } | PackSource::Archive { url } = &source {
        if let (Some((scheme, _)), Some(_)) = (
            url.split_once("://"),
            crate::util::redact::secret_userinfo(url),
        ) {
            let hidden = format!("{scheme}://***@");
            assert!(shown.starts_with(&hidden), "{url} is shown as {shown}");
        }
    }
}

/// Checksum notation: never panics, and what parses prints back to itself.
pub fn checksum(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sum) = text.parse::<Checksum>() {
        assert_eq!(sum.to_string().parse::<Checksum>().unwrap(), sum);
    }
}

/// pack.yaml: never panics, and takes bounded time (the depth limit).
pub fn pack_yaml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Manifest::parse(text, "fuzz/pack.yaml");
    }
}

/// Index documents, and the summaries' table a cache keeps of one (read lazily, so its reader
/// meets whatever bytes it is given): never panic.
pub fn index(data: &[u8]) {
    if let Ok((index, _)) = Index::parse(data, "fuzz") {
        for s in index.summaries() {
            let _ = index.entry(&s);
            let _ = index.versions_of(s.pack_ref).count();
        }
    }
    if let Some(table) = Summaries::from_bytes(data.to_vec(), 0) {
        for s in table.all() {
            let _ = (table.of(s.pack_ref).count(), s.keywords().count());
        }
        let _ = table.of("a").count();
    }
}

/// Offline bundles and signatures: the strict bundle reader never panics and writes nothing
/// but regular files directly under `into/packs/`; a minisign signature text never panics
/// the parser or the verifier. The first byte picks which.
pub fn bundle(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which & 1 == 1 {
        // A fixed key: ids in inputs that match it reach the Ed25519 checks.
        let key = "RWQc2TAbJchNN4ahV2r8RvevbL0TGU6aCn9kcSuEs0JOfiGg42MRQj6e".to_owned();
        let keys =
            crate::integrity::signature::TrustedKeys::load(&[key], None).expect("a valid key");
        let _ = keys.verify(b"{\"packs\": []}", rest);
        return;
    }
    let jail = tempfile::tempdir().expect("a temporary directory");
    let file = jail.path().join("fuzz.bundle");
    std::fs::write(&file, rest).expect("the input");
    let into = jail.path().join("into");
    if crate::records::bundle_file::open(&file, &into).is_err() {
        return;
    }
    for entry in walkdir::WalkDir::new(&into).min_depth(1) {
        let entry = entry.expect("walking the extraction");
        let rel = entry.path().strip_prefix(&into).expect("inside");
        let ok = rel == Path::new("packs")
            || (entry.file_type().is_file() && rel.parent() == Some(Path::new("packs")));
        assert!(ok, "{} was written by the bundle reader", rel.display());
    }
}

/// Extraction through the path-safety module: whatever the archive, nothing is created
/// outside the staging tree, nothing outside is changed, and no link in the tree leads out.
pub fn extract(data: &[u8], zip: bool) {
    let jail = tempfile::tempdir().expect("a temporary directory");
    let tree = jail.path().join("staging").join("tree");
    let outside = jail.path().join("outside");
    std::fs::create_dir_all(&tree).expect("staging");
    std::fs::create_dir_all(&outside).expect("outside");
    std::fs::write(outside.join("keep"), b"keep").expect("sentinel");
    let limits = Limits {
        max_download_bytes: 1 << 20,
        max_unpacked_bytes: 16 << 20,
        max_entries: 2_000,
        ..Limits::default()
    };
    let mut writer = TreeWriter::new(&tree, "fuzz", limits, Interrupt::new(), Durability::NoSync);
    let algorithms = [Algorithm::Sha256];
    let extracted = if zip {
        crate::source::unzip::extract_zip(data, &mut writer, &algorithms).map(drop)
    } else {
        let compression = match ArchiveFormat::sniff(data) {
            Some(ArchiveFormat::Tar(compression)) => compression,
            _ => archive::Compression::None,
        };
        archive::extract_tar_stream(
            data,
            &mut writer,
            &algorithms,
            limits.max_download_bytes,
            compression,
        )
        .map(drop)
    };
    if extracted.is_ok() {
        let _ = writer.finish();
    }
    assert_contained(jail.path(), &tree, &outside);
}

fn assert_contained(jail: &Path, tree: &Path, outside: &Path) {
    for entry in walkdir::WalkDir::new(jail).follow_links(false) {
        let entry = entry.expect("walking the jail");
        let path = entry.path();
        let allowed = path == jail
            || path.starts_with(tree)
            || path == tree.parent().unwrap_or(tree)
            || path == outside
            || path == outside.join("keep");
        assert!(allowed, "{} was created outside staging", path.display());
        if entry.path_is_symlink() {
            let target = std::fs::read_link(path).expect("a link's target");
            let resolved = lexical(path.parent().unwrap_or(tree), &target);
            assert!(
                resolved.starts_with(tree),
                "{} leads out of the tree to {}",
                path.display(),
                resolved.display()
            );
        }
    }
    assert_eq!(
        std::fs::read(outside.join("keep")).expect("sentinel"),
        b"keep"
    );
}

/// `target` resolved from `dir` by its components alone.
fn lexical(dir: &Path, target: &Path) -> PathBuf {
    let mut out = dir.to_path_buf();
    for c in target.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir => out = PathBuf::from("/"),
            _ => {}
        }
    }
    out
}

/// Entry points for the benchmarks in `benches/` (the same hot loops an install runs).
pub mod bench {
    use std::path::Path;

    use crate::config::Limits;
    use crate::fs::fsutil::Durability;
    use crate::model::checksum::Algorithm;
    use crate::model::pack_ref::PackRef;
    use crate::registry::index::{InMemory, Index};
    use crate::registry::stored;
    use crate::safety::TreeWriter;
    use crate::source::{archive, local_dir, VersionSpec};
    use crate::util::interrupt::Interrupt;

    fn writer(root: &Path) -> TreeWriter {
        TreeWriter::new(
            root,
            "bench",
            Limits::default(),
            Interrupt::new(),
            Durability::NoSync,
        )
    }

    /// Extracts the archive at `path` into `root` (an empty directory) as an install does,
    /// sha256 of the archive included; returns the content checksum.
    pub fn extract_file(path: &Path, root: &Path) -> String {
        let mut w = writer(root);
        archive::extract_file(path, &mut w, &[Algorithm::Sha256]).unwrap();
        w.finish().unwrap().digest.checksum_under("").to_string()
    }

    /// Copies the directory `src` into `root` as an install does; returns the content checksum.
    pub fn copy_directory(src: &Path, root: &Path) -> String {
        let mut w = writer(root);
        local_dir::copy_dir(src, &mut w).unwrap();
        w.finish().unwrap().digest.checksum_under("").to_string()
    }

    /// A parsed index document.
    pub struct ParsedIndex(Index);

    /// The pre-parsed form a warm cache keeps of an index document.
    pub fn pre_parse(document: &[u8]) -> Vec<u8> {
        let parsed = Index::parse_spanned(document, "bench").unwrap();
        let mut form = Vec::new();
        stored::encode(&mut form, &[0; 64], &parsed).unwrap();
        form
    }

    /// An index loaded from its pre-parsed form, as a warm cache loads it (entries whole
    /// from `document` when resolved).
    pub fn load_pre_parsed(form: &[u8], document: &[u8]) -> ParsedIndex {
        let stored = stored::decode(form.to_vec()).unwrap();
        let document = std::sync::Arc::new(InMemory(document.to_vec()));
        ParsedIndex(stored.into_index(document, "bench").0)
    }

    /// Parses an index document as loading one does.
    pub fn parse_index(document: &[u8]) -> ParsedIndex {
        ParsedIndex(Index::parse(document, "bench").unwrap().0)
    }

    impl ParsedIndex {
        /// How many entries it holds.
        pub fn len(&self) -> usize {
            self.0.summaries().count()
        }

        /// Whether it holds none.
        pub fn is_empty(&self) -> bool {
            self.0.summaries().next().is_none()
        }

        /// The version `name@spec` resolves to, as an install resolves it (its whole entry
        /// read).
        pub fn resolve(&self, name: &PackRef, spec: &VersionSpec) -> Option<String> {
            let found = crate::registry::resolve::best(&self.0, name, spec)?;
            Some(self.0.entry(&found).unwrap().version.to_string())
        }
    }
}
