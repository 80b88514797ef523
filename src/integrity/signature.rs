//! minisign signatures (Ed25519 over the BLAKE2b-512 of a document, plus a signed "trusted
//! comment"): checking an index's or a bundle's detached `.minisig` against the keys the
//! operator trusts, and writing one. The format is minisign's own, so the `minisign` program
//! signs what attune-pack verifies and verifies what it signs.
//!
//! Signing is deterministic (RFC 8032 Ed25519, no added noise): the same document, trusted
//! comment and key give the same bytes, which a reproducible bundle needs. minisign itself
//! adds noise; both verify alike.

use std::path::Path;

use base64::Engine;
use blake2::{Blake2b512, Digest};

/// Why a key, a secret key or a signature could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SignatureError(pub String);

fn err(msg: impl Into<String>) -> SignatureError {
    SignatureError(msg.into())
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A minisign key id: 8 bytes, shown as minisign prints it (the little-endian number in
/// upper-case hex), so an operator can match it with `minisign -G`'s output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 8]);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

/// A trusted minisign public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    id: KeyId,
    key: ed25519_compact::PublicKey,
}

impl PublicKey {
    /// A key as minisign writes it: the base64 line (`RWQ…`), or a whole `.pub` file (an
    /// `untrusted comment:` line, then the base64 line).
    pub fn parse(text: &str) -> Result<PublicKey, SignatureError> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .ok_or_else(|| err("no key in it"))?;
        let bytes = B64
            .decode(line)
            .map_err(|_| err("not a minisign public key (base64 expected)"))?;
        if bytes.len() != 42 || &bytes[..2] != b"Ed" {
            return Err(err(
                "not a minisign public key (42 bytes starting with `Ed` expected)",
            ));
        }
        let key = ed25519_compact::PublicKey::from_slice(&bytes[10..])
            .map_err(|_| err("not a valid Ed25519 public key"))?;
        Ok(PublicKey {
            id: KeyId(bytes[2..10].try_into().expect("8 bytes")),
            key,
        })
    }
}

/// The keys trusted for one index or bundle; any one of them may have signed it, so a key is
/// rotated by listing the new one before the old is dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys(Vec<PublicKey>);

impl TrustedKeys {
    /// Keys as configured: each is a key itself (`RWQ…`) or the path of a minisign `.pub`
    /// file (relative paths against `base`, the config file's directory).
    pub fn load(entries: &[String], base: Option<&Path>) -> Result<TrustedKeys, SignatureError> {
        let mut keys = Vec::new();
        for entry in entries {
            let key = match PublicKey::parse(entry) {
                Ok(key) => key,
                Err(inline) => {
                    let path = match base {
                        Some(base) => base.join(entry),
                        None => entry.into(),
                    };
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        err(format!(
                            "trusted key `{entry}` is neither a minisign public key ({inline}) nor a readable file ({}: {e})",
                            path.display()
                        ))
                    })?;
                    PublicKey::parse(&text)
                        .map_err(|e| err(format!("trusted key file {}: {e}", path.display())))?
                }
            };
            keys.push(key);
        }
        Ok(TrustedKeys(keys))
    }

    /// No key is configured: signatures are not required.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks `signature` (a `.minisig` file's text) over `document`: it must be made by one
    /// of these keys, over these bytes, with an intact trusted comment.
    pub fn verify(&self, document: &[u8], signature: &[u8]) -> Result<Verified, SignatureError> {
        let sig = ParsedSignature::parse(signature)?;
        match sig.prehashed {
            true => self.check(sig, &document_digest(document)),
            false => self.check(sig, document),
        }
    }

    /// [`TrustedKeys::verify`] for the document whose [`document_digest`] is `digest`, so a
    /// document already hashed is not hashed again. `None` when the signature signs the
    /// document itself (minisign before 0.8), which needs the document.
    pub fn verify_digest(
        &self,
        digest: &[u8; 64],
        signature: &[u8],
    ) -> Option<Result<Verified, SignatureError>> {
        match ParsedSignature::parse(signature) {
            Ok(sig) if !sig.prehashed => None,
            Ok(sig) => Some(self.check(sig, digest)),
            Err(e) => Some(Err(e)),
        }
    }

    /// Whether `sig` is by one of these keys over `message` (the document or its digest).
    fn check(&self, sig: ParsedSignature, message: &[u8]) -> Result<Verified, SignatureError> {
        let key = self.0.iter().find(|k| k.id == sig.key_id).ok_or_else(|| {
            err(format!(
                "signed by key {}, which is not trusted (trusted: {})",
                sig.key_id,
                self.ids()
            ))
        })?;
        key.key
            .verify(message, &sig.signature)
            .map_err(|_| err(format!("the signature by key {} does not match the document (altered, or signed for another file)", key.id)))?;
        let mut signed_comment = sig.signature.to_vec();
        signed_comment.extend_from_slice(sig.trusted_comment.as_bytes());
        key.key
            .verify(&signed_comment, &sig.global)
            .map_err(|_| err("the trusted comment of the signature was altered"))?;
        Ok(Verified {
            key_id: key.id,
            timestamp: timestamp_of(&sig.trusted_comment),
            trusted_comment: sig.trusted_comment,
        })
    }

    fn ids(&self) -> String {
        let ids: Vec<String> = self.0.iter().map(|k| k.id.to_string()).collect();
        ids.join(", ")
    }
}

