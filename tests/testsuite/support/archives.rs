//! Builds tar (plain or compressed) and zip archives byte by byte, so tests can write the hostile entries
//! that well-behaved archive libraries refuse to produce: `..` and absolute names, links out
//! of the tree, devices, FIFOs, duplicate names, GNU long names and pax path overrides. Also
//! the temporary directory such tests install into, and what they read back from it.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One archive entry, written exactly as given (no normalisation at all).
#[derive(Debug, Clone)]
pub enum Entry {
    File {
        name: String,
        data: Vec<u8>,
        mode: u32,
    },
    Dir {
        name: String,
    },
    Symlink {
        name: String,
        target: String,
    },
    /// A tar hardlink (zip has no hardlinks).
    Hardlink {
        name: String,
        target: String,
    },
    CharDevice {
        name: String,
    },
    BlockDevice {
        name: String,
    },
    Fifo {
        name: String,
    },
    /// A zip entry with the socket type bits (tar has no socket type).
    Socket {
        name: String,
    },
    /// tar only: a directory header that carries data, which readers skip (but still
    /// decompress).
    DirWithData {
        name: String,
        data: Vec<u8>,
    },
    /// zip only: a file whose local header says `local` and central directory `name`.
    ZipRenamed {
        local: String,
        name: String,
        data: Vec<u8>,
    },
    /// zip only: a central-directory entry `name` whose bytes are the earlier entry `of`'s
    /// (overlapping entries, as zip bombs use).
    ZipAlias {
        name: String,
        of: String,
    },
    /// tar only: one record of type `kind` as is (`L`, `K`, `x`, `g`: see [`pax_data`]).
    Raw {
        kind: u8,
        name: String,
        data: Vec<u8>,
    },
    /// tar only: a GNU `././@LongLink` record naming the next entry, then a regular file.
    GnuLongNameFile {
        name: String,
        data: Vec<u8>,
    },
    /// tar only: a pax `x` record whose `path` overrides the next header's (harmless) name.
    PaxPathFile {
        header_name: String,
        pax_path: String,
        data: Vec<u8>,
    },
}

pub fn file(name: &str, data: &[u8]) -> Entry {
    Entry::File {
        name: name.into(),
        data: data.to_vec(),
        mode: 0o644,
    }
}

pub fn file_mode(name: &str, data: &[u8], mode: u32) -> Entry {
    Entry::File {
        name: name.into(),
        data: data.to_vec(),
        mode,
    }
}

pub fn dir(name: &str) -> Entry {
    Entry::Dir { name: name.into() }
}

pub fn symlink(name: &str, target: &str) -> Entry {
    Entry::Symlink {
        name: name.into(),
        target: target.into(),
    }
}

pub fn hardlink(name: &str, target: &str) -> Entry {
    Entry::Hardlink {
        name: name.into(),
        target: target.into(),
    }
}

/// The pack.yaml every test archive starts with, so a refusal is about the hostile entry.
pub fn pack_yaml(prefix: &str, pack_ref: &str) -> Entry {
    file(
        &format!("{prefix}pack.yaml"),
        format!("ref: {pack_ref}\nversion: 1.0.0\nlabel: Test pack\n").as_bytes(),
    )
}

// ---------------------------------------------------------------------------------------
// the temporary directory, and what lands in it

/// A new temporary directory (removed when the guard drops) and its canonical path.
pub fn temp_root() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    (tmp, root)
}

/// The names of a directory's entries.
pub fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The permission bits of `path` itself (a symlink is not followed).
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

// ---------------------------------------------------------------------------------------
// tar

fn octal(field: &mut [u8], value: u64) {
    // Width-1 octal digits, then NUL.
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    assert!(text.len() <= width, "{value} does not fit a tar field");
    field[..width].copy_from_slice(text.as_bytes());
    field[width] = 0;
}

fn put(field: &mut [u8], value: &[u8]) {
    assert!(
        value.len() <= field.len(),
        "`{}` does not fit a {}-byte tar field",
        String::from_utf8_lossy(value),
        field.len()
    );
    field[..value.len()].copy_from_slice(value);
}

/// One raw ustar header block.
fn tar_header(name: &[u8], typeflag: u8, size: u64, mode: u32, linkname: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    put(&mut h[0..100], name);
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 1_700_000_000);
    h[156] = typeflag;
    put(&mut h[157..257], linkname);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

