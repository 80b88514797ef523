//! The compressions a tar arrives in (gzip, xz, zstd, bzip2), told apart by their magic
//! bytes and decoded as one stream: the decoders read from the hashing reader and hand the
//! tar bytes on, never holding more than their window. gzip, xz and bzip2 are decoded in Rust
//! (flate2 on zlib-rs, lzma-rust2, bzip2 on libbz2-rs-sys); zstd by libzstd, two to three
//! times as fast as ruzstd (README "Benchmarks") and builds with the musl-gcc the TLS
//! library needs already.

use std::io::{self, BufRead, Read};

use crate::integrity::hashing::is_limit_exceeded;

/// The largest dictionary (xz) or window (zstd) a stream may ask the decoder to allocate:
/// what `xz -9` (64 MiB) and zstd's own default limit (128 MiB) allow, so memory stays
/// bounded whatever a hostile header declares.
const MAX_WINDOW_BYTES: u64 = 128 << 20;

/// How a tar stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

impl Compression {
    /// The compressed formats, by the magic bytes they start with; `None` when `head` starts
    /// with none of them.
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        // bzip2's "BZh" and a block size are printable, so a tar member could be named so:
        // the block (or end-of-stream) magic after them makes it certain.
        let bzip2 = head.len() >= 10
            && head.starts_with(b"BZh")
            && (b'1'..=b'9').contains(&head[3])
            && matches!(&head[4..10], b"1AY&SY" | b"\x17\x72\x45\x38\x50\x90");
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(b"\xfd7zXZ\0") {
            Some(Compression::Xz)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if bzip2 {
            Some(Compression::Bzip2)
        } else {
            None
        }
    }

    /// The format's name, as messages give it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
        }
    }

    /// The usual file-name suffix of a tar compressed so (`tar.gz`, …).
    pub fn tar_extension(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "tar.gz",
            Compression::Xz => "tar.xz",
            Compression::Zstd => "tar.zst",
            Compression::Bzip2 => "tar.bz2",
        }
    }

    /// From a lowercase file name's suffix: the long and the short spellings.
    pub(crate) fn from_tar_suffix(name: &str) -> Option<Compression> {
        const SUFFIXES: [(&str, Compression); 9] = [
            (".tar", Compression::None),
            (".tar.gz", Compression::Gzip),
            (".tgz", Compression::Gzip),
            (".tar.xz", Compression::Xz),
            (".txz", Compression::Xz),
            (".tar.zst", Compression::Zstd),
            (".tzst", Compression::Zstd),
            (".tar.bz2", Compression::Bzip2),
            (".tbz2", Compression::Bzip2),
        ];
        SUFFIXES
            .iter()
            .find(|(suffix, _)| name.ends_with(suffix))
            .map(|(_, c)| *c)
    }
}

/// A tar stream's decoder over `R`: reads give the tar bytes. The decoders are boxed: their
/// states differ in size by kilobytes.
pub(crate) enum Decoder<R: BufRead> {
    Plain(R),
    Gzip(Box<flate2::bufread::GzDecoder<R>>),
    Xz(Box<lzma_rust2::XzReader<R>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, R>>),
    Bzip2(Box<bzip2::bufread::MultiBzDecoder<R>>),
}

impl<R: BufRead> Decoder<R> {
    /// Decodes `reader` as `compression`. xz, zstd and bzip2 streams may be several
    /// concatenated (as parallel compressors write them); gzip's first member is the tar.
    /// Fails only when libzstd cannot allocate its context.
    pub(crate) fn new(compression: Compression, reader: R) -> io::Result<Decoder<R>> {
        Ok(match compression {
            Compression::None => Decoder::Plain(reader),
            Compression::Gzip => Decoder::Gzip(Box::new(flate2::bufread::GzDecoder::new(reader))),
            Compression::Xz => Decoder::Xz(Box::new(lzma_rust2::XzReader::new_mem_limit(
                reader,
                true,
                (MAX_WINDOW_BYTES >> 10) as u32,
            ))),
            Compression::Zstd => {
                let mut decoder = zstd::stream::read::Decoder::with_buffer(reader)?;
                decoder.window_log_max(MAX_WINDOW_BYTES.ilog2())?;
                Decoder::Zstd(Box::new(decoder))
            }
            Compression::Bzip2 => {
                Decoder::Bzip2(Box::new(bzip2::bufread::MultiBzDecoder::new(reader)))
            }
        })
    }

    /// The reader, to read what follows the compressed stream.
    pub(crate) fn into_inner(self) -> R {
        match self {
            Decoder::Plain(r) => r,
            Decoder::Gzip(d) => d.into_inner(),
            Decoder::Xz(d) => d.into_inner(),
            Decoder::Zstd(d) => d.finish(),
            Decoder::Bzip2(d) => d.into_inner(),
        }
    }