/// The digest minisign signs (BLAKE2b-512 of the document's bytes).
pub fn document_digest(document: &[u8]) -> [u8; 64] {
    Blake2b512::digest(document).into()
}

/// Whether checking `signature` needs the document itself, not only its digest (a signature
/// by minisign before 0.8).
pub fn needs_document(signature: &[u8]) -> bool {
    ParsedSignature::parse(signature).is_ok_and(|s| !s.prehashed)
}

/// What a good signature says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The key that made it.
    pub key_id: KeyId,
    /// The trusted comment's `timestamp:` (Unix seconds), which minisign writes by default.
    pub timestamp: Option<u64>,
    /// The whole trusted comment.
    pub trusted_comment: String,
}

/// The parts of a `.minisig` file.
struct ParsedSignature {
    prehashed: bool,
    key_id: KeyId,
    signature: ed25519_compact::Signature,
    trusted_comment: String,
    global: ed25519_compact::Signature,
}

impl ParsedSignature {
    fn parse(bytes: &[u8]) -> Result<ParsedSignature, SignatureError> {
        let text = std::str::from_utf8(bytes).map_err(|_| err("the signature is not text"))?;
        let mut lines = text.lines();
        let mut next = || lines.next().map(|l| l.trim_end_matches('\r'));
        let malformed = || err("not a minisign signature (four lines expected)");
        if !next()
            .ok_or_else(malformed)?
            .starts_with("untrusted comment:")
        {
            return Err(malformed());
        }
        let sig = B64
            .decode(next().ok_or_else(malformed)?.trim())
            .map_err(|_| malformed())?;
        let trusted_comment = next()
            .ok_or_else(malformed)?
            .strip_prefix("trusted comment: ")
            .ok_or_else(malformed)?
            .to_owned();
        let global = B64
            .decode(next().ok_or_else(malformed)?.trim())
            .map_err(|_| malformed())?;
        let prehashed = match sig.get(..2) {
            Some(b"ED") => true,
            // minisign before 0.8 signed the document itself.
            Some(b"Ed") => false,
            _ => return Err(err("not a minisign signature (unknown algorithm)")),
        };
        if sig.len() != 74 || global.len() != 64 {
            return Err(malformed());
        }
        let signature =
            |b: &[u8]| ed25519_compact::Signature::from_slice(b).map_err(|_| malformed());
        Ok(ParsedSignature {
            prehashed,
            key_id: KeyId(sig[2..10].try_into().expect("8 bytes")),
            signature: signature(&sig[10..])?,
            trusted_comment,
            global: signature(&global)?,
        })
    }
}

