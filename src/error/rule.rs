//! The rules of path safety an entry can break, as error values: the writer decides, the
//! error reports, and callers (and the command line) can tell one rule from another.

use std::fmt;

/// The rule an entry broke.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    EmptyName,
    NotUtf8,
    NulByte,
    AbsolutePath,
    DriveLetter,
    Backslash,
    ParentComponent,
    LinkTargetAbsolute,
    LinkTargetInvalid,
    NameTooLong,
    ExtensionTooLarge(u64),
    Overlapping { other: String },
    Ambiguous(String),
    LinkEscapes,
    LinkThroughLink { link: String },
    LinkEscapesPack { pack_root: String },
    HardlinkTarget,
    SpecialFile(&'static str),
    Duplicate,
    CaseConflict { other: String },
    Collision { other: String },
    ControlCharacter,
    TreeEntryName,
    ParentNotDirectory { parent: String },
    TooManyEntries(u64),
    UnpackedTooLarge(u64),
    DownloadTooLarge(u64),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::EmptyName => write!(f, "empty entry name"),
            Rule::NotUtf8 => write!(f, "entry name is not valid UTF-8"),
            Rule::NulByte => write!(f, "entry name contains a NUL byte"),
            Rule::AbsolutePath => write!(f, "absolute paths are refused"),
            Rule::DriveLetter => write!(f, "paths with a drive letter are refused"),
            Rule::Backslash => write!(f, "paths containing a backslash are refused"),
            Rule::ParentComponent => write!(f, "paths with a `..` component are refused"),
            Rule::LinkTargetAbsolute => write!(f, "symlinks must have a relative target"),
            Rule::LinkTargetInvalid => write!(
                f,
                "symlink target is empty, longer than {MAX_NAME_BYTES} bytes, or contains a backslash, drive letter or control character"
            ),
            Rule::NameTooLong => write!(
                f,
                "names are limited to {MAX_NAME_BYTES} bytes, and {MAX_COMPONENT_BYTES} bytes per path component"
            ),
            Rule::Overlapping { other } => write!(
                f,
                "its bytes in the zip overlap those of entry `{other}` (a zip bomb or an archive that readers see differently)"
            ),
            Rule::Ambiguous(why) => {
                write!(f, "{why}: archive readers disagree on what is in it")
            }
            Rule::ExtensionTooLarge(size) => write!(
                f,
                "tar extension record (GNU long name or pax header) of {size} bytes; at most {MAX_EXTENSION_BYTES} are read"
            ),
            Rule::LinkEscapes => write!(f, "symlink target resolves outside the pack"),
            Rule::LinkThroughLink { link } => {
                write!(f, "symlink target passes through another symlink `{link}`")
            }
            Rule::LinkEscapesPack { pack_root } => {
                write!(
                    f,
                    "symlink target resolves outside the pack root `{pack_root}`"
                )
            }
            Rule::HardlinkTarget => write!(
                f,
                "hardlinks may only point to an earlier regular-file entry of the same archive"
            ),
            Rule::SpecialFile(kind) => write!(f, "{kind} entries are refused"),
            Rule::Duplicate => write!(f, "duplicate entry"),
            Rule::CaseConflict { other } => {
                write!(f, "differs only in case from entry `{other}`")
            }
            Rule::Collision { other } => write!(
                f,
                "is the same file as entry `{other}` where names are compared case-insensitively or after Unicode normalisation (macOS, Windows)"
            ),
            Rule::ControlCharacter => write!(f, "entry name contains a control character"),
            Rule::TreeEntryName => write!(
                f,
                "a git tree entry may not be named `.`, `..` or nothing, nor hold a `/`"
            ),
            Rule::ParentNotDirectory { parent } => {
                write!(
                    f,
                    "parent `{parent}` is not a directory (a file or symlink)"
                )
            }
            Rule::TooManyEntries(limit) => {
                write!(f, "more than {limit} entries (limits.max_entries)")
            }
            Rule::UnpackedTooLarge(limit) => {
                write!(
                    f,
                    "unpacked size exceeds {limit} bytes (limits.max_unpacked_bytes)"
                )
            }
            Rule::DownloadTooLarge(limit) => {
                write!(
                    f,
                    "download exceeds {limit} bytes (limits.max_download_bytes)"
                )
            }
        }
    }
}

/// Longest entry name or link target: half of Linux's PATH_MAX, leaving room for the store's
/// own path in front of it (the file system refuses longer).
pub const MAX_NAME_BYTES: usize = 2048;
/// Longest path component (NAME_MAX of common file systems).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Largest tar extension record (GNU long name or link, pax header) read into memory: real
/// ones hold a path or a few records and extended attributes (tens of KiB at most).
pub const MAX_EXTENSION_BYTES: u64 = 1 << 20;