fn tar_record(out: &mut Vec<u8>, header: [u8; 512], data: &[u8]) {
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, pad));
}

/// A plain (uncompressed) tar of `entries`, names written verbatim into the headers.
pub fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        match e {
            Entry::File { name, data, mode } => tar_record(
                &mut out,
                tar_header(name.as_bytes(), b'0', data.len() as u64, *mode, b""),
                data,
            ),
            Entry::Dir { name } => tar_record(
                &mut out,
                tar_header(name.as_bytes(), b'5', 0, 0o755, b""),
                b"",
            ),
            Entry::Symlink { name, target } => tar_record(
                &mut out,
                tar_header(name.as_bytes(), b'2', 0, 0o777, target.as_bytes()),
                b"",
            ),
            Entry::Hardlink { name, target } => tar_record(
                &mut out,
                tar_header(name.as_bytes(), b'1', 0, 0o644, target.as_bytes()),
                b"",
            ),
            Entry::CharDevice { name } => tar_record(
                &mut out,
                tar_header(name.as_bytes(), b'3', 0, 0o666, b""),
                b"",
            ),
            Entry::BlockDevice { name } => tar_record(
                &mut out,
                tar_header(name.as_bytes(), b'4', 0, 0o660, b""),
                b"",
            ),
            Entry::Fifo { name } => tar_record(
                &mut out,
                tar_header(name.as_bytes(), b'6', 0, 0o644, b""),
                b"",
            ),
            Entry::Socket { .. } => panic!("tar has no socket entries"),
            Entry::ZipAlias { .. } | Entry::ZipRenamed { .. } => panic!("{e:?} has no tar form"),
            Entry::Raw { kind, name, data } => tar_record(
                &mut out,
                tar_header(name.as_bytes(), *kind, data.len() as u64, 0o644, b""),
                data,
            ),
            Entry::DirWithData { name, data } => tar_record(
                &mut out,
                tar_header(name.as_bytes(), b'5', data.len() as u64, 0o755, b""),
                data,
            ),
            Entry::GnuLongNameFile { name, data } => {
                let mut long = name.as_bytes().to_vec();
                long.push(0);
                tar_record(
                    &mut out,
                    tar_header(b"././@LongLink", b'L', long.len() as u64, 0o644, b""),
                    &long,
                );
                tar_record(
                    &mut out,
                    tar_header(b"placeholder", b'0', data.len() as u64, 0o644, b""),
                    data,
                );
            }
            Entry::PaxPathFile {
                header_name,
                pax_path,
                data,
            } => {
                let pax = pax_record("path", pax_path);
                tar_record(
                    &mut out,
                    tar_header(b"PaxHeaders/x", b'x', pax.len() as u64, 0o644, b""),
                    &pax,
                );
                tar_record(
                    &mut out,
                    tar_header(header_name.as_bytes(), b'0', data.len() as u64, 0o644, b""),
                    data,
                );
            }
        }
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    out
}

/// `LEN key=value\n`, where LEN counts the whole record including its own digits.
/// The data of a pax record with these keys and values, in order.
pub fn pax_data(records: &[(&str, &str)]) -> Vec<u8> {
    records.iter().flat_map(|(k, v)| pax_record(k, v)).collect()
}

fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}").len() + body.len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn tar_gz(entries: &[Entry]) -> Vec<u8> {
    gzip(&tar(entries))
}

/// How a test tar is compressed, by the same Rust crates the binary decodes with (their
/// encoders), so no system program is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compressor {
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

impl Compressor {
    /// The formats added after gzip.
    pub const NEWER: [Compressor; 3] = [Compressor::Xz, Compressor::Zstd, Compressor::Bzip2];

    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        match self {
            Compressor::Gzip => gzip(data),
            Compressor::Xz => {
                let mut enc =
                    lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1))
                        .unwrap();
                enc.write_all(data).unwrap();
                enc.finish().unwrap()
            }
            Compressor::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
                // As the zstd program writes them.
                enc.include_checksum(true).unwrap();
                enc.write_all(data).unwrap();
                enc.finish().unwrap()
            }
            Compressor::Bzip2 => {
                let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                enc.write_all(data).unwrap();
                enc.finish().unwrap()
            }
        }
    }

    /// The format's name, as the binary's messages give it.
    pub fn name(self) -> &'static str {
        match self {
            Compressor::Gzip => "gzip",
            Compressor::Xz => "xz",
            Compressor::Zstd => "zstd",
            Compressor::Bzip2 => "bzip2",
        }
    }

    /// A tar of `entries`, compressed.
    pub fn tar(self, entries: &[Entry]) -> Vec<u8> {
        self.compress(&tar(entries))
    }
}