/// `timestamp:1733390000` in a trusted comment (minisign writes `timestamp:T\tfile:NAME…`).
fn timestamp_of(comment: &str) -> Option<u64> {
    comment
        .split(['\t', ' '])
        .find_map(|field| field.strip_prefix("timestamp:"))
        .and_then(|t| t.parse().ok())
}

/// Asks for the password of an encrypted secret key (a prompt, or a file's first line).
pub type PasswordFn = Box<dyn FnOnce() -> std::result::Result<String, String> + Send>;

/// A minisign secret key, decrypted, ready to sign.
pub struct SigningKey {
    id: KeyId,
    key: ed25519_compact::SecretKey,
}

impl SigningKey {
    /// [`SigningKey::load`] with the password from `password`; without one, an encrypted key
    /// is an error saying how to give it. `flag` names the option in errors (`--sign-key`).
    pub fn open(
        path: &Path,
        password: Option<PasswordFn>,
        flag: &str,
    ) -> Result<SigningKey, SignatureError> {
        let ask = || match password {
            Some(ask) => ask().map_err(SignatureError),
            None => Err(SignatureError(format!(
                "{} is encrypted: give --password-file (or run on a terminal to be asked)",
                path.display()
            ))),
        };
        SigningKey::load(path, ask).map_err(|e| SignatureError(format!("{flag}: {}", e.0)))
    }

