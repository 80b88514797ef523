//! The rules of path safety an entry can break, as error values: the writer decides, the
//! error reports, and callers (and the command line) can tell one rule from another.

/// Longest entry name or link target: half of Linux's PATH_MAX, leaving room for the store's
/// own path in front of it (the file system refuses longer).
pub const MAX_NAME_BYTES: usize = 2048;
/// Longest path component (NAME_MAX of common file systems).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Largest tar extension record (GNU long name or link, pax header) read into memory: real
/// ones hold a path or a few records and extended attributes (tens of KiB at most).
pub const MAX_EXTENSION_BYTES: u64 = 1 << 20;

/// The rule an entry broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rule {
    /// An entry with no name.
    #[error("empty entry name")]
    EmptyName,
    /// A name (or link target) that is not UTF-8.
    #[error("entry name is not valid UTF-8")]
    NotUtf8,
    /// A NUL byte in a name.
    #[error("entry name contains a NUL byte")]
    NulByte,
    /// `/etc/passwd`.
    #[error("absolute paths are refused")]
    AbsolutePath,
    /// `C:/x`.
    #[error("paths with a drive letter are refused")]
    DriveLetter,
    /// `a\..\b`.
    #[error("paths containing a backslash are refused")]
    Backslash,
    /// `a/../b`.
    #[error("paths with a `..` component are refused")]
    ParentComponent,
    /// A symlink to an absolute path.
    #[error("symlinks must have a relative target")]
    LinkTargetAbsolute,
    /// A symlink target that is empty, too long, or holds a backslash, a drive letter or a
    /// control character.
    #[error("symlink target is empty, longer than {MAX_NAME_BYTES} bytes, or contains a backslash, drive letter or control character")]
    LinkTargetInvalid,
    /// A name or component over the length limits.
    #[error("names are limited to {MAX_NAME_BYTES} bytes, and {MAX_COMPONENT_BYTES} bytes per path component")]
    NameTooLong,
    /// A tar extension record (GNU long name, pax header) over its limit, in bytes.
    #[error("tar extension record (GNU long name or pax header) of {0} bytes; at most {MAX_EXTENSION_BYTES} are read")]
    ExtensionTooLarge(u64),
    /// Zip entries whose bytes overlap.
    #[error("its bytes in the zip overlap those of entry `{other}` (a zip bomb or an archive that readers see differently)")]
    Overlapping {
        /// The entry it overlaps.
        other: String,
    },
    /// Something archive readers would read differently (the reason given).
    #[error("{0}: archive readers disagree on what is in it")]
    Ambiguous(String),
    /// A symlink that resolves outside the tree.
    #[error("symlink target resolves outside the pack")]
    LinkEscapes,
    /// A symlink whose target passes through another symlink.
    #[error("symlink target passes through another symlink `{link}`")]
    LinkThroughLink {
        /// The symlink passed through.
        link: String,
    },
    /// A symlink that resolves outside the pack root (a subdirectory of the source).
    #[error("symlink target resolves outside the pack root `{pack_root}`")]
    LinkEscapesPack {
        /// The pack root, relative to the source.
        pack_root: String,
    },
    /// A hardlink to anything but an earlier regular file of the same archive.
    #[error("hardlinks may only point to an earlier regular-file entry of the same archive")]
    HardlinkTarget,
    /// A device file, FIFO, socket or sparse file (which one).
    #[error("{0} entries are refused")]
    SpecialFile(&'static str),
    /// An entry given twice.
    #[error("duplicate entry")]
    Duplicate,
    /// A name that differs from an earlier one only in ASCII case.
    #[error("differs only in case from entry `{other}`")]
    CaseConflict {
        /// The earlier entry.
        other: String,
    },
    /// A name that is the same file as an earlier one after case folding, Unicode
    /// normalisation or trailing-dot stripping.
    #[error("is the same file as entry `{other}` where names are compared case-insensitively or after Unicode normalisation (macOS, Windows)")]
    Collision {
        /// The earlier entry.
        other: String,
    },
    /// A control character in a name.
    #[error("entry name contains a control character")]
    ControlCharacter,
    /// A git tree entry named `.`, `..`, nothing, or holding a `/`.
    #[error("a git tree entry may not be named `.`, `..` or nothing, nor hold a `/`")]
    TreeEntryName,
    /// An entry under a file or a symlink.
    #[error("parent `{parent}` is not a directory (a file or symlink)")]
    ParentNotDirectory {
        /// The parent that is not a directory.
        parent: String,
    },
    /// More entries than `limits.max_entries` (the limit).
    #[error("more than {0} entries (limits.max_entries)")]
    TooManyEntries(u64),
    /// More bytes unpacked than `limits.max_unpacked_bytes` (the limit).
    #[error("unpacked size exceeds {0} bytes (limits.max_unpacked_bytes)")]
    UnpackedTooLarge(u64),
    /// More bytes downloaded than `limits.max_download_bytes` (the limit).
    #[error("download exceeds {0} bytes (limits.max_download_bytes)")]
    DownloadTooLarge(u64),
}
