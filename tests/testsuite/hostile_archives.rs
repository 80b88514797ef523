//! Hostile archives, driven through the real binary: every case must be refused with exit 3
//! (`unsafe_archive`), name the entry and the rule, write nothing outside staging and leave
//! the store as it was. Each case runs as a plain .tar, a .tar.gz and (when zip can express
//! it) a .zip; the path, link and size cases also as .tar.xz, .tar.zst and .tar.bz2, which go
//! through the same tar reader after their decoder. The allowed cases at the end prove the rules do not refuse legitimate packs.

use crate::support::archives;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use archives::*;

use crate::support::BIN;
const SENTINEL_TEXT: &str = "sentinel: must never change\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Tar,
    TarGz,
    Zip,
    TarXz,
    TarZst,
    TarBz2,
}

impl Format {
    fn build(self, entries: &[Entry]) -> Vec<u8> {
        match self {
            Format::Tar => tar(entries),
            Format::TarGz => tar_gz(entries),
            Format::Zip => zip(entries),
            Format::TarXz => Compressor::Xz.tar(entries),
            Format::TarZst => Compressor::Zstd.tar(entries),
            Format::TarBz2 => Compressor::Bzip2.tar(entries),
        }
    }

    /// Deliberately misleading names: the format must come from the magic bytes.
    fn file_name(self) -> &'static str {
        match self {
            Format::Tar => "pack-archive.tar",
            Format::TarGz => "pack-archive.tgz",
            Format::Zip => "pack-archive.zip",
            Format::TarXz | Format::TarZst | Format::TarBz2 => "pack-archive.tar.gz",
        }
    }
}

/// A temporary world: `packs/` (the store), `sentinel/` next to it, the archive, a config.
struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    packs: PathBuf,
    sentinel: PathBuf,
}

impl Env {
    fn new() -> Env {
        let (tmp, root) = temp_root();
        let packs = root.join("packs");
        let sentinel = root.join("sentinel");
        std::fs::create_dir(&packs).unwrap();
        std::fs::create_dir(&sentinel).unwrap();
        std::fs::write(sentinel.join("keep.txt"), SENTINEL_TEXT).unwrap();
        Env {
            _tmp: tmp,
            root,
            packs,
            sentinel,
        }
    }

    /// `../` repeated so that, from the staging tree
    /// (`packs/.attune-pack/staging/stage-XXXX/tree`), the name lands in the temp root.
    fn up_to_root() -> &'static str {
        "../../../../../"
    }

    /// Writes the config file (when given) that [`Env::install`] passes with `--config`.
    fn write_config(&self, config: Option<&str>) -> Option<PathBuf> {
        let cfg = config?;
        let path = self.root.join("config.yaml");
        std::fs::write(&path, cfg).unwrap();
        Some(path)
    }

    fn install(&self, archive: &Path, config: Option<&Path>) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("--packs-dir").arg(&self.packs).arg("--json");
        if let Some(path) = config {
            cmd.arg("--config").arg(path);
        }
        cmd.arg("install").arg(archive).output().unwrap()
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// One hostile case: the entries, the entry the error must name, a substring of the rule,
/// an optional config file, and paths that must not exist afterwards.
struct Case {
    entries: Vec<Entry>,
    entry: String,
    rule: String,
    config: Option<String>,
    absent: Vec<PathBuf>,
}

impl Case {
    fn new(entries: Vec<Entry>, entry: &str, rule: &str) -> Case {
        Case {
            entries,
            entry: entry.to_owned(),
            rule: rule.to_owned(),
            config: None,
            absent: Vec::new(),
        }
    }

    fn config(mut self, cfg: &str) -> Case {
        self.config = Some(cfg.to_owned());
        self
    }

    fn absent(mut self, path: PathBuf) -> Case {
        self.absent.push(path);
        self
    }
}