    fn compression(&self) -> Compression {
        match self {
            Decoder::Plain(_) => Compression::None,
            Decoder::Gzip(_) => Compression::Gzip,
            Decoder::Xz(_) => Compression::Xz,
            Decoder::Zstd(_) => Compression::Zstd,
            Decoder::Bzip2(_) => Compression::Bzip2,
        }
    }
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = match self {
            Decoder::Plain(r) => return r.read(buf),
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Xz(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
            Decoder::Bzip2(d) => d.read(buf),
        };
        read.map_err(|e| damaged(self.compression(), e))
    }
}

/// A decoder's error, saying which format was damaged; the download limit passes unchanged
/// (it is recognized further up, through however many layers).
fn damaged(compression: Compression, e: io::Error) -> io::Error {
    if is_limit_exceeded(&e) {
        return e;
    }
    let name = compression.name();
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return io::Error::new(e.kind(), format!("the {name} stream ends early: {e}"));
    }
    io::Error::new(e.kind(), format!("damaged {name} stream: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_compressions_by_magic() {
        assert_eq!(
            Compression::sniff(&[0x1f, 0x8b, 8]),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::sniff(b"\xfd7zXZ\0\0\x04"),
            Some(Compression::Xz)
        );
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0x04]),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::sniff(b"BZh91AY&SYxx"),
            Some(Compression::Bzip2)
        );
        // A tar member named like a bzip2 header is still a tar.
        assert_eq!(Compression::sniff(b"BZh9-notes.txt\0\0"), None);
        assert_eq!(Compression::sniff(b"ustar"), None);
    }

    #[test]
    fn suffixes_long_and_short() {
        for (name, want) in [
            ("a.tar.xz", Compression::Xz),
            ("a.txz", Compression::Xz),
            ("a.tar.zst", Compression::Zstd),
            ("a.tzst", Compression::Zstd),
            ("a.tar.bz2", Compression::Bzip2),
            ("a.tbz2", Compression::Bzip2),
            ("a.tgz", Compression::Gzip),
            ("a.tar", Compression::None),
        ] {
            assert_eq!(Compression::from_tar_suffix(name), Some(want), "{name}");
        }
        assert_eq!(Compression::from_tar_suffix("a.zip"), None);
    }

    #[test]
    fn concatenated_zstd_frames_and_skippable_frames_decode_in_order() {
        let mut stream = Vec::new();
        // A skippable frame: magic 0x184D2A50, length 3, then 3 bytes.
        stream.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        stream.extend(zstd::encode_all(&b"first "[..], 1).unwrap());
        stream.extend(zstd::encode_all(&b"second"[..], 1).unwrap());
        let mut out = String::new();
        Decoder::new(Compression::Zstd, &stream[..])
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "first second");
    }

    /// The three newer formats, compressed from `tar`.
    fn compressed(tar: &[u8]) -> [(Compression, Vec<u8>); 3] {
        let mut xz = Vec::new();
        {
            let mut w =
                lzma_rust2::XzWriter::new(&mut xz, lzma_rust2::XzOptions::with_preset(1)).unwrap();
            io::Write::write_all(&mut w, tar).unwrap();
            w.finish().unwrap();
        }
        let zst = zstd::encode_all(tar, 1).unwrap();
        let mut bz = Vec::new();
        {
            let mut w = bzip2::write::BzEncoder::new(&mut bz, bzip2::Compression::fast());
            io::Write::write_all(&mut w, tar).unwrap();
            w.finish().unwrap();
        }
        [
            (Compression::Xz, xz),
            (Compression::Zstd, zst),
            (Compression::Bzip2, bz),
        ]
    }

    #[test]
    fn a_truncated_stream_is_an_early_end_naming_the_format() {
        for (compression, data) in compressed(&[7u8; 100_000]) {
            let cut = &data[..data.len() - 5];
            let e = Decoder::new(compression, cut)
                .unwrap()
                .read_to_end(&mut Vec::new())
                .unwrap_err();
            assert!(
                e.to_string().contains(compression.name()),
                "{compression:?}: {e}"
            );
        }
    }

    #[test]
    fn the_download_limit_passes_through_every_decoder() {
        use crate::integrity::hashing::HashingReader;
        use sha2::Digest as _;
        // Incompressible (200 KB of digests), so the compressed stream passes the limit.
        let noise: Vec<u8> = (0..6_250u32)
            .flat_map(|i| sha2::Sha256::digest(i.to_le_bytes()))
            .collect();
        for (compression, data) in compressed(&noise) {
            let limited = HashingReader::new(&data[..], &[], 50_000);
            let e = Decoder::new(compression, io::BufReader::new(limited))
                .unwrap()
                .read_to_end(&mut Vec::new())
                .unwrap_err();
            assert!(is_limit_exceeded(&e), "{compression:?}: {e}");
        }
    }
}
