//! A real OCI registry for the tests: Debian's `docker-registry` (distribution 2.8) started on
//! 127.0.0.1 with a config and storage of the test's own, anonymous or behind htpasswd Basic
//! auth; stopped when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Child,
    /// The token server, for token auth.
    issuer: Option<Child>,
    pub port: u16,
    pub root: PathBuf,
    _dir: tempfile::TempDir,
}

/// Who may use the registry.
pub enum Access {
    Anonymous,
    /// htpasswd Basic auth for this user and password.
    Basic(&'static str, &'static str),
    /// Bearer tokens from a token server (support/token_server.py) that issues tokens
    /// living this many seconds to this user and password.
    Token(&'static str, &'static str, u64),
}

/// Starts the token server; returns it and the registry config's `auth` section.
fn token_server(dir: &Path, user: &str, password: &str, lifetime: u64) -> (Child, String) {
    use std::io::BufRead;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/testsuite/support/token_server.py"
    );
    // Debian's python3 with python3-cryptography (`.ci/run` installs it).
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(dir)
        .args([user, password, &lifetime.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("the token server's port");
    let auth = format!(
        "auth:\n  token:\n    realm: http://127.0.0.1:{port}/token\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: {}\n",
        dir.join("token.pem").display()
    );
    (child, auth)
}

impl Registry {
    /// Whether the registry program is installed (`.ci/run` installs it).
    pub fn available() -> bool {
        Command::new("docker-registry")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    pub fn start(access: Access) -> Registry {
        Registry::start_with(access, None)
    }

    /// A registry that speaks TLS only, with a certificate of `ca`'s.
    pub fn start_tls(ca: &super::test_ca::TestCa) -> Registry {
        Registry::start_with(Access::Anonymous, Some(ca))
    }

    fn start_with(access: Access, tls: Option<&super::test_ca::TestCa>) -> Registry {
        assert!(
            Registry::available(),
            "docker-registry is not installed (apt-get install docker-registry)"
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("storage");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut issuer = None;
        let auth = match access {
            Access::Anonymous => String::new(),
            Access::Token(user, password, lifetime) => {
                let (child, auth) = token_server(dir.path(), user, password, lifetime);
                issuer = Some(child);
                auth
            }
            Access::Basic(user, password) => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("htpasswd (apache2-utils)");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: test-registry\n    path: {}\n",
                    file.display()
                )
            }
        };
        let tls = match tls {
            Some(ca) => {
                let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
                std::fs::write(&cert, &ca.server_cert_pem).unwrap();
                std::fs::write(&key, &ca.server_key_pem).unwrap();
                format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    cert.display(),
                    key.display()
                )
            }
            None => String::new(),
        };
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{tls}{auth}",
                root.display()
            ),
        )
        .unwrap();
        // The access log (one line per request, on stdout) is kept for tests to read.
        let log = std::fs::File::create(dir.path().join("access.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let registry = Registry {
            child,
            issuer,
            port,
            root,
            _dir: dir,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `oci://127.0.0.1:PORT/PATH`.
    pub fn oci(&self, path: &str) -> String {
        format!("oci://{}/{path}", self.host())
    }

    /// The requests the registry served so far, one access-log line each.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("access.log")).unwrap_or_default()
    }

    /// The scopes of every token the token server issued, one line per token.
    pub fn tokens_issued(&self) -> Vec<String> {
        std::fs::read_to_string(self._dir.path().join("issued"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The file holding blob `digest` (`sha256:…`) in the registry's storage.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.root
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        for child in std::iter::once(&mut self.child).chain(self.issuer.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The directory-format layer blob's path for a test to tamper with.
pub fn tamper(path: &Path, from: &[u8], to: &[u8]) {
    let bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| {
            panic!(
                "{} holds no {:?}",
                path.display(),
                String::from_utf8_lossy(from)
            )
        });
    let mut changed = bytes.clone();
    changed[at..at + to.len()].copy_from_slice(to);
    std::fs::write(path, changed).unwrap();
}