fn run_hostile(format: Format, make: fn(&Env) -> Case) {
    let env = Env::new();
    let case = make(&env);
    let archive = env.root.join(format.file_name());
    std::fs::write(&archive, format.build(&case.entries)).unwrap();
    let config = env.write_config(case.config.as_deref());
    let root_before = names_in(&env.root);

    let out = env.install(&archive, config.as_deref());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ctx = format!("{format:?}\nstdout: {stdout}\nstderr: {stderr}");

    assert_eq!(out.status.code(), Some(3), "exit code; {ctx}");
    // Names are shown escaped: nothing from the archive acts on the terminal.
    let raw = |text: &str| {
        text.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    };
    assert!(
        !raw(&stderr) && !raw(&stdout),
        "raw control characters; {ctx:?}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}); {ctx}"));
    assert_eq!(doc["error"]["code"], "unsafe_archive", "{ctx}");
    let named = format!("unsafe entry `{}`", case.entry);
    assert!(stderr.contains(&named), "stderr must name {named}; {ctx}");
    assert!(
        stderr.contains(&case.rule),
        "stderr must state the rule `{}`; {ctx}",
        case.rule
    );
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&named) && message.contains(&case.rule),
        "{ctx}"
    );

    // Nothing written outside staging.
    assert_eq!(names_in(&env.root), root_before, "temp root changed; {ctx}");
    assert_eq!(
        names_in(&env.sentinel),
        set(&["keep.txt"]),
        "sentinel changed; {ctx}"
    );
    assert_eq!(
        std::fs::read_to_string(env.sentinel.join("keep.txt")).unwrap(),
        SENTINEL_TEXT
    );
    for p in &case.absent {
        assert!(
            std::fs::symlink_metadata(p).is_err(),
            "{} must not exist; {ctx}",
            p.display()
        );
    }
    // The store is as it was: no pack, empty staging, no receipt, no kept version.
    assert_eq!(
        names_in(&env.packs),
        set(&[".attune-pack"]),
        "packs dir; {ctx}"
    );
    let meta = env.packs.join(".attune-pack");
    for sub in ["staging", "receipts", "versions"] {
        assert!(
            names_in(&meta.join(sub)).is_empty(),
            "{sub}/ must be empty; {ctx}"
        );
    }
    // The store still works and lists nothing.
    let list = Command::new(BIN)
        .arg("--packs-dir")
        .arg(&env.packs)
        .args(["--json", "list"])
        .output()
        .unwrap();
    assert_eq!(list.status.code(), Some(0));
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed, serde_json::json!([]));
}

/// Generates one test per format for a case.
macro_rules! hostile {
    ($name:ident, [$($format:ident),+], $make:expr) => {
        #[allow(non_snake_case)]
        mod $name {
            use super::*;
            $(
                #[test]
                fn $format() {
                    run_hostile(Format::$format, $make);
                }
            )+
        }
    };
    ($name:ident, $make:expr) => {
        hostile!($name, [Tar, TarGz, Zip], $make);
    };
}

const P: &str = "pack.yaml";

fn pack() -> Entry {
    pack_yaml("", "hostile")
}

// ---- names ---------------------------------------------------------------------------

hostile!(
    absolute_path,
    [Tar, TarGz, Zip, TarXz, TarZst, TarBz2],
    |env| {
        let target = env.sentinel.join("abs-evil");
        let name = target.to_str().unwrap().to_owned();
        Case::new(
            vec![pack(), file(&name, b"pwned")],
            &name,
            "absolute paths are refused",
        )
        .absent(target)
    }
);

hostile!(
    parent_component,
    [Tar, TarGz, Zip, TarXz, TarZst, TarBz2],
    |env| {
        let name = format!("{}sentinel/dotdot-evil", Env::up_to_root());
        Case::new(
            vec![pack(), file(&name, b"pwned")],
            &name,
            "paths with a `..` component are refused",
        )
        .absent(env.sentinel.join("dotdot-evil"))
    }
);

hostile!(parent_component_inside_a_name, |env| {
    let name = format!("a/../{}sentinel/inner-evil", Env::up_to_root());
    Case::new(
        vec![pack(), dir("a/"), file(&name, b"pwned")],
        &name,
        "paths with a `..` component are refused",
    )
    .absent(env.sentinel.join("inner-evil"))
});

hostile!(backslash_path, |env| {
    let name = "..\\..\\..\\..\\..\\sentinel\\bs-evil";
    Case::new(
        vec![pack(), file(name, b"pwned")],
        name,
        "paths containing a backslash are refused",
    )
    .absent(env.sentinel.join("bs-evil"))
});

hostile!(drive_letter, |env| {
    Case::new(
        vec![pack(), file("C:/x", b"pwned")],
        "C:/x",
        "paths with a drive letter are refused",
    )
    .absent(env.root.join("C:"))
});

hostile!(parent_is_a_file, |_env| {
    Case::new(
        vec![
            pack(),
            file("notes", b"a file"),
            file("notes/inner.txt", b"x"),
        ],
        "notes/inner.txt",
        "parent `notes` is not a directory",
    )
});

hostile!(duplicate_entry, |_env| {
    Case::new(
        vec![
            pack(),
            dir("actions/"),
            file("actions/run.sh", b"#!/bin/sh\necho reviewed\n"),
            file("actions/run.sh", b"#!/bin/sh\necho smuggled\n"),
        ],
        "actions/run.sh",
        "duplicate entry",
    )
});

