//! A registry on this host for end-to-end tests: the binary run against a store, a cache and
//! a config of its own, indices in files or on an [`IndexServer`], and the packs they list
//! (archives built here, served over HTTP or written beside the index).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::index_server::IndexServer;

pub struct Env {
    pub tmp: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// Writes the config file: `indices` is a YAML list, `extra` more `pack_registry` keys.
    pub fn config(&self, indices: &str, extra: &str) {
        std::fs::write(
            self.path("config.yaml"),
            format!("pack_registry:\n  allow_http: true\n{extra}  indices:\n{indices}"),
        )
        .unwrap();
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// The command [`Env::run`] runs, to add to.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(crate::support::BIN);
        cmd.arg("--packs-dir")
            .arg(self.path("packs"))
            .arg("--cache-dir")
            .arg(self.path("cache"))
            .arg("--config")
            .arg(self.path("config.yaml"))
            .args(args)
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env("XDG_CACHE_HOME", self.path("xdg"))
            .env("XDG_DATA_HOME", self.path("xdg"))
            .env("REGISTRY_TEST_TOKEN", "tok-123")
            .env_remove("ATTUNE_PACKS_DIR")
            .env_remove("ATTUNE_PACK_CACHE_DIR")
            .env_remove("ATTUNE_PACK_CONFIG");
        cmd
    }

    /// Runs with `--json`; returns (exit code, document, stderr).
    pub fn json(&self, args: &[&str]) -> (i32, Value, String) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (out.status.code().unwrap_or(-1), doc, stderr)
    }

    /// Writes `entries` as the index `dir/index.json` and makes it the only index, `main`;
    /// returns that `indices` line.
    pub fn use_file_index(&self, dir: &Path, entries: Vec<Value>) -> String {
        let path = dir.join("index.json");
        write(&path, index(entries));
        let line = index_line("main", path.display());
        self.config(&line, "");
        line
    }

    /// Runs with `--json` and asserts the exit code and the error document's code; returns
    /// the document.
    pub fn refused(&self, args: &[&str], exit: i32, error: &str) -> Value {
        let (code, doc, stderr) = self.json(args);
        assert_eq!(
            (code, doc["error"]["code"].as_str()),
            (exit, Some(error)),
            "{doc}\nstderr: {stderr}"
        );
        doc
    }

    /// The index cache: (file name, content) of every cached document (not their binary
    /// pre-parsed forms).
    pub fn cached_indices(&self) -> Vec<(String, String)> {
        std::fs::read_dir(self.path("cache/indices"))
            .unwrap()
            .map(|f| f.unwrap())
            .filter(|f| f.path().extension().is_some_and(|e| e == "json"))
            .map(|f| {
                let text = std::fs::read_to_string(f.path()).unwrap();
                (f.file_name().to_string_lossy().into_owned(), text)
            })
            .collect()
    }

    /// `install --dry-run`: (exit, version planned, index it came from, stderr).
    pub fn plan(&self, args: &[&str]) -> (i32, String, String, String) {
        let mut all = vec!["install", "--dry-run", "--skip-tests"];
        all.extend_from_slice(args);
        let (code, doc, stderr) = self.json(&all);
        let p = &doc["plan"][0];
        (
            code,
            p["version"].as_str().unwrap_or_default().to_owned(),
            p["source"]["index"].as_str().unwrap_or_default().to_owned(),
            format!(
                "{stderr}{}",
                doc["error"]["message"].as_str().unwrap_or_default()
            ),
        )
    }
}

/// One entry of the config's `indices` list.
pub fn index_line(name: &str, url: impl std::fmt::Display) -> String {
    format!("    - {{name: {name}, url: \"{url}\"}}\n")
}

/// An index server that demands the token the binary is run with (`REGISTRY_TEST_TOKEN`).
pub fn private_index_server() -> IndexServer {
    let server = IndexServer::start();
    server.require_auth("Bearer tok-123");
    server
}

/// The `corp` entry of the `indices` list: `server`'s index.json, sent with the token header.
pub fn corp_index_with_token(server: &IndexServer) -> String {
    format!(
        "    - name: corp\n      url: \"{}\"\n      headers: {{Authorization: \"Bearer ${{REGISTRY_TEST_TOKEN}}\"}}\n",
        server.url("index.json")
    )
}