// ---------------------------------------------------------------------------------------
// zip (written by hand: zip libraries refuse duplicate names and normalise some fields)

const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;
const S_IFBLK: u32 = 0o060000;
const S_IFIFO: u32 = 0o010000;
const S_IFSOCK: u32 = 0o140000;

fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A zip of `entries`: one local header + data each, then the central directory. Files are
/// deflated when that makes them smaller (so a run of zeros is a small "zip bomb").
/// What a zip central-directory header says about one entry.
#[derive(Clone)]
struct Central {
    method: u16,
    crc: u32,
    stored_len: u32,
    data_len: u32,
    unix_mode: u32,
    offset: u32,
}

impl Central {
    fn write(&self, name: &str, central: &mut Vec<u8>) {
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes()); // made by: Unix
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0x0800u16.to_le_bytes());
        central.extend_from_slice(&self.method.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x5821u16.to_le_bytes());
        central.extend_from_slice(&self.crc.to_le_bytes());
        central.extend_from_slice(&self.stored_len.to_le_bytes());
        central.extend_from_slice(&self.data_len.to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes()); // extra
        central.extend_from_slice(&0u16.to_le_bytes()); // comment
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
        let dos_dir = if self.unix_mode & 0o170000 == S_IFDIR {
            0x10
        } else {
            0
        };
        central.extend_from_slice(&((self.unix_mode << 16) | dos_dir).to_le_bytes());
        central.extend_from_slice(&self.offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
}

pub fn zip(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut written = std::collections::HashMap::new();
    let mut count: u16 = 0;
    for e in entries {
        let mut local_name = None;
        let (name, data, unix_mode): (&str, Vec<u8>, u32) = match e {
            Entry::File { name, data, mode } => (name, data.clone(), S_IFREG | mode),
            Entry::ZipRenamed { local, name, data } => {
                local_name = Some(local.as_str());
                (name, data.clone(), S_IFREG | 0o644)
            }
            Entry::Dir { name } => (name, Vec::new(), S_IFDIR | 0o755),
            Entry::Symlink { name, target } => (name, target.as_bytes().to_vec(), S_IFLNK | 0o777),
            Entry::CharDevice { name } => (name, Vec::new(), S_IFCHR | 0o666),
            Entry::BlockDevice { name } => (name, Vec::new(), S_IFBLK | 0o660),
            Entry::Fifo { name } => (name, Vec::new(), S_IFIFO | 0o644),
            Entry::Socket { name } => (name, Vec::new(), S_IFSOCK | 0o755),
            Entry::ZipAlias { name, of } => {
                let earlier: &Central =
                    written.get(of.as_str()).expect("alias of an earlier entry");
                earlier.write(name, &mut central);
                count += 1;
                continue;
            }
            Entry::Hardlink { .. }
            | Entry::DirWithData { .. }
            | Entry::Raw { .. }
            | Entry::GnuLongNameFile { .. }
            | Entry::PaxPathFile { .. } => {
                panic!("{e:?} has no zip form")
            }
        };
        let crc = crc32(&data);
        let deflated = deflate(&data);
        let (method, stored): (u16, Vec<u8>) = if deflated.len() < data.len() {
            (8, deflated)
        } else {
            (0, data.clone())
        };
        let offset = out.len() as u32;
        // Local file header.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0x0800u16.to_le_bytes()); // flags: UTF-8 names
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&0x5821u16.to_le_bytes()); // date (2024-01-01)
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(stored.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        let local_name = local_name.unwrap_or(name);
        out.extend_from_slice(&(local_name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra length
        out.extend_from_slice(local_name.as_bytes());
        out.extend_from_slice(&stored);
        let header = Central {
            method,
            crc,
            stored_len: stored.len() as u32,
            data_len: data.len() as u32,
            unix_mode,
            offset,
        };
        header.write(name, &mut central);
        written.insert(name, header);
        count += 1;
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}