hostile!(duplicate_pack_yaml, |_env| {
    Case::new(vec![pack(), pack_yaml("", "other")], P, "duplicate entry")
});

hostile!(case_only_difference, |_env| {
    Case::new(
        vec![pack(), file("README.md", b"one"), file("readme.md", b"two")],
        "readme.md",
        "differs only in case from entry `README.md`",
    )
});

hostile!(control_characters_in_a_name, |_env| {
    Case::new(
        vec![pack(), file("actions/\x1b]0;owned\x07\x1b[2J.sh", b"x")],
        "actions/\\u{1b}]0;owned\\u{7}\\u{1b}[2J.sh",
        "entry name contains a control character",
    )
});

hostile!(a_c1_control_character_in_a_name, |_env| {
    Case::new(
        vec![pack(), file("a\u{9b}31m", b"x")],
        "a\\u{9b}31m",
        "entry name contains a control character",
    )
});

hostile!(unicode_normalisation_collision, |_env| {
    Case::new(
        vec![
            pack(),
            file("caf\u{e9}.md", b"nfc"),
            file("cafe\u{301}.md", b"nfd"),
        ],
        "cafe\u{301}.md",
        "is the same file as entry `caf\u{e9}.md`",
    )
});

hostile!(case_folding_collision, |_env| {
    Case::new(
        vec![
            pack(),
            file("STRASSE.md", b"one"),
            file("stra\u{df}e.md", b"two"),
        ],
        "stra\u{df}e.md",
        "is the same file as entry `STRASSE.md`",
    )
});

hostile!(trailing_dot_collision, |_env| {
    Case::new(
        vec![pack(), file("notes", b"one"), file("notes.", b"two")],
        "notes.",
        "is the same file as entry `notes`",
    )
});

hostile!(case_only_difference_in_a_directory, |_env| {
    Case::new(
        vec![pack(), file("Docs/a.md", b"one"), file("docs/b.md", b"two")],
        "docs/b.md",
        "differs only in case from entry `Docs`",
    )
});

// ---- symlinks ------------------------------------------------------------------------

hostile!(
    symlink_absolute_target,
    [Tar, TarGz, Zip, TarXz, TarZst, TarBz2],
    |env| {
        let target = env.sentinel.to_str().unwrap().to_owned();
        Case::new(
            vec![pack(), symlink("escape", &target)],
            "escape",
            "symlinks must have a relative target",
        )
    }
);

hostile!(
    symlink_escaping_with_dotdot,
    [Tar, TarGz, Zip, TarXz, TarZst, TarBz2],
    |_env| {
        let target = format!("{}sentinel", Env::up_to_root());
        Case::new(
            vec![pack(), symlink("escape", &target)],
            "escape",
            "symlink target resolves outside the pack",
        )
    }
);

hostile!(symlink_escaping_from_a_subdirectory, |_env| {
    Case::new(
        vec![
            pack(),
            dir("a/"),
            dir("a/b/"),
            symlink("a/b/up", "../../.."),
        ],
        "a/b/up",
        "symlink target resolves outside the pack",
    )
});

hostile!(file_written_through_a_symlink, |_env| {
    Case::new(
        vec![
            pack(),
            dir("data/"),
            symlink("link", "data"),
            file("link/through.txt", b"pwned"),
        ],
        "link/through.txt",
        "parent `link` is not a directory",
    )
});

hostile!(symlink_replacing_a_directory_already_written, |_env| {
    Case::new(
        vec![
            pack(),
            file("link/first.txt", b"x"),
            symlink("link", "elsewhere"),
        ],
        "link",
        "duplicate entry",
    )
});

hostile!(symlink_chain_through_another_symlink, |_env| {
    Case::new(
        vec![
            pack(),
            dir("sub/"),
            file("sub/f.txt", b"x"),
            symlink("hop", "sub"),
            symlink("chain", "hop/f.txt"),
        ],
        "chain",
        "passes through another symlink `hop`",
    )
});

hostile!(symlink_to_a_symlink, |_env| {
    Case::new(
        vec![
            pack(),
            file("real.txt", b"x"),
            symlink("first", "real.txt"),
            symlink("second", "first"),
        ],
        "second",
        "passes through another symlink `first`",
    )
});

// `self -> .` is harmless, but `up -> self/..` resolves lexically to the pack root while the
// kernel follows `self` first and lands in the pack's parent directory.
hostile!(symlink_dotdot_after_another_symlink, |_env| {
    Case::new(
        vec![pack(), symlink("self", "."), symlink("up", "self/..")],
        "up",
        "passes through another symlink `self`",
    )
});

