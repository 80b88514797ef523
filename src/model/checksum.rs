//! Checksums as values: an [`Algorithm`] and a digest, written `algo:hex` (or read in SRI
//! form). Computing them is `hashing`'s job.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A hash algorithm that a checksum may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// SHA-256: what attune-pack computes and records.
    Sha256,
    /// SHA-512.
    Sha512,
    /// SHA-1: read for compatibility only (weak).
    Sha1,
    /// MD5: read for compatibility only (weak).
    Md5,
}

impl Algorithm {
    /// The name used in `algo:hex`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
            Algorithm::Sha1 => "sha1",
            Algorithm::Md5 => "md5",
        }
    }

    /// The length of a digest, in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
            Algorithm::Sha1 => 20,
            Algorithm::Md5 => 16,
        }
    }

    /// md5 and sha1 are only read for compatibility with older indices.
    pub fn is_weak(self) -> bool {
        matches!(self, Algorithm::Sha1 | Algorithm::Md5)
    }
}

impl FromStr for Algorithm {
    type Err = ParseChecksumError;
    fn from_str(s: &str) -> Result<Self, ParseChecksumError> {
        match s.to_ascii_lowercase().as_str() {
            "sha256" => Ok(Algorithm::Sha256),
            "sha512" => Ok(Algorithm::Sha512),
            "sha1" => Ok(Algorithm::Sha1),
            "md5" => Ok(Algorithm::Md5),
            _ => Err(ParseChecksumError {
                input: s.to_owned(),
                why: "unknown checksum algorithm (expected sha256, sha512, sha1 or md5)".into(),
            }),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A digest together with its algorithm; displayed as `algo:lowercasehex`.
///
/// ```
/// use attune_pack::Checksum;
/// let sum: Checksum = "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855".parse()?;
/// assert_eq!(sum.to_string(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
/// // SRI form, as package managers write it:
/// let sri: Checksum = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".parse()?;
/// assert_eq!(sri, sum);
/// # Ok::<(), attune_pack::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    /// The algorithm the digest was made with.
    pub algorithm: Algorithm,
    /// The digest's bytes.
    pub digest: Vec<u8>,
}

impl Checksum {
    /// The digest in lowercase hex.
    pub fn hex(&self) -> String {
        hex::encode(&self.digest)
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex())
    }
}

/// A checksum that could not be read, with what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid checksum `{input}`: {why}")]
pub struct ParseChecksumError {
    input: String,
    why: String,
}

impl FromStr for Checksum {
    type Err = ParseChecksumError;

    /// Reads `sha256:HEX` (hex in any case) or SRI `sha256-BASE64` / `sha512-BASE64`.
    fn from_str(s: &str) -> Result<Self, ParseChecksumError> {
        let s = s.trim();
        let bad = |why: &str| {
            ParseChecksumError {
            input: s.to_owned(),
            why: format!(
                "{why} (expected ALGO:HEX with ALGO sha256, sha512, sha1 or md5, or SRI sha256-BASE64)"
            ),
        }
        };
        let (algorithm, digest) = if let Some((algo, hex_part)) = s.split_once(':') {
            let algorithm: Algorithm = algo.parse().map_err(|_| bad("unknown algorithm"))?;
            let digest = hex::decode(hex_part).map_err(|_| bad("not hexadecimal"))?;
            (algorithm, digest)
        } else if let Some((algo, b64)) = s.split_once('-') {
            let algorithm = match algo.to_ascii_lowercase().as_str() {
                "sha256" => Algorithm::Sha256,
                "sha512" => Algorithm::Sha512,
                _ => return Err(bad("SRI form is read for sha256 and sha512 only")),
            };
            let digest = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| bad("not base64"))?;
            (algorithm, digest)
        } else {
            return Err(bad("no algorithm prefix"));
        };
        if digest.len() != algorithm.digest_len() {
            return Err(bad(&format!(
                "{} digests are {} bytes, this one has {}",
                algorithm,
                algorithm.digest_len(),
                digest.len()
            )));
        }
        Ok(Checksum { algorithm, digest })
    }
}

impl Serialize for Checksum {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Checksum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_sri_forms() {
        let hex = "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        let c: Checksum = hex.parse().unwrap();
        assert_eq!(
            c.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sri: Checksum = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
            .parse()
            .unwrap();
        assert_eq!(sri, c);
        assert!("sha256:abcd".parse::<Checksum>().is_err());
        assert!("crc32:abcd".parse::<Checksum>().is_err());
        assert!("e3b0c442".parse::<Checksum>().is_err());
        assert!("md5-1B2M2Y8AsgTpgAmY7PhCfg==".parse::<Checksum>().is_err());
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Checksum>(&json).unwrap(), c);
    }
}
