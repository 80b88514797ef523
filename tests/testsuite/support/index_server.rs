//! A minimal HTTP/1.1 server for registry tests, on 127.0.0.1:0: serves fixed bodies by path,
//! counts requests, answers `If-None-Match` with 304, can demand an `Authorization` header,
//! and records the `Authorization` header of every request it sees.

use super::acceptor;

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use acceptor::Acceptor;

#[derive(Clone)]
struct Route {
    status: u16,
    body: Vec<u8>,
    etag: Option<String>,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    hits: HashMap<String, usize>,
    not_modified: usize,
    required_auth: Option<String>,
    /// (path, Authorization header) of every request.
    seen: Vec<(String, Option<String>)>,
}

pub struct IndexServer {
    state: Arc<Mutex<State>>,
    acceptor: Acceptor,
}

impl IndexServer {
    pub fn start() -> IndexServer {
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        let acceptor = Acceptor::start(move |conn| serve(conn, &s));
        IndexServer { state, acceptor }
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "http://{}/{}",
            self.acceptor.addr(),
            path.trim_start_matches('/')
        )
    }

    pub fn put(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.put_with(path, 200, body, None);
    }

    /// A body served with an ETag; a request whose `If-None-Match` matches gets 304.
    pub fn put_with_etag(&self, path: &str, body: impl Into<Vec<u8>>, etag: &str) {
        self.put_with(path, 200, body, Some(etag));
    }

    pub fn put_with(&self, path: &str, status: u16, body: impl Into<Vec<u8>>, etag: Option<&str>) {
        self.state.lock().unwrap().routes.insert(
            format!("/{}", path.trim_start_matches('/')),
            Route {
                status,
                body: body.into(),
                etag: etag.map(str::to_owned),
            },
        );
    }

    /// Every request must carry exactly this `Authorization` value, or gets 401.
    pub fn require_auth(&self, value: &str) {
        self.state.lock().unwrap().required_auth = Some(value.to_owned());
    }

    pub fn hits(&self, path: &str) -> usize {
        let path = format!("/{}", path.trim_start_matches('/'));
        *self.state.lock().unwrap().hits.get(&path).unwrap_or(&0)
    }

    pub fn not_modified(&self) -> usize {
        self.state.lock().unwrap().not_modified
    }

    /// The `Authorization` headers received, by path.
    pub fn auth_seen(&self) -> Vec<(String, Option<String>)> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Stops accepting connections; the port is closed when this returns.
    pub fn shutdown(mut self) {
        self.acceptor.stop();
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let Some((request_line, headers)) = acceptor::read_head(&mut reader) else {
        return;
    };
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_owned();
    let auth = headers.get("authorization").cloned();

    let (status, body, etag) = {
        let mut s = state.lock().unwrap();
        *s.hits.entry(path.clone()).or_default() += 1;
        s.seen.push((path.clone(), auth.clone()));
        if s.required_auth.is_some() && s.required_auth != auth {
            (401, b"unauthorized".to_vec(), None)
        } else {
            match s.routes.get(&path).cloned() {
                None => (404, b"not found".to_vec(), None),
                Some(r) => {
                    let matches = r.etag.is_some()
                        && headers.get("if-none-match").map(String::as_str) == r.etag.as_deref();
                    if matches {
                        s.not_modified += 1;
                        (304, Vec::new(), r.etag)
                    } else {
                        (r.status, r.body, r.etag)
                    }
                }
            }
        }
    };
    let reason = match status {
        200 => "OK",
        304 => "Not Modified",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n",
        if status == 304 { 0 } else { body.len() }
    );
    if let Some(e) = etag {
        head.push_str(&format!("ETag: {e}\r\n"));
    }
    head.push_str("\r\n");
    let mut conn = conn;
    let _ = conn.write_all(head.as_bytes());
    if status != 304 && method != "HEAD" {
        let _ = conn.write_all(&body);
    }
    let _ = conn.flush();
}