hostile!(symlink_leaving_the_pack_root_in_a_subdirectory, |_env| {
    Case::new(
        vec![
            pack_yaml("top/", "hostile"),
            file("secret.txt", b"not part of the pack"),
            symlink("top/leak", "../secret.txt"),
        ],
        "top/leak",
        "outside the pack root `top`",
    )
});

// Lexically `top/x.txt`, but once `top/` is installed as PACKS_DIR/hostile the path
// `../top/x.txt` names PACKS_DIR/top/x.txt: another pack.
hostile!(symlink_detouring_out_of_the_pack_root, |_env| {
    Case::new(
        vec![
            pack_yaml("top/", "hostile"),
            file("top/x.txt", b"x"),
            symlink("top/detour", "../top/x.txt"),
        ],
        "top/detour",
        "outside the pack root `top`",
    )
});

// `pack/pack.yaml` is found through the link `pack -> sub`: installing the pack root would
// install the link itself, an alias of whatever `PACKS_DIR/sub` is.
hostile!(pack_root_is_a_symlink, |_env| {
    Case::new(
        vec![pack_yaml("sub/", "hostile"), symlink("pack", "sub")],
        "pack",
        "outside the pack root `pack`",
    )
});

hostile!(symlink_target_with_backslashes, [Zip], |_env| {
    Case::new(
        vec![pack(), symlink("escape", "..\\..\\..\\..\\..\\sentinel")],
        "escape",
        "contains a backslash",
    )
});

hostile!(symlink_target_with_a_drive_letter, [Zip], |_env| {
    Case::new(
        vec![pack(), symlink("escape", "C:/Windows")],
        "escape",
        "drive letter",
    )
});

// ---- hardlinks (tar only: zip has none) ------------------------------------------------

hostile!(
    hardlink_to_a_path_not_in_the_archive,
    [Tar, TarGz],
    |_env| {
        Case::new(
            vec![pack(), hardlink("passwd", "etc/passwd")],
            "passwd",
            "hardlinks may only point to an earlier regular-file entry",
        )
    }
);

hostile!(hardlink_to_a_later_entry, [Tar, TarGz], |_env| {
    Case::new(
        vec![
            pack(),
            hardlink("early", "later.txt"),
            file("later.txt", b"x"),
        ],
        "early",
        "hardlinks may only point to an earlier regular-file entry",
    )
});

hostile!(hardlink_to_etc_passwd, [Tar, TarGz], |_env| {
    Case::new(
        vec![pack(), hardlink("passwd", "/etc/passwd")],
        "passwd",
        "hardlinks may only point to an earlier regular-file entry",
    )
});

hostile!(
    hardlink_escaping_with_dotdot,
    [Tar, TarGz, TarXz, TarZst, TarBz2],
    |_env| {
        let target = format!("{}sentinel/keep.txt", Env::up_to_root());
        Case::new(
            vec![pack(), hardlink("keep.txt", &target)],
            "keep.txt",
            "hardlinks may only point to an earlier regular-file entry",
        )
    }
);

hostile!(hardlink_to_a_symlink, [Tar, TarGz], |_env| {
    Case::new(
        vec![
            pack(),
            file("real.txt", b"x"),
            symlink("alias", "real.txt"),
            hardlink("copy", "alias"),
        ],
        "copy",
        "hardlinks may only point to an earlier regular-file entry",
    )
});

// ---- special files -------------------------------------------------------------------

hostile!(char_device, |_env| {
    Case::new(
        vec![pack(), Entry::CharDevice { name: "tty".into() }],
        "tty",
        "device file entries are refused",
    )
});

hostile!(block_device, |_env| {
    Case::new(
        vec![pack(), Entry::BlockDevice { name: "sda".into() }],
        "sda",
        "device file entries are refused",
    )
});

hostile!(fifo, |_env| {
    Case::new(
        vec![
            pack(),
            Entry::Fifo {
                name: "pipe".into(),
            },
        ],
        "pipe",
        "FIFO entries are refused",
    )
});

hostile!(socket, [Zip], |_env| {
    Case::new(
        vec![
            pack(),
            Entry::Socket {
                name: "sock".into(),
            },
        ],
        "sock",
        "socket entries are refused",
    )
});

// ---- tar name extensions must not bypass the rules -----------------------------------

hostile!(gnu_long_name_with_dotdot, [Tar, TarGz], |env| {
    let name = format!(
        "long/{}/{}sentinel/long-evil",
        "x".repeat(120),
        Env::up_to_root().repeat(2)
    );
    Case::new(
        vec![
            pack(),
            Entry::GnuLongNameFile {
                name: name.clone(),
                data: b"pwned".to_vec(),
            },
        ],
        &name,
        "paths with a `..` component are refused",
    )
    .absent(env.sentinel.join("long-evil"))
});