/// A .tgz of a pack whose pack.yaml says `pack_ref` `version`, its files under `pack/`.
pub fn pack_tgz(pack_ref: &str, version: &str) -> Vec<u8> {
    pack_tgz_with(pack_ref, version, "")
}

/// Like [`pack_tgz`], with `extra` appended to pack.yaml.
pub fn pack_tgz_with(pack_ref: &str, version: &str, extra: &str) -> Vec<u8> {
    let files = [
        (
            "pack/pack.yaml".to_owned(),
            format!("ref: {pack_ref}\nlabel: {pack_ref} pack\nversion: {version}\ndescription: The {pack_ref} pack\nkeywords: [demo]\n{extra}"),
        ),
        (
            "pack/actions/run.yaml".to_owned(),
            "name: run\ndescription: Runs it\n".to_owned(),
        ),
    ];
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        tar.append_data(&mut h, name, text.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn entry(pack_ref: &str, version: &str, sources: Vec<Value>) -> Value {
    json!({
        "ref": pack_ref, "label": format!("{pack_ref} pack"), "version": version,
        "description": format!("The {pack_ref} pack"), "author": "t", "license": "MIT",
        "keywords": ["demo", format!("kw-{pack_ref}")], "runtime_deps": [],
        "install_sources": sources,
        "contents": {"actions": [{"name": "run", "description": "Runs it"}], "sensors": [], "triggers": [], "rules": [], "workflows": []}
    })
}

pub fn archive(url: &str, bytes: &[u8]) -> Value {
    json!({"type": "archive", "url": url, "checksum": sha256(bytes)})
}

pub fn index(entries: Vec<Value>) -> String {
    json!({"registry_name": "test", "version": "1.0", "last_updated": "2025-01-01T00:00:00Z", "packs": entries}).to_string()
}

/// Serves `versions` of `pack_ref` from `server` (archives under `/packs/`), as entries.
pub fn served(server: &IndexServer, pack_ref: &str, versions: &[&str]) -> Vec<Value> {
    versions
        .iter()
        .map(|v| {
            let bytes = pack_tgz(pack_ref, v);
            let path = format!("packs/{pack_ref}-{v}.tgz");
            server.put(&path, bytes.clone());
            entry(pack_ref, v, vec![archive(&server.url(&path), &bytes)])
        })
        .collect()
}

/// Writes `versions` of `pack_ref` as archives into `dir`; entries use URLs relative to an
/// index in `dir`.
pub fn local(dir: &Path, pack_ref: &str, versions: &[&str]) -> Vec<Value> {
    local_with(dir, pack_ref, versions, |name| name.to_owned())
}

/// Like [`local`], with absolute `file://` URLs (for indices served over HTTP).
pub fn local_abs(dir: &Path, pack_ref: &str, versions: &[&str]) -> Vec<Value> {
    local_with(dir, pack_ref, versions, |name| {
        format!("file://{}", dir.join(name).display())
    })
}

pub fn local_with(
    dir: &Path,
    pack_ref: &str,
    versions: &[&str],
    url: impl Fn(&str) -> String,
) -> Vec<Value> {
    versions
        .iter()
        .map(|v| {
            let bytes = pack_tgz(pack_ref, v);
            let name = format!("{pack_ref}-{v}.tgz");
            write(&dir.join(&name), &bytes);
            entry(pack_ref, v, vec![archive(&url(&name), &bytes)])
        })
        .collect()
}

/// Writes a file, creating its directory.
/// Serves `pack_ref` `version` whose pack.yaml lists `deps`, as an entry.
pub fn served_with_deps(
    server: &IndexServer,
    pack_ref: &str,
    version: &str,
    deps: &[&str],
) -> Value {
    let bytes = pack_tgz_with(
        pack_ref,
        version,
        &format!("dependencies: {}\n", json!(deps)),
    );
    let path = format!("packs/{pack_ref}-{version}.tgz");
    server.put(&path, bytes.clone());
    entry(pack_ref, version, vec![archive(&server.url(&path), &bytes)])
}

pub fn write(path: &Path, contents: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(path)
        .unwrap()
        .write_all(contents.as_ref())
        .unwrap();
}
