//! Git fixtures for the tests: repositories built with the `git` CLI, served by `git daemon`
//! (git://) and by `git http-backend` as CGI behind a tiny HTTP/1.1 server (smart HTTP), both
//! on 127.0.0.1 and stopped on drop. Only the tests use git; attune-pack never does.

use super::acceptor;
use super::test_ca;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acceptor::Acceptor;
pub use test_ca::TestCa;

/// Runs git hermetically (no user or system config) in `dir`; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_command(dir).args(args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z");
    cmd
}

/// A work-tree repository being built by a test.
pub struct Repo {
    pub dir: PathBuf,
}

impl Repo {
    pub fn init(dir: &Path) -> Repo {
        std::fs::create_dir_all(dir).unwrap();
        git(dir, &["init", "-q", "-b", "main"]);
        Repo {
            dir: dir.to_owned(),
        }
    }

    pub fn git(&self, args: &[&str]) -> String {
        git(&self.dir, args)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    pub fn write_exec(&self, rel: &str, content: &str) {
        use std::os::unix::fs::PermissionsExt;
        self.write(rel, content);
        let path = self.dir.join(rel);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    pub fn symlink(&self, rel: &str, target: &str) {
        let path = self.dir.join(rel);
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(target, path).unwrap();
    }

    /// Commits everything; returns the full commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Writes `content` as a blob; returns its id.
    pub fn blob(&self, content: &[u8]) -> String {
        self.plumb(&["hash-object", "-w", "--stdin"], content)
    }

    /// Writes a tree of exactly these entries (mode, name, id), names unchecked, as a hostile
    /// repository would hold them; returns its id.
    pub fn raw_tree(&self, entries: &[(&str, &str, &str)]) -> String {
        let mut data = Vec::new();
        for (mode, name, id) in entries {
            data.extend_from_slice(format!("{mode} {name}\0").as_bytes());
            let id = (0..id.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&id[i..i + 2], 16).unwrap());
            data.extend(id);
        }
        self.plumb(
            &["hash-object", "-w", "-t", "tree", "--literally", "--stdin"],
            &data,
        )
    }

    /// Makes `tree` the next commit of `main`; returns the commit id.
    pub fn commit_tree(&self, tree: &str, message: &str) -> String {
        let commit = self.plumb(&["commit-tree", tree, "-m", message], b"");
        self.git(&["update-ref", "refs/heads/main", &commit]);
        commit
    }

    fn plumb(&self, args: &[&str], input: &[u8]) -> String {
        let out = super::with_stdin(Command::new("git").args(args).current_dir(&self.dir), input);
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// A bare clone next to it (`NAME.git`), as servers hold repositories.
    pub fn bare_clone(&self, at: &Path) -> PathBuf {
        git(
            at.parent().unwrap(),
            &[
                "clone",
                "-q",
                "--bare",
                self.dir.to_str().unwrap(),
                at.to_str().unwrap(),
            ],
        );
        at.to_owned()
    }
}

/// `git daemon` exporting every repository under a base path: one `git daemon --inetd` per
/// connection, on the connection, so there is no port to race for or wait on.
pub struct GitDaemon {
    /// Serves until dropped.
    acceptor: Acceptor,
}

impl GitDaemon {
    pub fn start(base: &Path) -> GitDaemon {
        let base = base.to_owned();
        let acceptor = Acceptor::start(move |conn| {
            let Ok(output) = conn.try_clone() else { return };
            let served = git_command(&base)
                .args(["daemon", "--inetd", "--export-all", "--informative-errors"])
                .arg(format!("--base-path={}", base.display()))
                .arg(&base)
                .stdin(Stdio::from(std::os::fd::OwnedFd::from(conn)))
                .stdout(Stdio::from(std::os::fd::OwnedFd::from(output)))
                .stderr(Stdio::null())
                .status();
            served.expect("run git daemon --inetd");
        });
        GitDaemon { acceptor }
    }

    /// `git://127.0.0.1:PORT/NAME`.
    pub fn url(&self, name: &str) -> String {
        format!("git://{}/{name}", self.acceptor.addr())
    }
}

/// Smart HTTP: `git http-backend` run as CGI per request.
pub struct SmartHttp {
    pub port: u16,
    scheme: &'static str,
    /// Serves until dropped.
    _acceptor: Acceptor,
    /// Request lines seen (`GET /x.git/info/refs?service=git-upload-pack`).
    requests: Arc<Mutex<Vec<String>>>,
}

pub fn http_backend() -> PathBuf {
    let exec = git(Path::new("/"), &["--exec-path"]);
    let path = Path::new(&exec).join("git-http-backend");
    assert!(
        path.exists(),
        "git-http-backend not found at {}",
        path.display()
    );
    path
}

impl SmartHttp {
    pub fn start(root: &Path) -> SmartHttp {
        SmartHttp::spawn(root, None)
    }

    /// The same over HTTPS, presenting a certificate for 127.0.0.1 issued by `ca`.
    pub fn start_tls(root: &Path, ca: &TestCa) -> SmartHttp {
        let config = test_ca::server_config(&ca.server_cert_pem, &ca.server_key_pem);
        SmartHttp::spawn(root, Some(config))
    }

    fn spawn(root: &Path, tls: Option<Arc<rustls::ServerConfig>>) -> SmartHttp {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let backend = http_backend();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (root, seen) = (root.to_owned(), requests.clone());
        let acceptor = Acceptor::start(move |conn| {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
            if let Some(stream) = test_ca::server_stream(conn, tls.as_ref()) {
                let _ = serve(stream, &root, &backend, &seen);
            }
        });
        SmartHttp {
            port: acceptor.addr().port(),
            scheme,
            _acceptor: acceptor,
            requests,
        }
    }

    /// `http(s)://127.0.0.1:PORT/NAME`.
    pub fn url(&self, name: &str) -> String {
        format!("{}://127.0.0.1:{}/{name}", self.scheme, self.port)
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Serves requests on one connection (keep-alive) until the client closes it.
fn serve<S: Read + Write>(
    conn: S,
    root: &Path,
    backend: &Path,
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let request_line = line.trim_end().to_owned();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        seen.lock().unwrap().push(request_line.clone());
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            read_chunked(&mut reader)?
        } else {
            let len: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body)?;
            body
        };
        let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        let mut cmd = Command::new(backend);
        cmd.env_clear()
            .env("GIT_PROJECT_ROOT", root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("REQUEST_METHOD", &method)
            .env("PATH_INFO", path)
            .env("QUERY_STRING", query)
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("CONTENT_LENGTH", body.len().to_string());
        if let Some(ct) = header("content-type") {
            cmd.env("CONTENT_TYPE", ct);
        }
        if let Some(p) = header("git-protocol") {
            cmd.env("GIT_PROTOCOL", p);
        }
        if let Some(enc) = header("content-encoding") {
            cmd.env("HTTP_CONTENT_ENCODING", enc);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&body);
        });
        let mut cgi = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut cgi)?;
        let _ = writer.join();
        child.wait()?;
        let split = cgi
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| (i, 4))
            .or_else(|| cgi.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
        let out = reader.get_mut();
        let Some((end, sep)) = split else {
            out.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")?;
            continue;
        };
        let head = String::from_utf8_lossy(&cgi[..end]).into_owned();
        let content = &cgi[end + sep..];
        let mut status = "200 OK".to_owned();
        let mut response = String::new();
        for h in head.lines() {
            match h.split_once(':') {
                Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_owned(),
                Some(_) => {
                    response.push_str(h);
                    response.push_str("\r\n");
                }
                None => {}
            }
        }
        let head = format!(
            "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\n\r\n",
            content.len()
        );
        out.write_all(head.as_bytes())?;
        out.write_all(content)?;
        out.flush()?;
    }
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            let mut trailer = String::new();
            while reader.read_line(&mut trailer)? > 2 {
                trailer.clear();
            }
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
    }
}