hostile!(
    pax_path_with_dotdot,
    [Tar, TarGz, TarXz, TarZst, TarBz2],
    |env| {
        let name = format!("{}sentinel/pax-evil", Env::up_to_root());
        Case::new(
            vec![
                pack(),
                Entry::PaxPathFile {
                    header_name: "harmless.txt".into(),
                    pax_path: name.clone(),
                    data: b"pwned".to_vec(),
                },
            ],
            &name,
            "paths with a `..` component are refused",
        )
        .absent(env.sentinel.join("pax-evil"))
        .absent(env.packs.join("hostile"))
    }
);

// GNU long names and pax records are held in memory while the next entry is read: a cap
// stops a record of a gigabyte of name (a few MB compressed) before it is read.
hostile!(gnu_long_name_over_the_extension_cap, [Tar, TarGz], |_env| {
    Case::new(
        vec![
            pack(),
            Entry::GnuLongNameFile {
                name: "a".repeat(1 << 20),
                data: b"x".to_vec(),
            },
        ],
        "././@LongLink",
        "tar extension record (GNU long name or pax header) of 1048577 bytes; at most 1048576 are read",
    )
});

hostile!(pax_record_over_the_extension_cap, [Tar, TarGz], |_env| {
    Case::new(
        vec![
            pack(),
            Entry::PaxPathFile {
                header_name: "harmless.txt".into(),
                pax_path: "p".repeat(1 << 20),
                data: b"x".to_vec(),
            },
        ],
        "PaxHeaders/x",
        "at most 1048576 are read",
    )
});

hostile!(a_path_component_over_255_bytes, [Tar, TarGz], |_env| {
    let name = format!("actions/{}", "n".repeat(300));
    Case::new(
        vec![
            pack(),
            Entry::GnuLongNameFile {
                name: name.clone(),
                data: b"x".to_vec(),
            },
        ],
        &name,
        "names are limited to 2048 bytes, and 255 bytes per path component",
    )
});

