//! An HTTP/1.1 (and HTTPS) server for download tests, on 127.0.0.1:0, in the test process.
//! Each path answers with a script of replies (the last one repeats), so a test can serve
//! 500-then-200, redirect chains, bodies cut off mid-stream, stalls and lying
//! `Content-Length`s. It also answers proxy requests (absolute-form targets) and records
//! every request it sees.

use super::acceptor;
use super::test_ca;

use std::collections::{HashMap, HashSet};
use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use acceptor::Acceptor;
pub use test_ca::TestCa;

/// How a reply's body is delivered.
#[derive(Debug, Clone)]
enum Delivery {
    Whole,
    /// Send this many body bytes, then close the connection.
    CutAfter(usize),
    /// Send this many body bytes, then wait this long (or until the client hangs up) before
    /// closing.
    StallAfter(usize, Duration),
}

#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    length: Length,
    delivery: Delivery,
}

/// The `Content-Length` a reply announces.
#[derive(Debug, Clone, Copy)]
enum Length {
    /// The body's real length.
    Actual,
    Announce(u64),
    /// None: the body ends when the connection closes.
    Unsized,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::status(200, body)
    }

    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
            length: Length::Actual,
            delivery: Delivery::Whole,
        }
    }

    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::status(status, Vec::new()).header("Location", location)
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Announces this `Content-Length` whatever the body's real length.
    pub fn content_length(mut self, n: u64) -> Reply {
        self.length = Length::Announce(n);
        self
    }

    /// No `Content-Length`: the body ends when the connection closes.
    pub fn without_length(mut self) -> Reply {
        self.length = Length::Unsized;
        self
    }

    pub fn cut_after(mut self, n: usize) -> Reply {
        self.delivery = Delivery::CutAfter(n);
        self
    }

    pub fn stall_after(mut self, n: usize, pause: Duration) -> Reply {
        self.delivery = Delivery::StallAfter(n, pause);
        self
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request target as sent (absolute for proxy requests).
    pub target: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    scripts: HashMap<String, Vec<Reply>>,
    hits: HashMap<String, usize>,
    seen: Vec<Seen>,
    /// Paths whose stall has begun (their first bytes are sent).
    stalled: HashSet<String>,
    /// Paths whose stall has ended, and whether the client closed the connection during it
    /// (before the server would have).
    ended: HashMap<String, bool>,
}

/// The state, and a condition variable that is told whenever a stall begins or ends.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap());
        self.changed.notify_all();
    }
}

pub struct HttpServer {
    scheme: &'static str,
    shared: Arc<Shared>,
    acceptor: Acceptor,
}

impl HttpServer {
    pub fn start() -> HttpServer {
        HttpServer::spawn(None)
    }

    /// An HTTPS server presenting `cert_pem` (with its chain) and `key_pem`.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> HttpServer {
        HttpServer::spawn(Some(test_ca::server_config(cert_pem, key_pem)))
    }

    fn spawn(tls: Option<Arc<rustls::ServerConfig>>) -> HttpServer {
        let shared = Arc::new(Shared::default());
        let scheme = if tls.is_some() { "https" } else { "http" };
        let s = shared.clone();
        let acceptor = Acceptor::start(move |conn| {
            // The raw socket, to see the client hang up while a reply stalls.
            let Ok(probe) = conn.try_clone() else { return };
            if let Some(stream) = test_ca::server_stream(conn, tls.as_ref()) {
                serve(stream, &probe, &s);
            }
        });
        HttpServer {
            scheme,
            shared,
            acceptor,
        }
    }

    /// `http(s)://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}://{}/{}",
            self.scheme,
            self.acceptor.addr(),
            path.trim_start_matches('/')
        )
    }

    pub fn port(&self) -> u16 {
        self.acceptor.addr().port()
    }

    /// Serves `body` with 200 at `path`.
    pub fn serve(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.script(path, vec![Reply::ok(body)]);
    }

    /// Answers requests for `path` with these replies in order; the last one repeats.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        assert!(!replies.is_empty());
        self.shared.update(|s| {
            s.scripts.insert(normalise(path), replies);
        });
    }

    pub fn hits(&self, path: &str) -> usize {
        *self
            .shared
            .state
            .lock()
            .unwrap()
            .hits
            .get(&normalise(path))
            .unwrap_or(&0)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.state.lock().unwrap().seen.clone()
    }

    /// Blocks until a reply for `path` has sent its first bytes and stalls.
    pub fn wait_stalled(&self, path: &str) {
        let path = normalise(path);
        let state = self.shared.state.lock().unwrap();
        drop(
            self.shared
                .changed
                .wait_while(state, |s| !s.stalled.contains(&path))
                .unwrap(),
        );
    }

    /// Whether the client of a stalled reply for `path` closed the connection before the
    /// stall ended: it gave up on its own instead of waiting the server out. Blocks until
    /// that stall has ended (at once, when the client hung up).
    pub fn hung_up(&self, path: &str) -> bool {
        let path = normalise(path);
        let state = self.shared.state.lock().unwrap();
        let state = self
            .shared
            .changed
            .wait_while(state, |s| !s.ended.contains_key(&path))
            .unwrap();
        state.ended[&path]
    }
}

fn normalise(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

fn serve<S: Read + Write>(stream: S, probe: &TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(stream);
    let Some((request_line, headers)) = acceptor::read_head(&mut reader) else {
        return;
    };
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    // A proxy request names the whole URL; the path is what follows its authority.
    let path_and_query = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => target.as_str(),
    };
    let path = path_and_query.split('?').next().unwrap_or("/").to_owned();

    let reply = {
        let mut s = shared.state.lock().unwrap();
        let hit = {
            let h = s.hits.entry(path.clone()).or_default();
            *h += 1;
            *h
        };
        s.seen.push(Seen {
            target: target.clone(),
            headers,
        });
        match s.scripts.get(&path) {
            None => Reply::status(404, "not found"),
            Some(script) => script[(hit - 1).min(script.len() - 1)].clone(),
        }
    };

    let stream = reader.get_mut();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nConnection: close\r\n",
        reply.status,
        reason(reply.status)
    );
    match reply.length {
        Length::Actual => head.push_str(&format!("Content-Length: {}\r\n", reply.body.len())),
        Length::Announce(n) => head.push_str(&format!("Content-Length: {n}\r\n")),
        Length::Unsized => {}
    }
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let body = &reply.body;
    let _ = match reply.delivery {
        Delivery::Whole => stream.write_all(body),
        Delivery::CutAfter(n) => stream.write_all(&body[..n.min(body.len())]),
        Delivery::StallAfter(n, pause) => {
            let sent = stream
                .write_all(&body[..n.min(body.len())])
                .and_then(|_| stream.flush());
            shared.update(|s| {
                s.stalled.insert(path.clone());
            });
            let hung_up = client_hangs_up_within(probe, pause);
            shared.update(|s| {
                s.ended.insert(path.clone(), hung_up);
            });
            sent
        }
    };
    let _ = stream.flush();
}

/// Waits up to `pause` for the client to close the connection (it sends nothing more once
/// its request is out).
fn client_hangs_up_within(probe: &TcpStream, pause: Duration) -> bool {
    let end = Instant::now() + pause;
    let mut byte = [0u8; 1];
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if left.is_zero() || probe.set_read_timeout(Some(left)).is_err() {
            return false;
        }
        match probe.peek(&mut byte) {
            Ok(0) => return true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
            // Bytes from the client (a TLS alert): read past them, waiting for the close.
            Ok(_) => {
                let _ = (&*probe).read(&mut byte);
            }
        }
    }
    false
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