    /// Reads a minisign secret key file (`minisign -G` writes one); `password` is asked
    /// only when the key is encrypted.
    pub fn load(
        path: &Path,
        password: impl FnOnce() -> Result<String, SignatureError>,
    ) -> Result<SigningKey, SignatureError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
        let not_a_key = |why: &str| {
            err(format!(
                "{} is not a minisign secret key: {why}",
                path.display()
            ))
        };
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .ok_or_else(|| not_a_key("no key in it"))?;
        let mut bytes = B64.decode(line).map_err(|_| not_a_key("base64 expected"))?;
        if bytes.len() != 158 || &bytes[..2] != b"Ed" {
            return Err(not_a_key("158 bytes starting with `Ed` expected"));
        }
        if &bytes[2..4] != b"\0\0" {
            // Encrypted (scrypt): minisign's own code derives the key and checks the password.
            let boxed = minisign::SecretKeyBox::from_string(&text)
                .map_err(|e| not_a_key(&e.to_string()))?;
            let key = boxed.into_secret_key(Some(password()?)).map_err(|e| {
                err(format!(
                    "cannot decrypt the secret key {}: {e}",
                    path.display()
                ))
            })?;
            bytes = key.to_bytes();
        }
        // The layout minisign documents: algorithms (6 bytes), KDF salt (32), KDF limits (16),
        // then key id (8), Ed25519 secret key (64: seed, public key) and checksum (32).
        let id = KeyId(bytes[54..62].try_into().expect("8 bytes"));
        let key = ed25519_compact::SecretKey::from_slice(&bytes[62..126])
            .map_err(|_| not_a_key("not an Ed25519 secret key"))?;
        // minisign -W leaves the checksum zero; the key's two halves must agree instead.
        let derived = ed25519_compact::KeyPair::from_seed(key.seed());
        if derived.pk != key.public_key() {
            return Err(not_a_key("its key halves do not match (corrupt)"));
        }
        Ok(SigningKey { id, key })
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The `.minisig` text for `document`, with `trusted_comment` signed along (minisign's
    /// convention: `timestamp:UNIX_SECONDS\tfile:NAME`).
    pub fn sign(&self, document: &[u8], trusted_comment: &str) -> String {
        let signature = self.key.sign(Blake2b512::digest(document), None);
        let mut sig = b"ED".to_vec();
        sig.extend_from_slice(&self.id.0);
        sig.extend_from_slice(signature.as_ref());
        let mut signed_comment = signature.to_vec();
        signed_comment.extend_from_slice(trusted_comment.as_bytes());
        let global = self.key.sign(&signed_comment, None);
        format!(
            "untrusted comment: signature from attune-pack secret key\n{}\ntrusted comment: {trusted_comment}\n{}\n",
            B64.encode(sig),
            B64.encode(global.as_ref())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key pair made here, written as minisign's files.
    fn pair() -> (tempfile::TempDir, SigningKey, PublicKey) {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let sk = dir.path().join("k.key");
        std::fs::write(&sk, kp.sk.to_box(None).unwrap().to_string()).unwrap();
        let pk = PublicKey::parse(&kp.pk.to_box().unwrap().to_string()).unwrap();
        (
            dir,
            SigningKey::load(&sk, || panic!("not encrypted")).unwrap(),
            pk,
        )
    }

    #[test]
    fn signs_deterministically_and_verifies_with_the_minisign_crate() {
        let (_dir, sk, pk) = pair();
        let doc = br#"{"packs": []}"#;
        let sig = sk.sign(doc, "timestamp:1700000000\tfile:index.json");
        assert_eq!(sig, sk.sign(doc, "timestamp:1700000000\tfile:index.json"));
        let boxed = minisign::SignatureBox::from_string(&sig).unwrap();
        let mpk = minisign::PublicKey::from_base64(&B64.encode({
            let mut b = b"Ed".to_vec();
            b.extend_from_slice(&pk.id.0);
            b.extend_from_slice(pk.key.as_ref());
            b
        }))
        .unwrap();
        minisign::verify(&mpk, &boxed, std::io::Cursor::new(doc), true, false, false).unwrap();
        let keys = TrustedKeys(vec![pk.clone()]);
        let ok = keys.verify(doc, sig.as_bytes()).unwrap();
        assert_eq!(ok.key_id, pk.id);
        assert_eq!(ok.timestamp, Some(1_700_000_000));
    }

    #[test]
    fn refuses_other_documents_keys_and_comments() {
        let (_dir, sk, pk) = pair();
        let (_dir2, _, other) = pair();
        let doc = b"index";
        let sig = sk.sign(doc, "timestamp:5");
        let keys = TrustedKeys(vec![pk]);
        let e = keys.verify(b"indeX", sig.as_bytes()).unwrap_err();
        assert!(e.0.contains("does not match the document"), "{e}");
        let e = TrustedKeys(vec![other])
            .verify(doc, sig.as_bytes())
            .unwrap_err();
        assert!(e.0.contains("not trusted"), "{e}");
        let forged = sig.replace("timestamp:5", "timestamp:9");
        let e = keys.verify(doc, forged.as_bytes()).unwrap_err();
        assert!(e.0.contains("trusted comment"), "{e}");
        assert!(keys.verify(doc, b"garbage").is_err());
    }

    #[test]
    fn reads_timestamps_and_keys_in_both_spellings() {
        assert_eq!(timestamp_of("timestamp:12\tfile:index.json"), Some(12));
        assert_eq!(timestamp_of("file:x timestamp:7"), Some(7));
        assert_eq!(timestamp_of("release 3"), None);
        let (_dir, _, pk) = pair();
        let line = B64.encode({
            let mut b = b"Ed".to_vec();
            b.extend_from_slice(&pk.id.0);
            b.extend_from_slice(pk.key.as_ref());
            b
        });
        assert_eq!(PublicKey::parse(&line).unwrap(), pk);
        assert!(PublicKey::parse("RWQnotakey").is_err());
        let id = KeyId([0x01, 0, 0, 0, 0, 0, 0, 0xAB]);
        assert_eq!(id.to_string(), "AB00000000000001");
    }
}
