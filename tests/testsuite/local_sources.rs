//! Local sources through the real binary: archives and directories, big packs, checksums
//! (files against the coreutils tools, directories against the reference's definition and fixed
//! vectors), pack.yaml location and validation, and the `--json` documents.

use crate::support::archives;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use archives::*;
use sha2::{Digest, Sha256};

use crate::support::BIN;

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    packs: PathBuf,
}

impl Env {
    fn new() -> Env {
        let (tmp, root) = temp_root();
        let packs = root.join("packs");
        Env {
            _tmp: tmp,
            root,
            packs,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--packs-dir")
            .arg(&self.packs)
            .args(args)
            .output()
            .unwrap()
    }

    fn install(&self, source: &Path, extra: &[&str]) -> Output {
        let mut args = vec!["install", source.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Writes file entries as a directory tree at `rel`, with their modes.
    fn write_tree(&self, rel: &str, files: &[Entry]) -> PathBuf {
        let dir = self.root.join(rel);
        for entry in files {
            let Entry::File { name, data, mode } = entry else {
                panic!("write_tree writes files only, not {entry:?}");
            };
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, data).unwrap();
            #[cfg(unix)]
            set_mode(&path, *mode);
            #[cfg(not(unix))]
            let _ = mode;
        }
        dir
    }

    /// Nothing installed: no pack directory, no receipt, empty staging.
    fn assert_store_empty(&self) {
        if !self.packs.exists() {
            return;
        }
        let top = names_in(&self.packs);
        assert!(
            top.iter().all(|n| n == ".attune-pack"),
            "packs dir holds {top:?}"
        );
        for sub in ["staging", "receipts", "versions"] {
            let dir = self.packs.join(".attune-pack").join(sub);
            if dir.exists() {
                assert!(names_in(&dir).is_empty(), "{sub}/ is not empty");
            }
        }
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: &Output) -> &Output {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

/// Asserts a failure's exit code and, in `--json` mode, its error document.
fn assert_error(out: &Output, exit: i32, code: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(exit),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
    let doc = json(out);
    assert_eq!(doc["error"]["code"], code, "{doc}");
    let message = doc["error"]["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty());
    // clap's own usage errors carry a shorter summary in the document; every other error
    // repeats the document's message on stderr.
    if code != "usage" || !message.contains("argument") {
        assert!(stderr(out).contains(&message), "stderr repeats the message");
    }
    message
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The files of a generated pack.
fn generated_pack(pack_ref: &str, files: usize) -> Vec<Entry> {
    let yaml = format!("ref: {pack_ref}\nversion: 2.3.4\nlabel: Generated\n");
    let mut out = vec![file("pack.yaml", yaml.as_bytes())];
    for i in 0..files {
        let mode = if i % 7 == 0 { 0o755 } else { 0o644 };
        out.push(file_mode(
            &format!("actions/d{:02}/f{i:04}.txt", i / 100),
            format!("file {i}\n").as_bytes(),
            mode,
        ));
    }
    out
}

/// The path of a file entry.
fn file_name(entry: &Entry) -> &str {
    match entry {
        Entry::File { name, .. } => name,
        other => panic!("not a file: {other:?}"),
    }
}

/// Every regular file under `dir`, relative, `/`-separated.
fn files_under(dir: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn checksum_of(env: &Env, path: &Path) -> String {
    let out = env.run(&["checksum", path.to_str().unwrap()]);
    String::from_utf8(ok(&out).stdout.clone())
        .unwrap()
        .trim_end()
        .to_owned()
}

fn assert_big_pack_installed(env: &Env, out: &Output, files: &[Entry]) {
    let receipt = json(ok(out));
    let root = env.packs.join("bigpack");
    assert_eq!(receipt["ref"], "bigpack");
    assert_eq!(receipt["version"], "2.3.4");
    assert_eq!(receipt["path"], root.to_str().unwrap());
    let on_disk = files_under(&root);
    assert_eq!(on_disk.len(), 5001);
    let expected: BTreeSet<String> = files.iter().map(|e| file_name(e).to_owned()).collect();
    assert_eq!(on_disk, expected);
    for i in [0usize, 1, 777, 4999] {
        let path = root.join(format!("actions/d{:02}/f{i:04}.txt", i / 100));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("file {i}\n")
        );
        #[cfg(unix)]
        assert_eq!(mode(&path), if i % 7 == 0 { 0o755 } else { 0o644 });
    }
    // The receipt's content checksum is the checksum of what is on disk.
    assert_eq!(receipt["checksum"]["content"], checksum_of(env, &root));
    let listed = json(ok(&env.run(&["--json", "list"])));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(names_in(&env.packs.join(".attune-pack/staging")).is_empty());
}

// ---- big packs -------------------------------------------------------------------------

#[test]
fn installs_5000_files_from_a_local_tar_gz_and_a_local_directory_with_equal_content() {
    let files = generated_pack("bigpack", 5000);

    let from_archive = Env::new();
    let archive = from_archive.write("big.tar.gz", &tar_gz(&files));
    let out = from_archive.install(&archive, &["--json"]);
    assert_big_pack_installed(&from_archive, &out, &files);
    let archive_receipt = json(&out);
    assert_eq!(archive_receipt["source"]["kind"], "local_archive");
    assert_eq!(
        archive_receipt["checksum"]["archive"],
        format!("sha256:{}", sha256_hex(&std::fs::read(&archive).unwrap()))
    );

    let from_dir = Env::new();
    let src = from_dir.write_tree("bigpack-src", &files);
    let out = from_dir.install(&src, &["--json"]);
    assert_big_pack_installed(&from_dir, &out, &files);
    let dir_receipt = json(&out);
    assert_eq!(dir_receipt["source"]["kind"], "local_directory");
    assert_eq!(dir_receipt["source"]["path"], src.to_str().unwrap());
    assert_eq!(dir_receipt["checksum"]["archive"], serde_json::Value::Null);
    // Same files, same content checksum, whatever the source; and it is the source dir's.
    assert_eq!(
        dir_receipt["checksum"]["content"],
        archive_receipt["checksum"]["content"]
    );
    assert_eq!(
        dir_receipt["checksum"]["content"],
        checksum_of(&from_dir, &src)
    );
}

// ---- checksum FILE ---------------------------------------------------------------------

fn coreutils(tool: &str, path: &Path) -> String {
    let out = Command::new(tool).arg(path).output().unwrap();
    assert!(out.status.success(), "{tool} failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn checksum_of_a_file_matches_the_coreutils_tools() {
    let env = Env::new();
    let mut bytes = Vec::new();
    for i in 0..200_000u32 {
        bytes.extend_from_slice(&i.to_le_bytes());
    }
    let path = env.write("blob.bin", &bytes);
    let p = path.to_str().unwrap();
    let out = env.run(&["checksum", p]);
    assert_eq!(
        String::from_utf8(ok(&out).stdout.clone()).unwrap(),
        format!("sha256:{}\n", coreutils("sha256sum", &path)),
        "exactly `ALGO:HEX` on one line"
    );
    for (algo, tool) in [
        ("sha256", "sha256sum"),
        ("sha512", "sha512sum"),
        ("sha1", "sha1sum"),
        ("md5", "md5sum"),
    ] {
        let out = env.run(&["checksum", p, "--algorithm", algo]);
        assert_eq!(
            String::from_utf8(ok(&out).stdout.clone())
                .unwrap()
                .trim_end(),
            format!("{algo}:{}", coreutils(tool, &path)),
            "{algo}"
        );
    }
    let doc = json(ok(&env.run(&[
        "--json",
        "checksum",
        p,
        "--algorithm",
        "sha512",
    ])));
    assert_eq!(
        doc,
        serde_json::json!({"path": p, "checksum": format!("sha512:{}", coreutils("sha512sum", &path))})
    );
}

#[test]
fn checksum_of_an_empty_file_is_the_well_known_empty_digest() {
    let env = Env::new();
    let path = env.write("empty", b"");
    assert_eq!(
        checksum_of(&env, &path),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn checksum_errors_have_the_right_exit_codes() {
    let env = Env::new();
    let dir = env.root.join("d");
    std::fs::create_dir(&dir).unwrap();
    let file = env.write("f", b"x");
    let out = env.run(&[
        "--json",
        "checksum",
        dir.to_str().unwrap(),
        "--algorithm",
        "md5",
    ]);
    let msg = assert_error(&out, 2, "usage");
    assert!(msg.contains("sha256"), "{msg}");
    let out = env.run(&[
        "--json",
        "checksum",
        file.to_str().unwrap(),
        "--algorithm",
        "crc32",
    ]);
    assert_error(&out, 2, "usage");
    let missing = env.root.join("missing");
    let out = env.run(&["--json", "checksum", missing.to_str().unwrap()]);
    assert_error(&out, 4, "not_found");
}

// ---- checksum DIR: the reference's content checksum --------------------------------------------

/// The test-vector directory: a file, an uppercase name, an executable, a symlink, names whose
/// byte order differs from a per-component order (`sub-file` < `sub/b.txt`), an empty
/// directory and a `.git/` that must not count.
#[cfg(unix)]
fn vector_dir(at: &Path) {
    std::fs::create_dir_all(at.join("sub")).unwrap();
    std::fs::create_dir_all(at.join("empty/nested")).unwrap();
    std::fs::create_dir_all(at.join(".git/objects")).unwrap();
    std::fs::write(at.join("Z.txt"), "upper\n").unwrap();
    std::fs::write(at.join("a.txt"), "hello\n").unwrap();
    std::fs::write(at.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    set_mode(&at.join("run.sh"), 0o755);
    std::os::unix::fs::symlink("a.txt", at.join("link")).unwrap();
    std::fs::write(at.join("sub-file"), "").unwrap();
    std::fs::write(at.join("sub/b.txt"), "b\n").unwrap();
    set_mode(&at.join("sub/b.txt"), 0o600);
    std::fs::write(at.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(at.join(".git/objects/x"), "blob").unwrap();
}

/// What counts of [`vector_dir`] for the content checksum: (path, kind, content).
#[cfg(unix)]
const VECTOR_LINES: [(&str, char, &[u8]); 6] = [
    ("Z.txt", 'f', b"upper\n"),
    ("a.txt", 'f', b"hello\n"),
    ("run.sh", 'x', b"#!/bin/sh\necho hi\n"),
    ("link", 'l', b"a.txt"),
    ("sub-file", 'f', b""),
    ("sub/b.txt", 'f', b"b\n"),
];

/// the reference's definition, computed here independently of the crate: sha256 over
/// `PATH\0KIND\0DIGEST\n` lines sorted by path bytes.
fn spec_content_checksum(lines: &[(&str, char, &[u8])]) -> String {
    let mut lines = lines.to_vec();
    lines.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut text = Vec::new();
    for (path, kind, content) in lines {
        text.extend_from_slice(path.as_bytes());
        text.push(0);
        text.push(kind as u8);
        text.push(0);
        text.extend_from_slice(sha256_hex(content).as_bytes());
        text.push(b'\n');
    }
    format!("sha256:{}", sha256_hex(&text))
}

const VECTOR_DIR: &str = "sha256:44c16ff6fade8e870519e5df0a7696acfc2ca0077807f512100bf852483ea92e";
const VECTOR_ONE_FILE: &str =
    "sha256:490e9b050b6317817fedd12b8e2929290296ce1964ec6023cf6905dca9cf3379";
const VECTOR_EMPTY: &str =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[cfg(unix)]
#[test]
fn checksum_of_a_directory_follows_the_spec_definition_and_vectors() {
    let env = Env::new();
    let dir = env.root.join("vector");
    vector_dir(&dir);
    let independent = spec_content_checksum(&VECTOR_LINES);
    assert_eq!(independent, VECTOR_DIR);
    assert_eq!(checksum_of(&env, &dir), VECTOR_DIR);
    let doc = json(ok(&env.run(&["--json", "checksum", dir.to_str().unwrap()])));
    assert_eq!(doc["checksum"], VECTOR_DIR);
    assert_eq!(doc["path"], dir.to_str().unwrap());

    // `.git/` and empty directories contribute nothing.
    std::fs::write(dir.join(".git/HEAD"), "changed").unwrap();
    std::fs::create_dir_all(dir.join("another/empty")).unwrap();
    assert_eq!(checksum_of(&env, &dir), VECTOR_DIR);
    // The executable bit is part of it.
    set_mode(&dir.join("run.sh"), 0o644);
    assert_ne!(checksum_of(&env, &dir), VECTOR_DIR);
}

#[test]
fn checksum_of_tiny_directories_matches_fixed_vectors() {
    let env = Env::new();
    let one = env.root.join("one");
    std::fs::create_dir(&one).unwrap();
    std::fs::write(one.join("a.txt"), "hello\n").unwrap();
    assert_eq!(
        spec_content_checksum(&[("a.txt", 'f', b"hello\n")]),
        VECTOR_ONE_FILE
    );
    assert_eq!(checksum_of(&env, &one), VECTOR_ONE_FILE);
    let empty = env.root.join("empty");
    std::fs::create_dir_all(empty.join("only/dirs")).unwrap();
    assert_eq!(checksum_of(&env, &empty), VECTOR_EMPTY);
}

#[cfg(unix)]
#[test]
fn the_installed_content_checksum_is_the_checksum_of_the_installed_directory() {
    let env = Env::new();
    let src = env.root.join("src");
    vector_dir(&src);
    std::fs::write(src.join("pack.yaml"), "ref: vec\nversion: 1.0.0\n").unwrap();
    let pack_line = ("pack.yaml", 'f', b"ref: vec\nversion: 1.0.0\n".as_slice());
    let expected = spec_content_checksum(&[VECTOR_LINES.as_slice(), &[pack_line]].concat());
    let receipt = json(ok(&env.install(&src, &["--json"])));
    assert_eq!(receipt["checksum"]["content"], expected);
    assert_eq!(checksum_of(&env, &env.packs.join("vec")), expected);
    assert_eq!(checksum_of(&env, &src), expected);
    // The installed tree has the link, the modes, and neither `.git/` nor empty dirs matter.
    let root = env.packs.join("vec");
    assert_eq!(
        std::fs::read_link(root.join("link")).unwrap(),
        Path::new("a.txt")
    );
    assert!(!root.join(".git").exists());
    assert_eq!(mode(&root.join("sub/b.txt")), 0o644);
    assert_eq!(mode(&root.join("run.sh")), 0o755);

    // From an archive of the same files in a GitHub-style subdirectory: the same content
    // checksum (paths are relative to the pack root).
    let env2 = Env::new();
    let archive = env2.write(
        "vec.tar.gz",
        &tar_gz(&[
            minimal_pack_yaml("vec-main/", "vec"),
            file("vec-main/Z.txt", b"upper\n"),
            file("vec-main/a.txt", b"hello\n"),
            file_mode("vec-main/run.sh", b"#!/bin/sh\necho hi\n", 0o775),
            symlink("vec-main/link", "a.txt"),
            file("vec-main/sub-file", b""),
            file_mode("vec-main/sub/b.txt", b"b\n", 0o600),
            dir("vec-main/empty/"),
        ]),
    );
    let receipt = json(ok(&env2.install(&archive, &["--json"])));
    assert_eq!(receipt["checksum"]["content"], expected);
}

// ---- --checksum on local sources ---------------------------------------------------------

/// A pack.yaml with only `ref` and version 1.0.0 (no label), under `prefix`.
fn minimal_pack_yaml(prefix: &str, pack_ref: &str) -> Entry {
    file(
        &format!("{prefix}pack.yaml"),
        format!("ref: {pack_ref}\nversion: 1.0.0\n").as_bytes(),
    )
}

fn small_pack_entries(pack_ref: &str) -> Vec<Entry> {
    vec![
        pack_yaml("", pack_ref),
        file_mode("actions/run.sh", b"#!/bin/sh\necho hi\n", 0o755),
    ]
}

#[test]
fn install_checksum_matches_the_archive_bytes() {
    let env = Env::new();
    let bytes = tar_gz(&small_pack_entries("sumpack"));
    let archive = env.write("sumpack.tar.gz", &bytes);
    let sha256 = format!("sha256:{}", sha256_hex(&bytes).to_uppercase());
    let receipt = json(ok(
        &env.install(&archive, &["--json", "--checksum", &sha256])
    ));
    assert_eq!(
        receipt["checksum"]["archive"],
        format!("sha256:{}", sha256_hex(&bytes))
    );

    // sha512 and the SRI form are read too.
    let env = Env::new();
    let archive = env.write("sumpack.tar.gz", &bytes);
    let sha512 = format!("sha512:{}", coreutils("sha512sum", &archive));
    ok(&env.install(&archive, &["--checksum", &sha512]));
    let env = Env::new();
    let archive = env.write("sumpack.tar.gz", &bytes);
    use base64::Engine as _;
    let sri = format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes))
    );
    ok(&env.install(&archive, &["--checksum", &sri]));
    assert!(env.packs.join("sumpack/pack.yaml").is_file());
}

#[test]
fn install_checksum_mismatch_is_refused_with_expected_actual_source_and_hint() {
    let env = Env::new();
    let bytes = zip(&small_pack_entries("sumpack"));
    let archive = env.write("sumpack.zip", &bytes);
    let wrong = format!("sha256:{}", "0".repeat(64));
    let out = env.install(&archive, &["--json", "--checksum", &wrong]);
    let msg = assert_error(&out, 3, "checksum_mismatch");
    assert!(msg.contains(&wrong), "expected: {msg}");
    assert!(
        msg.contains(&format!("sha256:{}", sha256_hex(&bytes))),
        "actual: {msg}"
    );
    assert!(msg.contains(archive.to_str().unwrap()), "source: {msg}");
    assert!(msg.contains("hint"), "hint: {msg}");
    let err = stderr(&out);
    assert!(err.contains("expected") && err.contains("actual"), "{err}");
    env.assert_store_empty();
}

#[test]
fn install_checksum_of_a_directory_is_its_content_checksum() {
    let env = Env::new();
    let src = env.write_tree(
        "dirpack",
        &[minimal_pack_yaml("", "dirpack"), file("a.txt", b"a\n")],
    );
    let content = checksum_of(&env, &src);
    let wrong = format!("sha256:{}", "f".repeat(64));
    let msg = assert_error(
        &env.install(&src, &["--json", "--checksum", &wrong]),
        3,
        "checksum_mismatch",
    );
    assert!(msg.contains(&content) && msg.contains(&wrong), "{msg}");
    env.assert_store_empty();
    let receipt = json(ok(&env.install(&src, &["--json", "--checksum", &content])));
    assert_eq!(receipt["checksum"]["content"], content);
}

// ---- pack.yaml location and validation ----------------------------------------------------

#[test]
fn pack_yaml_is_found_in_root_pack_dir_and_a_single_subdirectory() {
    for (layout, prefix) in [("root", ""), ("pack/", "pack/"), ("subdir", "repo-1.0.0/")] {
        for format in ["tar.gz", "zip", "dir"] {
            let env = Env::new();
            let entries = vec![
                pack_yaml(prefix, "located"),
                file(&format!("{prefix}actions/a.txt"), b"a\n"),
                file("README-outside.md", b"not in the pack unless at the root"),
            ];
            let source = match format {
                "tar.gz" => env.write("src.tar.gz", &tar_gz(&entries)),
                "zip" => env.write("src.zip", &zip(&entries)),
                _ => env.write_tree(
                    "src",
                    &[
                        minimal_pack_yaml(prefix, "located"),
                        file(&format!("{prefix}actions/a.txt"), b"a\n"),
                        file("README-outside.md", b"not in the pack unless at the root"),
                    ],
                ),
            };
            let out = env.install(&source, &["--json"]);
            ok(&out);
            let root = env.packs.join("located");
            assert!(root.join("pack.yaml").is_file(), "{layout} {format}");
            assert!(root.join("actions/a.txt").is_file(), "{layout} {format}");
            assert_eq!(
                root.join("README-outside.md").exists(),
                prefix.is_empty(),
                "{layout} {format}: only the pack root is installed"
            );
        }
    }
}

#[test]
fn no_pack_yaml_is_exit_4_listing_every_path_searched() {
    let env = Env::new();
    let archive = env.write(
        "nopack.tar.gz",
        &tar_gz(&[file("docs/readme.md", b"x"), file("README", b"x")]),
    );
    let msg = assert_error(&env.install(&archive, &["--json"]), 4, "pack_yaml_missing");
    for searched in [
        "pack.yaml",
        "pack/pack.yaml",
        "docs/pack.yaml",
        "docs/pack/pack.yaml",
    ] {
        assert!(msg.contains(searched), "`{searched}` not listed: {msg}");
    }
    env.assert_store_empty();
}

#[test]
fn two_candidate_subdirectories_are_an_ambiguity_exit_6() {
    let env = Env::new();
    let src = env.write_tree(
        "two",
        &[
            minimal_pack_yaml("alpha/", "alpha"),
            minimal_pack_yaml("beta/", "beta"),
        ],
    );
    let out = env.install(&src, &["--json"]);
    let msg = assert_error(&out, 6, "invalid_pack");
    assert!(msg.contains("ambiguous"), "{msg}");
    assert!(msg.contains("alpha") && msg.contains("beta"), "{msg}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "hint: the source holds packs in subdirectories: install one with --subdir alpha"
        ),
        "{stderr}"
    );
    env.assert_store_empty();
    // As the hint says.
    let out = env.install(&src, &["--json", "--subdir", "beta"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn invalid_ref_or_version_is_exit_6_naming_file_and_field() {
    for (yaml, field) in [
        ("ref: Bad Ref\nversion: 1.0.0\n", "ref"),
        ("ref: ../escape\nversion: 1.0.0\n", "ref"),
        ("version: 1.0.0\n", "ref"),
        ("ref: okref\nversion: not-a-version\n", "version"),
        ("ref: okref\n", "version"),
    ] {
        let env = Env::new();
        let archive = env.write("bad.tar.gz", &tar_gz(&[file("pack.yaml", yaml.as_bytes())]));
        let msg = assert_error(&env.install(&archive, &["--json"]), 6, "invalid_pack");
        assert!(msg.contains("pack.yaml"), "{yaml:?}: {msg}");
        assert!(msg.contains(&format!("`{field}`")), "{yaml:?}: {msg}");
        env.assert_store_empty();
    }
}

#[test]
fn stackstorm_short_version_installs_as_semver_with_a_warning() {
    let env = Env::new();
    let src = env.write_tree(
        "st2",
        &[file(
            "pack.yaml",
            b"ref: st2pack\nname: StackStorm pack\nversion: \"1.0\"\ntags: [legacy]\n",
        )],
    );
    let out = env.install(&src, &["--json"]);
    let receipt = json(ok(&out));
    assert_eq!(receipt["version"], "1.0.0");
    assert_eq!(receipt["label"], "StackStorm pack");
    let err = stderr(&out);
    assert!(
        err.contains("warning") && err.contains("`1.0`") && err.contains("1.0.0"),
        "{err}"
    );
}

// ---- local directories ---------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn a_local_directory_is_copied_without_git_and_with_exec_bits() {
    let env = Env::new();
    let src = env.write_tree(
        "work-tree",
        &[
            file("pack.yaml", b"ref: tree\nversion: 0.1.0\n"),
            file_mode("actions/run.sh", b"#!/bin/sh\n", 0o755),
            file_mode("actions/group.sh", b"#!/bin/sh\n", 0o775),
            file_mode("actions/data.json", b"{}", 0o664),
            file(".git/HEAD", b"ref: refs/heads/main\n"),
            file_mode(".git/hooks/pre-commit", b"#!/bin/sh\n", 0o755),
            file("sub/.git", b"gitdir: ../.git/modules/sub\n"),
        ],
    );
    std::os::unix::fs::symlink("run.sh", src.join("actions/alias.sh")).unwrap();
    std::fs::create_dir(src.join("empty")).unwrap();
    let receipt = json(ok(&env.install(&src, &["--json"])));
    let root = env.packs.join("tree");
    assert!(!root.join(".git").exists());
    assert!(!root.join("sub/.git").exists());
    assert_eq!(mode(&root.join("actions/run.sh")), 0o755);
    assert_eq!(mode(&root.join("actions/group.sh")), 0o755);
    assert_eq!(mode(&root.join("actions/data.json")), 0o644);
    assert_eq!(
        std::fs::read_link(root.join("actions/alias.sh")).unwrap(),
        Path::new("run.sh")
    );
    assert!(root.join("empty").is_dir());
    // The source is untouched.
    assert!(src.join(".git/HEAD").is_file());
    assert_eq!(mode(&src.join("actions/group.sh")), 0o775);
    assert_eq!(receipt["checksum"]["content"], checksum_of(&env, &src));
}

#[cfg(unix)]
#[test]
fn a_local_directory_with_an_escaping_symlink_is_refused() {
    for (name, target, rule) in [
        ("etc", "/etc", "symlinks must have a relative target"),
        ("up", "../..", "symlink target resolves outside the pack"),
        ("hop", "self/..", "passes through another symlink"),
    ] {
        let env = Env::new();
        let src = env.write_tree("linky", &[minimal_pack_yaml("", "linky")]);
        std::os::unix::fs::symlink(".", src.join("self")).unwrap();
        std::os::unix::fs::symlink(target, src.join(name)).unwrap();
        let msg = assert_error(&env.install(&src, &["--json"]), 3, "unsafe_archive");
        assert!(
            msg.contains(&format!("`{name}`")) && msg.contains(rule),
            "{msg}"
        );
        env.assert_store_empty();
    }
}

#[cfg(unix)]
#[test]
fn a_local_directory_with_a_fifo_is_refused() {
    let env = Env::new();
    let src = env.write_tree("fifo", &[minimal_pack_yaml("", "fifo")]);
    let status = Command::new("mkfifo")
        .arg(src.join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let msg = assert_error(&env.install(&src, &["--json"]), 3, "unsafe_archive");
    assert!(msg.contains("`pipe`") && msg.contains("FIFO"), "{msg}");
    env.assert_store_empty();
}

// ---- formats by magic bytes, no external programs -------------------------------------------

#[test]
fn archive_format_comes_from_magic_bytes_not_the_name() {
    for (name, bytes) in [
        ("really-a-zip.tar.gz", zip(&small_pack_entries("magic"))),
        ("really-a-tar.zip", tar(&small_pack_entries("magic"))),
        ("really-a-tgz.tar", tar_gz(&small_pack_entries("magic"))),
        ("no-extension", tar_gz(&small_pack_entries("magic"))),
    ] {
        let env = Env::new();
        let archive = env.write(name, &bytes);
        ok(&env.install(&archive, &[]));
        assert!(env.packs.join("magic/actions/run.sh").is_file(), "{name}");
    }
    let env = Env::new();
    let junk = env.write("junk.tar.gz", b"<html>not an archive</html>");
    assert_error(&env.install(&junk, &["--json"]), 1, "archive_corrupt");
    env.assert_store_empty();
}

#[test]
fn a_truncated_archive_is_archive_corrupt() {
    let env = Env::new();
    let mut bytes = tar_gz(&generated_pack("cut", 50));
    bytes.truncate(bytes.len() / 2);
    let archive = env.write("cut.tar.gz", &bytes);
    assert_error(&env.install(&archive, &["--json"]), 1, "archive_corrupt");
    env.assert_store_empty();
}

/// The content checksum and archive checksum of an install of `bytes` (named `name`).
fn install_checksums(name: &str, bytes: &[u8]) -> (serde_json::Value, serde_json::Value) {
    let env = Env::new();
    let archive = env.write(name, bytes);
    let receipt = json(ok(&env.install(&archive, &["--json"])));
    assert_eq!(files_under(&env.packs.join("cut")).len(), 201, "{name}");
    (
        receipt["checksum"]["content"].clone(),
        receipt["checksum"]["archive"].clone(),
    )
}

#[test]
fn xz_zstd_and_bzip2_tars_install_the_same_content_as_the_tar_gz() {
    let entries = generated_pack("cut", 200);
    let (from_tar_gz, _) = install_checksums("pack.tar.gz", &tar_gz(&entries));
    for compressor in Compressor::NEWER {
        let bytes = compressor.tar(&entries);
        // Named like a tar.gz: the format comes from the first bytes.
        let (content, archive) = install_checksums("pack.tar.gz", &bytes);
        assert_eq!(content, from_tar_gz, "{compressor:?}");
        assert_eq!(
            archive,
            format!("sha256:{}", sha256_hex(&bytes)),
            "{compressor:?}: the archive checksum is of the compressed bytes"
        );
    }
}

#[test]
fn truncated_or_damaged_xz_zstd_and_bzip2_tars_are_archive_corrupt_naming_the_format() {
    let entries = generated_pack("cut", 200);
    for compressor in Compressor::NEWER {
        let whole = compressor.tar(&entries);
        let mut damaged = whole.clone();
        // Past the headers, into the compressed data.
        let at = whole.len() / 2;
        damaged[at..at + 8].iter_mut().for_each(|b| *b ^= 0x5a);
        for (what, bytes) in [
            ("truncated", &whole[..whole.len() / 2]),
            ("damaged", &damaged),
        ] {
            let env = Env::new();
            let archive = env.write("cut.tar", bytes);
            let message = assert_error(&env.install(&archive, &["--json"]), 1, "archive_corrupt");
            assert!(
                message.contains(compressor.name()),
                "{compressor:?} {what}: {message}"
            );
            env.assert_store_empty();
        }
    }
}

#[test]
fn install_works_with_an_empty_environment_and_no_programs() {
    let env = Env::new();
    let archive = env.write("envpack.tar.gz", &tar_gz(&small_pack_entries("envpack")));
    let src = env.write_tree(
        "envdir",
        &[minimal_pack_yaml("", "envdir"), file("a.txt", b"a")],
    );
    for source in [&archive, &src] {
        let out = Command::new(BIN)
            .env_clear()
            .env("PATH", "/nonexistent")
            .arg("--packs-dir")
            .arg(&env.packs)
            .arg("install")
            .arg(source)
            .output()
            .unwrap();
        ok(&out);
    }
    assert!(env.packs.join("envpack/actions/run.sh").is_file());
    assert!(env.packs.join("envdir/a.txt").is_file());
    // The same for `checksum` and `list`.
    let out = Command::new(BIN)
        .env_clear()
        .env("PATH", "/nonexistent")
        .arg("--packs-dir")
        .arg(&env.packs)
        .arg("list")
        .output()
        .unwrap();
    let text = String::from_utf8(ok(&out).stdout.clone()).unwrap();
    assert!(
        text.contains("envpack") && text.contains("envdir"),
        "{text}"
    );
}

// ---- --json documents ------------------------------------------------------------------------

#[test]
fn json_documents_for_install_list_show_uninstall_checksum_and_errors() {
    let env = Env::new();
    let bytes = tar_gz(&small_pack_entries("jsonpack"));
    let archive = env.write("jsonpack.tgz", &bytes);

    let install = json(ok(&env.install(&archive, &["--json"])));
    let root = env.packs.join("jsonpack");
    for key in [
        "ref",
        "version",
        "label",
        "path",
        "installed_at",
        "source",
        "checksum",
        "tests",
    ] {
        assert!(
            install.get(key).is_some(),
            "receipt lacks `{key}`: {install}"
        );
    }
    assert_eq!(install["ref"], "jsonpack");
    assert_eq!(install["version"], "1.0.0");
    assert_eq!(install["label"], "Test pack");
    assert_eq!(install["path"], root.to_str().unwrap());
    let at = install["installed_at"].as_str().unwrap();
    assert!(
        at.len() >= 20 && at.as_bytes()[10] == b'T' && (at.ends_with('Z') || at.contains('+')),
        "RFC 3339: {at}"
    );
    assert_eq!(install["source"]["kind"], "local_archive");
    assert_eq!(install["source"]["path"], archive.to_str().unwrap());
    assert_eq!(
        install["checksum"]["archive"],
        format!("sha256:{}", sha256_hex(&bytes))
    );
    assert_eq!(install["checksum"]["content"], checksum_of(&env, &root));
    assert_eq!(install["tests"]["status"], "none");
    for n in ["passed", "failed", "skipped"] {
        assert_eq!(install["tests"][n], 0);
    }

    let list = json(ok(&env.run(&["--json", "list"])));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["ref"], "jsonpack");
    assert_eq!(list[0]["checksum"], install["checksum"]);

    let show = json(ok(&env.run(&["--json", "show", "jsonpack"])));
    assert_eq!(show, install);

    let checksum = json(ok(&env.run(&[
        "--json",
        "checksum",
        archive.to_str().unwrap(),
    ])));
    assert_eq!(
        checksum,
        serde_json::json!({"path": archive.to_str().unwrap(), "checksum": format!("sha256:{}", sha256_hex(&bytes))})
    );

    // Errors: exactly one document on stdout, with the exit code of the reference's table.
    let again = env.install(&archive, &["--json"]);
    let msg = assert_error(&again, 5, "already_installed");
    assert!(msg.contains("--force"), "{msg}");
    let msg = assert_error(&env.run(&["--json", "show", "nosuch"]), 4, "not_found");
    assert!(msg.contains("nosuch"), "{msg}");
    assert_error(&env.run(&["--json", "uninstall", "nosuch"]), 4, "not_found");
    assert_error(
        &env.run(&["--json", "install", "--bogus-flag", "x"]),
        2,
        "usage",
    );

    // --force replaces it.
    let forced = json(ok(&env.install(&archive, &["--json", "--force"])));
    assert_eq!(forced["ref"], "jsonpack");

    let removed = json(ok(&env.run(&["--json", "uninstall", "jsonpack"])));
    assert_eq!(removed, serde_json::json!({"removed": "jsonpack"}));
    assert!(!root.exists());
    assert_eq!(
        json(ok(&env.run(&["--json", "list"]))),
        serde_json::json!([])
    );
    env.assert_store_empty();
}

#[test]
fn install_reports_the_detected_source_kind_on_stderr() {
    let env = Env::new();
    let archive = env.write("kind.tar.gz", &tar_gz(&small_pack_entries("kind")));
    let out = env.install(&archive, &[]);
    let err = stderr(ok(&out));
    assert!(
        err.contains("Installing pack from:") && err.contains("local archive"),
        "{err}"
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.contains("kind") && text.contains("1.0.0"), "{text}");
}

/// `checksum` of a FIFO (or a link to one) is refused at once instead of waiting for a
/// writer for ever.
#[test]
fn checksum_of_a_fifo_is_refused_without_blocking() {
    let env = Env::new();
    let fifo = env.root.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let link = env.root.join("link");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    for path in [fifo, link] {
        let child = Command::new(BIN)
            .args(["--json", "checksum"])
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let id = child.id();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let out = match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(out) => out.unwrap(),
            Err(_) => {
                let _ = Command::new("kill").arg(id.to_string()).status();
                panic!("checksum blocked on {}", path.display());
            }
        };
        let message = assert_error(&out, 2, "usage");
        assert!(message.contains("not a regular file"), "{message}");
    }
}

/// A local directory's `.git`, however it is spelled, is neither installed nor part of the
/// content checksum: `checksum DIR` of the source equals the installed pack's.
#[test]
fn every_spelling_of_dotgit_in_a_directory_is_left_out() {
    let env = Env::new();
    let src = env.root.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("pack.yaml"), "ref: dotgit\nversion: 1.0.0\n").unwrap();
    std::fs::write(src.join("sub/kept.txt"), "kept\n").unwrap();
    let spellings = [".GIT", ".Git", ".git.", "git~1", ".g\u{200c}it"];
    for name in spellings {
        std::fs::create_dir_all(src.join(name)).unwrap();
        std::fs::write(src.join(name).join("config"), "[core]\n").unwrap();
        std::fs::write(src.join("sub").join(name), "[core]\n").unwrap();
    }
    let out = env.run(&["--json", "install", src.to_str().unwrap()]);
    let receipt = json(ok(&out));
    for name in spellings {
        assert!(!env.packs.join("dotgit").join(name).exists(), "{name}");
        assert!(
            !env.packs.join("dotgit/sub").join(name).exists(),
            "sub/{name}"
        );
    }
    assert!(env.packs.join("dotgit/sub/kept.txt").is_file());
    assert_eq!(
        receipt["checksum"]["content"].as_str().unwrap(),
        checksum_of(&env, &src)
    );
}

/// `checksum DIR` walks a directory as an install of it does: a FIFO in it is refused, not
/// skipped (the content checksum would otherwise describe a pack that cannot be installed).
#[test]
fn checksum_of_a_directory_holding_a_fifo_is_refused() {
    let env = Env::new();
    let dir = env.root.join("withfifo");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pack.yaml"), "ref: f\nversion: 1.0.0\n").unwrap();
    assert!(Command::new("mkfifo")
        .arg(dir.join("pipe"))
        .status()
        .unwrap()
        .success());
    let out = env.run(&["--json", "checksum", dir.to_str().unwrap()]);
    let message = assert_error(&out, 2, "usage");
    assert!(message.contains("`pipe` is a FIFO"), "{message}");
    let out = env.run(&["--json", "install", dir.to_str().unwrap()]);
    assert_error(&out, 3, "unsafe_archive");
}