#[test]
fn a_huge_entry_name_is_shortened_in_the_error() {
    let env = Env::new();
    let name = vec!["d".repeat(200); 25].join("/");
    let archive = env.root.join("names.tar");
    let entries = [
        pack(),
        Entry::GnuLongNameFile {
            name: name.clone(),
            data: b"x".to_vec(),
        },
    ];
    std::fs::write(&archive, tar(&entries)).unwrap();
    let out = env.install(&archive, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("names are limited to 2048 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains(&name[..512]), "{stderr}");
    assert!(stderr.contains("… (5024 bytes)"), "{stderr}");
    assert!(stderr.len() < 2000, "{} bytes of stderr", stderr.len());
}

hostile!(gnu_long_name_and_pax_path_disagree, [Tar, TarGz], |_env| {
    // POSIX says the pax path wins, the tar crate takes the long name: neither reading is safe.
    Case::new(
        vec![
            pack(),
            raw(b'L', "././@LongLink", b"actions/one.yaml\0".to_vec()),
            raw(
                b'x',
                "PaxHeaders/x",
                pax_data(&[("path", "actions/other.yaml")]),
            ),
            file("placeholder", b"x"),
        ],
        "placeholder",
        "a GNU long name and a pax path name it differently: archive readers disagree",
    )
});

fn raw(kind: u8, name: &str, data: Vec<u8>) -> Entry {
    Entry::Raw {
        kind,
        name: name.into(),
        data,
    }
}

hostile!(a_pax_key_given_twice, [Tar, TarGz], |_env| {
    // tar-rs would take the first path, GNU tar, bsdtar and Python the last.
    Case::new(
        vec![
            pack(),
            raw(
                b'x',
                "PaxHeaders/twice",
                pax_data(&[("path", "good.txt"), ("path", "evil.txt")]),
            ),
            file("placeholder", b"x"),
        ],
        "PaxHeaders/twice",
        "a pax record gives the same key twice: archive readers disagree",
    )
});

hostile!(a_global_pax_path, [Tar, TarGz], |_env| {
    // GNU tar and Python apply it to every later entry, bsdtar ignores it.
    Case::new(
        vec![
            pack(),
            raw(b'g', "GlobalHead", pax_data(&[("path", "zzz")])),
            file("a.txt", b"x"),
        ],
        "GlobalHead",
        "a global pax record sets a path, link or size",
    )
});

hostile!(
    gnu_long_link_and_pax_linkpath_disagree,
    [Tar, TarGz],
    |_env| {
        Case::new(
            vec![
                pack(),
                file("a.txt", b"x"),
                raw(b'K', "././@LongLink", b"a.txt\0".to_vec()),
                raw(b'x', "PaxHeaders/l", pax_data(&[("linkpath", "pack.yaml")])),
                symlink("l", "whatever"),
            ],
            "l",
            "a GNU long link and a pax linkpath give it different targets",
        )
    }
);

hostile!(a_pax_sparse_file, [Tar, TarGz], |_env| {
    Case::new(
        vec![
            pack(),
            raw(
                b'x',
                "PaxHeaders/sparse",
                pax_data(&[("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0")]),
            ),
            file("GNUSparseFile.1/sparse", b"map"),
        ],
        "PaxHeaders/sparse",
        "sparse file entries are refused",
    )
});

hostile!(data_under_git_counts_toward_the_limit, |_env| {
    // `.git/` is never installed, but it is still decompressed.
    Case::new(
        vec![pack(), file(".git/objects/big", &vec![0u8; 2 << 20])],
        ".git/objects/big",
        "unpacked size exceeds 1048576 bytes (limits.max_unpacked_bytes)",
    )
    .config("limits: {max_unpacked_bytes: 1MiB}\n")
});

hostile!(overlapping_zip_entries, [Zip], |_env| {
    Case::new(
        vec![
            pack(),
            file("a.bin", &[0u8; 4096]),
            Entry::ZipAlias {
                name: "b.bin".into(),
                of: "a.bin".into(),
            },
        ],
        "b.bin",
        "its bytes in the zip overlap those of entry `a.bin`",
    )
});

hostile!(a_zip_local_header_naming_another_file, [Zip], |_env| {
    // A streaming reader (bsdtar -tf -) goes by local headers and would see `evil.sh`.
    Case::new(
        vec![
            pack(),
            Entry::ZipRenamed {
                local: "evil.sh".into(),
                name: "a.txt".into(),
                data: b"x".to_vec(),
            },
        ],
        "(local file headers)",
        "the zip's local headers and central directory differ",
    )
});

// ---- limits --------------------------------------------------------------------------

hostile!(too_many_entries, |_env| {
    let mut entries = vec![pack()];
    for i in 1..=10 {
        entries.push(file(&format!("f{i:02}"), b"x"));
    }
    // pack.yaml is entry 1, so f05 is the sixth.
    Case::new(entries, "f05", "more than 5 entries (limits.max_entries)")
        .config("limits: {max_entries: 5}\n")
});

hostile!(
    unpacked_size_over_the_limit,
    [Tar, TarGz, Zip, TarXz, TarZst, TarBz2],
    |_env| {
        // 16 MiB of zeros: a few KiB compressed (gzip or deflate), 16x the limit unpacked.
        let bomb = vec![0u8; 16 << 20];
        Case::new(
            vec![pack(), file("bomb.bin", &bomb)],
            "bomb.bin",
            "unpacked size exceeds 1048576 bytes (limits.max_unpacked_bytes)",
        )
        .config("limits:\n  max_unpacked_bytes: 1MiB\n")
    }
);

hostile!(unpacked_size_over_the_limit_across_files, |_env| {
    let chunk = vec![b'a'; 300 * 1024];
    Case::new(
        vec![
            pack(),
            file("one.bin", &chunk),
            file("two.bin", &chunk),
            file("three.bin", &chunk),
            file("four.bin", &chunk),
        ],
        "four.bin",
        "limits.max_unpacked_bytes",
    )
    .config("limits: {max_unpacked_bytes: 1048576}\n")
});

hostile!(
    data_skipped_under_a_directory_counts_toward_the_limit,
    [Tar, TarGz],
    |_env| {
        // Nothing is written, but 2 MiB are decompressed: a directory with a gigabyte of zeros
        // would otherwise keep the CPU busy unbounded.
        Case::new(
            vec![
                pack(),
                Entry::DirWithData {
                    name: "empty/".into(),
                    data: vec![0u8; 2 << 20],
                },
            ],
            "empty/",
            "unpacked size exceeds 1048576 bytes (limits.max_unpacked_bytes)",
        )
        .config("limits: {max_unpacked_bytes: 1MiB}\n")
    }
);

#[test]
fn the_compression_bombs_are_small() {
    let bomb = tar_gz(&[pack(), file("bomb.bin", &vec![0u8; 16 << 20])]);
    assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
    let bomb = zip(&[pack(), file("bomb.bin", &vec![0u8; 16 << 20])]);
    assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
    for compressor in Compressor::NEWER {
        let bomb = compressor.tar(&[pack(), file("bomb.bin", &vec![0u8; 16 << 20])]);
        assert!(
            bomb.len() < 64 * 1024,
            "{compressor:?}: {} bytes",
            bomb.len()
        );
    }
}

// ---- what is allowed -----------------------------------------------------------------

fn install_ok(env: &Env, format: Format, entries: &[Entry]) -> serde_json::Value {
    let archive = env.root.join(format.file_name());
    std::fs::write(&archive, format.build(entries)).unwrap();
    let out = env.install(&archive, None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{format:?}: stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn safe_links(format: Format) {
    let env = Env::new();
    let receipt = install_ok(
        &env,
        format,
        &[
            pack_yaml("", "okpack"),
            dir("actions/"),
            file_mode("actions/run.sh", b"#!/bin/sh\necho hi\n", 0o755),
            symlink("actions/alias.sh", "run.sh"),
            dir("lib/"),
            symlink("lib/actions", "../actions"),
            symlink("lib/self", "."),
        ],
    );
    let root = env.packs.join("okpack");
    assert_eq!(receipt["path"], root.to_str().unwrap());
    assert_eq!(
        std::fs::read_link(root.join("actions/alias.sh")).unwrap(),
        Path::new("run.sh")
    );
    assert_eq!(
        std::fs::read_link(root.join("lib/actions")).unwrap(),
        Path::new("../actions")
    );
    assert_eq!(
        std::fs::read_to_string(root.join("lib/actions/alias.sh")).unwrap(),
        "#!/bin/sh\necho hi\n"
    );
    assert!(std::fs::symlink_metadata(root.join("lib/self"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(names_in(&env.packs.join(".attune-pack/staging")).is_empty());
}

fn long_names(format: Format) {
    let env = Env::new();
    let gnu = format!("actions/{}.yaml", "g".repeat(150));
    let pax = format!("actions/{}.yaml", "p".repeat(150));
    install_ok(
        &env,
        format,
        &[
            pack_yaml("", "okpack"),
            Entry::GnuLongNameFile {
                name: gnu.clone(),
                data: b"gnu\n".to_vec(),
            },
            Entry::PaxPathFile {
                header_name: "placeholder-pax".into(),
                pax_path: pax.clone(),
                data: b"pax\n".to_vec(),
            },
        ],
    );
    let root = env.packs.join("okpack");
    assert_eq!(std::fs::read_to_string(root.join(&gnu)).unwrap(), "gnu\n");
    assert_eq!(std::fs::read_to_string(root.join(&pax)).unwrap(), "pax\n");
    assert_eq!(
        names_in(&root),
        set(&["actions", "pack.yaml"]),
        "no placeholder names"
    );
}

#[test]
fn pax_records_with_large_extended_attributes_are_installed() {
    // GNU tar --xattrs and bsdtar store xattrs in pax records; they are read, not applied.
    for format in [Format::Tar, Format::TarGz] {
        let env = Env::new();
        let xattr = "v".repeat(160 * 1024);
        install_ok(
            &env,
            format,
            &[
                raw(
                    b'x',
                    "PaxHeaders/pack.yaml",
                    pax_data(&[("SCHILY.xattr.user.big", &xattr)]),
                ),
                pack_yaml("", "okpack"),
                raw(b'g', "GlobalHead", pax_data(&[("comment", &xattr)])),
                file("a.txt", b"a\n"),
            ],
        );
        let root = env.packs.join("okpack");
        assert_eq!(std::fs::read_to_string(root.join("a.txt")).unwrap(), "a\n");
    }
}

#[test]
fn gnu_long_names_and_pax_paths_are_installed_tar() {
    long_names(Format::Tar);
}

#[test]
fn gnu_long_names_and_pax_paths_are_installed_tar_gz() {
    long_names(Format::TarGz);
}

#[test]
fn a_safe_relative_symlink_is_installed_tar_gz() {
    safe_links(Format::TarGz);
}

#[test]
fn a_safe_relative_symlink_is_installed_zip() {
    safe_links(Format::Zip);
}

#[test]
fn a_safe_relative_symlink_is_installed_from_a_subdirectory_pack_root() {
    let env = Env::new();
    install_ok(
        &env,
        Format::TarGz,
        &[
            pack_yaml("repo-main/", "okpack"),
            file("repo-main/a.txt", b"a"),
            symlink("repo-main/b.txt", "a.txt"),
            symlink("repo-main/root", "."),
        ],
    );
    let root = env.packs.join("okpack");
    assert_eq!(std::fs::read_to_string(root.join("b.txt")).unwrap(), "a");
    assert_eq!(
        std::fs::read_link(root.join("root")).unwrap(),
        Path::new(".")
    );
}

#[cfg(unix)]
fn hardlink_copy(format: Format) {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    install_ok(
        &env,
        format,
        &[
            pack_yaml("", "okpack"),
            file("data/original.txt", b"shared bytes\n"),
            hardlink("copy.txt", "data/original.txt"),
        ],
    );
    let root = env.packs.join("okpack");
    let original = std::fs::symlink_metadata(root.join("data/original.txt")).unwrap();
    let copy = std::fs::symlink_metadata(root.join("copy.txt")).unwrap();
    assert!(copy.file_type().is_file());
    assert_eq!(copy.nlink(), 1, "written as a copy, not a hardlink");
    assert_eq!(original.nlink(), 1);
    assert_ne!(copy.ino(), original.ino());
    assert_eq!(
        std::fs::read(root.join("copy.txt")).unwrap(),
        b"shared bytes\n"
    );
    assert_eq!(mode(&root.join("copy.txt")), 0o644);
}

#[cfg(unix)]
#[test]
fn a_hardlink_to_an_earlier_file_is_installed_as_a_copy_tar() {
    hardlink_copy(Format::Tar);
}

#[cfg(unix)]
#[test]
fn a_hardlink_to_an_earlier_file_is_installed_as_a_copy_tar_gz() {
    hardlink_copy(Format::TarGz);
}

#[cfg(unix)]
fn modes_dropped(format: Format) {
    let env = Env::new();
    install_ok(
        &env,
        format,
        &[
            pack_yaml("", "okpack"),
            file_mode("setuid", b"x", 0o4755),
            file_mode("setgid", b"x", 0o2775),
            file_mode("sticky", b"x", 0o1777),
            file_mode("group-write", b"x", 0o664),
            file_mode("world-write", b"x", 0o666),
            file_mode("owner-only", b"x", 0o600),
            file_mode("owner-exec", b"x", 0o700),
            file_mode("group-exec-only", b"x", 0o654),
        ],
    );
    let root = env.packs.join("okpack");
    for (name, want) in [
        ("setuid", 0o755),
        ("setgid", 0o755),
        ("sticky", 0o755),
        ("group-write", 0o644),
        ("world-write", 0o644),
        ("owner-only", 0o644),
        ("owner-exec", 0o755),
        ("group-exec-only", 0o644),
        ("pack.yaml", 0o644),
    ] {
        assert_eq!(
            mode(&root.join(name)),
            want,
            "{format:?}: mode of {name} is {:o}",
            mode(&root.join(name))
        );
    }
}

#[cfg(unix)]
#[test]
fn setuid_and_group_write_modes_are_dropped_tar() {
    modes_dropped(Format::Tar);
}

#[cfg(unix)]
#[test]
fn setuid_and_group_write_modes_are_dropped_tar_gz() {
    modes_dropped(Format::TarGz);
}

#[cfg(unix)]
#[test]
fn setuid_and_group_write_modes_are_dropped_zip() {
    modes_dropped(Format::Zip);
}

#[test]
fn git_metadata_inside_an_archive_is_not_installed() {
    // `.git` as git and the file systems it runs on read it, at any depth, directory or file.
    let spellings = [
        ".git",
        ".GIT",
        ".Git",
        ".git.",
        ".git ",
        "git~1",
        ".git::$INDEX_ALLOCATION",
        ".g\u{200c}it",
    ];
    for format in [Format::Tar, Format::TarGz, Format::Zip] {
        let env = Env::new();
        let mut entries = vec![pack_yaml("", "okpack"), file("sub/kept.txt", b"kept\n")];
        for name in spellings {
            entries.push(dir(&format!("{name}/")));
            entries.push(file(&format!("{name}/config"), b"[core]\n"));
            entries.push(file(&format!("sub/{name}"), b"[core]\n"));
        }
        let receipt = install_ok(&env, format, &entries);
        for name in spellings {
            assert!(
                !env.packs.join("okpack").join(name).exists(),
                "{name} {format:?}"
            );
            assert!(
                !env.packs.join("okpack/sub").join(name).exists(),
                "sub/{name} {format:?}"
            );
        }
        assert!(env.packs.join("okpack/pack.yaml").is_file());
        // The content checksum covers what was installed, nothing of the `.git` spellings.
        let sum = Command::new(BIN)
            .arg("checksum")
            .arg(env.packs.join("okpack"))
            .output()
            .unwrap();
        assert_eq!(
            receipt["checksum"]["content"].as_str().unwrap(),
            String::from_utf8_lossy(&sum.stdout).trim()
        );
    }
}
