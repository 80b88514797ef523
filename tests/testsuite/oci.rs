//! OCI registries, end to end against Debian's `docker-registry` (distribution 2.8, which
//! predates OCI 1.1): `push`, `install oci://…` by tag, digest and requirement, digests
//! checked on every byte, Basic auth with `registry login`, and the artifact read by other
//! clients (skopeo) and written by another one (a plain distribution-API client).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::oci_registry::{tamper, Access, Registry};
use crate::support::packs::write_pack;
use crate::support::registry::Env;
use crate::support::store;
use crate::support::succeeded;

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// An environment whose config reaches `registry` over plain http.
fn env_for(registry: &Registry, extra: &str) -> Env {
    let env = Env::new();
    std::fs::write(
        env.path("config.yaml"),
        format!("oci:\n  plain_http: [\"{}\"]\n{extra}", registry.host()),
    )
    .unwrap();
    env
}

fn push(env: &Env, dir: &Path, target: &str) -> Value {
    json_of(&env.run(&["--json", "push", dir.to_str().unwrap(), target]))
}

#[test]
fn a_pushed_pack_installs_by_tag_digest_and_requirement() {
    let registry = Registry::start(Access::Anonymous);
    let env = env_for(&registry, "");
    let v1 = write_pack(&env.path("src"), "hello", "1.0.0", "description: Hi\n", 30);
    let v2 = write_pack(&env.path("src"), "hello", "1.1.0", "", 3);
    let v3 = write_pack(&env.path("src"), "hello", "2.0.0-rc.1", "", 3);
    let ns = registry.oci("team/packs");
    let first = push(&env, &v1, &ns);
    assert_eq!(first["tag"], "1.0.0");
    assert_eq!(first["uploaded"], 2);
    // The same pack gives the same digest, and nothing is sent twice.
    let again = push(&env, &v1, &ns);
    assert_eq!(again["digest"], first["digest"]);
    assert_eq!(again["uploaded"], 0);
    push(&env, &v2, &ns);
    push(&env, &v3, &ns);
    // Promoted to another namespace: the blobs are mounted from team/packs/hello, not sent.
    let promoted = push(&env, &v1, &registry.oci("prod"));
    assert_eq!(
        (promoted["uploaded"].as_u64(), promoted["mounted"].as_u64()),
        (Some(0), Some(2)),
        "{promoted}"
    );
    assert_eq!(promoted["digest"], first["digest"]);

    // A requirement resolves over the tags: the highest release it allows.
    let repo = registry.oci("team/packs/hello");
    let receipt = json_of(&env.run(&["--json", "install", &format!("{repo}@^1")]));
    assert_eq!(receipt["version"], "1.1.0");
    assert_eq!(receipt["source"]["kind"], "oci");
    assert_eq!(receipt["source"]["ref"], "1.1.0");
    let digest = receipt["source"]["digest"].as_str().unwrap().to_owned();
    assert!(digest.starts_with("sha256:"), "{receipt}");
    assert_eq!(
        receipt["checksum"]["content"],
        attune_pack::directory_checksum(&v2).unwrap().to_string()
    );
    assert_eq!(store::consistent(&env.path("packs"))["hello"], "1.1.0");
    let shown = env.run(&["show", "hello"]);
    assert!(
        text(&shown).contains(&format!("digest {digest}")),
        "{}",
        text(&shown)
    );

    // By digest (the tag it came from does not matter), and by tag.
    let pinned = format!("{repo}@{}", first["digest"].as_str().unwrap());
    let receipt = json_of(&env.run(&["--json", "install", "--force", &pinned]));
    assert_eq!(receipt["version"], "1.0.0");
    assert_eq!(receipt["source"]["digest"], first["digest"]);
    let receipt = json_of(&env.run(&[
        "--json",
        "install",
        "--force",
        &format!("{repo}:2.0.0-rc.1"),
    ]));
    assert_eq!(receipt["version"], "2.0.0-rc.1");
    let installed = env.path("packs/hello");
    assert_eq!(
        std::fs::read_to_string(installed.join("actions/run.sh")).unwrap(),
        "#!/bin/sh\necho hi\n"
    );

    // No version: the highest release, not the pre-release.
    let receipt = json_of(&env.run(&["--json", "install", "--force", &repo]));
    assert_eq!(receipt["version"], "1.1.0");
    let missing = env.run(&["install", &format!("{repo}@^3")]);
    assert_eq!(missing.status.code(), Some(4), "{}", text(&missing));
    assert!(text(&missing).contains("no tag of"), "{}", text(&missing));
}

#[test]
fn bytes_that_do_not_match_their_digest_are_refused() {
    let registry = Registry::start(Access::Anonymous);
    let env = env_for(&registry, "");
    let v1 = write_pack(&env.path("src"), "hello", "1.0.0", "", 3);
    let v2 = write_pack(&env.path("src"), "hello", "1.0.1", "", 200);
    let ns = registry.oci("packs");
    let one = push(&env, &v1, &ns);
    push(&env, &v2, &ns);
    let repo = registry.oci("packs/hello");

    // The layer of 1.0.0 replaced by 1.0.1's: the registry serves other bytes than the
    // manifest names.
    let manifest = skopeo_manifest(&registry, "packs/hello:1.0.0");
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let other = skopeo_manifest(&registry, "packs/hello:1.0.1");
    let other_layer = other["layers"][0]["digest"].as_str().unwrap();
    std::fs::copy(registry.blob_file(other_layer), registry.blob_file(layer)).unwrap();
    let out = env.run(&["install", &format!("{repo}:1.0.0")]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("digest mismatch"), "{}", text(&out));
    assert!(!env.path("packs/hello").exists());
    store::consistent(&env.path("packs"));

    // The manifest altered in the registry's storage: it no longer hashes to its digest.
    let digest = one["digest"].as_str().unwrap();
    tamper(&registry.blob_file(digest), b"\"1.0.0\"", b"\"6.6.6\"");
    for reference in [format!("{repo}:1.0.0"), format!("{repo}@{digest}")] {
        let out = env.run(&["--json", "install", &reference]);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["error"]["code"], "digest_mismatch", "{doc}");
    }
    assert!(!env.path("packs/hello").exists());
    assert!(
        std::fs::read_dir(env.path("packs/.attune-pack/staging"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "staging left behind"
    );
}

/// The manifest skopeo reads at `path` (`REPO:TAG`) of `registry`.
fn skopeo_manifest(registry: &Registry, path: &str) -> Value {
    let out = succeeded(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}/{path}", registry.host())),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `skopeo copy FROM TO` (transport-qualified: `docker://…`, `oci:DIR:NAME`) over plain
/// http registries.
fn skopeo_copy(from: &str, to: &str) {
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "--dest-tls-verify=false"]);
    if from.starts_with("docker://") {
        cmd.arg("--src-tls-verify=false");
    }
    succeeded(cmd.arg(from).arg(to));
}

#[test]
fn basic_auth_with_registry_login_and_logout() {
    let registry = Registry::start(Access::Basic("ops", "s3cret-pw"));
    let env = env_for(&registry, "");
    let docker = env.path("docker");
    let run = |args: &[&str], stdin: Option<&[u8]>| -> Output {
        let mut cmd = env.command(args);
        cmd.env("DOCKER_CONFIG", &docker)
            .env_remove("REGISTRY_AUTH_FILE");
        match stdin {
            Some(input) => crate::support::with_stdin(&mut cmd, input),
            None => cmd.output().unwrap(),
        }
    };
    let pack = write_pack(&env.path("src"), "hello", "1.0.0", "", 3);
    let ns = registry.oci("packs");
    let pack_arg = pack.to_str().unwrap();

    let anonymous = run(&["push", pack_arg, &ns], None);
    assert_eq!(anonymous.status.code(), Some(1), "{}", text(&anonymous));
    assert!(
        text(&anonymous).contains("registry login"),
        "{}",
        text(&anonymous)
    );

    let host = registry.host();
    // No terminal to ask on, and no --password-stdin: told what to give, nothing written.
    let unasked = run(
        &["registry", "login", &host, "-u", "ops"],
        Some(b"s3cret-pw\n"),
    );
    assert_eq!(unasked.status.code(), Some(2), "{}", text(&unasked));
    assert!(
        text(&unasked).contains("--password-stdin"),
        "{}",
        text(&unasked)
    );
    assert!(!docker.join("config.json").exists());
    let wrong = run(
        &["registry", "login", &host, "-u", "ops", "--password-stdin"],
        Some(b"nope\n"),
    );
    assert_ne!(wrong.status.code(), Some(0), "{}", text(&wrong));
    assert!(!docker.join("config.json").exists());
    assert!(!text(&wrong).contains("nope"));

    let login = run(
        &["registry", "login", &host, "-u", "ops", "--password-stdin"],
        Some(b"s3cret-pw\n"),
    );
    assert!(login.status.success(), "{}", text(&login));
    let file: Value =
        serde_json::from_slice(&std::fs::read(docker.join("config.json")).unwrap()).unwrap();
    assert!(file["auths"][&host]["auth"].is_string(), "{file}");

    let pushed = run(&["--json", "push", pack_arg, &ns], None);
    assert!(pushed.status.success(), "{}", text(&pushed));
    let installed = run(
        &["--json", "install", &registry.oci("packs/hello:1.0.0")],
        None,
    );
    let receipt = json_of(&installed);
    assert_eq!(receipt["version"], "1.0.0");
    let everything = format!(
        "{}{}",
        text(&pushed),
        std::fs::read_to_string(env.path("packs/.attune-pack/receipts/hello.json")).unwrap()
    );
    assert!(!everything.contains("s3cret-pw"), "{everything}");

    let logout = run(&["registry", "logout", &host], None);
    assert!(logout.status.success(), "{}", text(&logout));
    let again = run(
        &["install", "--force", &registry.oci("packs/hello:1.0.0")],
        None,
    );
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
}

/// A distribution-API client of another make (Python's urllib) that pushes an artifact with
/// the pack media types: its tar.gz and config written by the test.
const FOREIGN_PUSH: &str = r#"
import hashlib, io, json, sys, tarfile, urllib.request
base, repo, tag, hostile = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    for name, data in [("pack.yaml", b"ref: foreign\nversion: 3.1.4\n"), ("actions/a.py", b"print(1)\n")] + ([("../evil", b"x")] if hostile else []):
        info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
layer = buf.getvalue()
config = json.dumps({"ref": "foreign", "version": "3.1.4"}).encode()
def blob(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    r = urllib.request.urlopen(urllib.request.Request(f"{base}/v2/{repo}/blobs/uploads/", method="POST", data=b""))
    loc = r.headers["Location"]
    loc = loc if loc.startswith("http") else base + loc
    sep = "&" if "?" in loc else "?"
    urllib.request.urlopen(urllib.request.Request(f"{loc}{sep}digest={d}", method="PUT", data=data, headers={"Content-Type": "application/octet-stream"}))
    return {"digest": d, "size": len(data)}
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "artifactType": "application/vnd.attune.pack.v1",
    "config": dict(mediaType="application/vnd.attune.pack.config.v1+json", **blob(config)),
    "layers": [dict(mediaType="application/vnd.attune.pack.content.v1.tar+gzip", **blob(layer))]}
urllib.request.urlopen(urllib.request.Request(f"{base}/v2/{repo}/manifests/{tag}", method="PUT", data=json.dumps(manifest).encode(), headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}))
"#;

fn foreign_push(registry: &Registry, repo: &str, tag: &str, hostile: bool) {
    let base = format!("http://{}", registry.host());
    succeeded(Command::new("python3").args([
        "-c",
        FOREIGN_PUSH,
        &base,
        repo,
        tag,
        if hostile { "1" } else { "0" },
    ]));
}

#[test]
fn artifacts_from_other_clients_install_and_hostile_layers_do_not() {
    let registry = Registry::start(Access::Anonymous);
    // Over --allow-http: https is tried first, and the registry's plain http after it.
    let env = Env::new();
    std::fs::write(env.path("config.yaml"), "{}\n").unwrap();
    foreign_push(&registry, "other/foreign", "3.1.4", false);
    let receipt = json_of(&env.run(&[
        "--json",
        "--allow-http",
        "install",
        &registry.oci("other/foreign@3.1.4"),
    ]));
    assert_eq!(receipt["version"], "3.1.4");
    assert_eq!(
        std::fs::read_to_string(env.path("packs/foreign/actions/a.py")).unwrap(),
        "print(1)\n"
    );

    foreign_push(&registry, "other/evil", "1.0.0", true);
    let out = env.run(&[
        "--json",
        "--allow-http",
        "install",
        &registry.oci("other/evil:1.0.0"),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "unsafe_archive", "{doc}");
    assert!(!env.path("evil").exists() && !env.path("packs/evil").exists());
    store::consistent(&env.path("packs"));

    // Without --allow-http or plain_http, a registry without TLS is not used.
    let out = env.run(&["install", &registry.oci("other/foreign@3.1.4")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn skopeo_copies_what_push_wrote_and_the_copy_installs() {
    let registry = Registry::start(Access::Anonymous);
    // Pushed in 1 KiB chunks: the registry assembles them.
    let env = env_for(&registry, "  chunk_size: 1KiB\n");
    let pack = write_pack(&env.path("src"), "hello", "1.2.0", "", 300);
    let pushed = push(&env, &pack, &registry.oci("packs"));
    let host = registry.host();
    let manifest = skopeo_manifest(&registry, "packs/hello:1.2.0");
    assert!(
        manifest["layers"][0]["size"].as_u64().unwrap() > 3 * 1024,
        "{manifest}"
    );
    let patches = registry
        .access_log()
        .matches("\"PATCH /v2/packs/hello/blobs/uploads/")
        .count();
    assert!(
        patches > 3,
        "{patches} PATCH requests:\n{}",
        registry.access_log()
    );
    skopeo_copy(
        &format!("docker://{host}/packs/hello:1.2.0"),
        &format!("docker://{host}/mirror/hello:1.2.0"),
    );
    let receipt = json_of(&env.run(&["--json", "install", &registry.oci("mirror/hello:1.2.0")]));
    // skopeo copies the manifest byte for byte: the digest is the one push printed.
    assert_eq!(receipt["source"]["digest"], pushed["digest"]);
    assert_eq!(
        receipt["checksum"]["content"],
        attune_pack::directory_checksum(&pack).unwrap().to_string()
    );
}

#[test]
fn eight_hosts_install_the_same_tag_at_once() {
    let registry = Registry::start(Access::Anonymous);
    let env = env_for(&registry, "");
    let pack = write_pack(&env.path("src"), "hello", "1.0.0", "", 100);
    push(&env, &pack, &registry.oci("packs"));
    let reference = registry.oci("packs/hello:1.0.0");
    let children: Vec<_> = (0..8)
        .map(|i| {
            // Each "host" has a store and cache of its own.
            Command::new(crate::support::BIN)
                .arg("--packs-dir")
                .arg(env.path(&format!("host{i}/packs")))
                .arg("--cache-dir")
                .arg(env.path(&format!("host{i}/cache")))
                .arg("--config")
                .arg(env.path("config.yaml"))
                .args(["install", &reference])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    for i in 0..8 {
        assert_eq!(
            store::consistent(&env.path(&format!("host{i}/packs")))["hello"],
            "1.0.0"
        );
    }
}

/// PyPI's oras (the ORAS Python SDK, in the venv `.ci/run` makes).
const ORAS_PYTHON: &str = "/opt/oras-venv/bin/python";

fn oras(script: &str, args: &[&str]) -> Output {
    let out = Command::new(ORAS_PYTHON)
        .args(["-c", script])
        .args(args)
        .output()
        .expect("the oras venv (see .ci/run)");
    assert!(out.status.success(), "{}", text(&out));
    out
}

#[test]
fn oras_pulls_what_push_wrote_and_what_oras_pushes_installs() {
    let registry = Registry::start(Access::Anonymous);
    let env = env_for(&registry, "");
    let pack = write_pack(&env.path("src"), "hello", "1.2.0", "", 10);
    push(&env, &pack, &registry.oci("packs"));
    let host = registry.host();
    let pulled = env.path("pulled");
    // oras writes the layer under its title; Python's tarfile unpacks it.
    oras(
        "import sys, tarfile, oras.client\nc = oras.client.OrasClient(hostname=sys.argv[1], insecure=True)\nfiles = c.pull(target=sys.argv[1] + '/packs/hello:1.2.0', outdir=sys.argv[2])\nassert [f.rsplit('/', 1)[1] for f in files] == ['hello-1.2.0.tar.gz'], files\ntarfile.open(files[0]).extractall(sys.argv[2] + '/tree')",
        &[&host, pulled.to_str().unwrap()],
    );
    assert_eq!(
        attune_pack::directory_checksum(&pulled.join("tree")).unwrap(),
        attune_pack::directory_checksum(&pack).unwrap()
    );

    // An artifact oras pushes with the pack's media types installs.
    let src = env.path("oras-src");
    std::fs::create_dir_all(&src).unwrap();
    let tree = write_pack(&src, "orasmade", "0.3.0", "", 2);
    let layer = src.join("orasmade.tar.gz");
    succeeded(Command::new("python3")
        .args(["-c", "import sys, tarfile\nwith tarfile.open(sys.argv[1], 'w:gz') as t:\n    t.add(sys.argv[2], arcname='.')"])
        .arg(&layer)
        .arg(&tree));
    std::fs::write(
        src.join("config.json"),
        r#"{"ref": "orasmade", "version": "0.3.0"}"#,
    )
    .unwrap();
    oras(
        "import os, sys, oras.client\nos.chdir(sys.argv[2])\nc = oras.client.OrasClient(hostname=sys.argv[1], insecure=True)\nc.push(target=sys.argv[1] + '/packs/orasmade:0.3.0', files=['orasmade.tar.gz:application/vnd.attune.pack.content.v1.tar+gzip'], manifest_config='config.json:application/vnd.attune.pack.config.v1+json', disable_path_validation=True)",
        &[&host, src.to_str().unwrap()],
    );
    let receipt = json_of(&env.run(&["--json", "install", &registry.oci("packs/orasmade@0.3.0")]));
    assert_eq!(receipt["version"], "0.3.0");
    assert_eq!(
        receipt["checksum"]["content"],
        attune_pack::directory_checksum(&tree).unwrap().to_string()
    );
}

/// Config with a mirror of `upstream` at `mirror` (an `http://` base URL).
fn mirrored(upstream: &Registry, mirror: &str, mirror_host: &str) -> Env {
    env_for_hosts(
        &[upstream.host(), mirror_host.to_owned()],
        &format!("  mirrors:\n    \"{}\": [\"{mirror}\"]\n", upstream.host()),
    )
}

fn env_for_hosts(hosts: &[String], oci_extra: &str) -> Env {
    let env = Env::new();
    let list = hosts
        .iter()
        .map(|h| format!("\"{h}\""))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        env.path("config.yaml"),
        format!("oci:\n  plain_http: [{list}]\n{oci_extra}"),
    )
    .unwrap();
    env
}

#[test]
fn mirrors_are_tried_first_and_the_upstream_after_them() {
    let upstream = Registry::start(Access::Anonymous);
    let mirror = Registry::start(Access::Anonymous);
    let env = mirrored(
        &upstream,
        &format!("http://{}", mirror.host()),
        &mirror.host(),
    );
    let pack = write_pack(&env.path("src"), "hello", "1.0.0", "", 5);
    push(&env, &pack, &upstream.oci("packs"));
    let reference = upstream.oci("packs/hello:1.0.0");

    // The mirror does not have it yet: the upstream serves it, with a warning.
    let out = env.run(&["install", &reference]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("mirror http://"), "{}", text(&out));

    // The mirror has it and the upstream is down: the mirror serves it.
    skopeo_copy(
        &format!("docker://{}/packs/hello:1.0.0", upstream.host()),
        &format!("docker://{}/packs/hello:1.0.0", mirror.host()),
    );
    let upstream_host = upstream.host();
    drop(upstream);
    let out = env.run(&["--json", "install", "--force", &reference]);
    let receipt = json_of(&out);
    assert_eq!(receipt["version"], "1.0.0");
    // The receipt names the upstream reference, not the mirror.
    assert!(
        receipt["source"]["url"]
            .as_str()
            .unwrap()
            .contains(&upstream_host),
        "{receipt}"
    );

    // Both down: the upstream's error.
    drop(mirror);
    let out = env.run(&["install", "--force", &reference]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn upstream_credentials_are_never_offered_to_a_mirror() {
    use crate::support::http_server::{HttpServer, Reply};
    let upstream = Registry::start(Access::Basic("ops", "up-secret"));
    let mirror = HttpServer::start();
    let mirror_host = format!("127.0.0.1:{}", mirror.port());
    // The mirror asks for credentials for everything.
    for path in [
        "/v2/packs/hello/manifests/1.0.0",
        "/v2/packs/hello/tags/list?n=1000",
    ] {
        mirror.script(
            path,
            vec![Reply::status(401, "").header("WWW-Authenticate", "Basic realm=\"mirror\"")],
        );
    }
    let env = mirrored(&upstream, &mirror.url(""), &mirror_host);
    let docker = env.path("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let auth = format!(
        "{{\"auths\": {{\"{}\": {{\"auth\": \"b3BzOnVwLXNlY3JldA==\"}}}}}}",
        upstream.host()
    );
    std::fs::write(docker.join("config.json"), auth).unwrap();
    let pack = write_pack(&env.path("src"), "hello", "1.0.0", "", 2);
    let run = |args: &[&str]| {
        env.command(args)
            .env("DOCKER_CONFIG", &docker)
            .output()
            .unwrap()
    };
    let pushed = run(&["push", pack.to_str().unwrap(), &upstream.oci("packs")]);
    assert!(pushed.status.success(), "{}", text(&pushed));
    let out = run(&["install", &upstream.oci("packs/hello:1.0.0")]);
    assert!(out.status.success(), "{}", text(&out));
    let seen = mirror.seen();
    assert!(!seen.is_empty(), "the mirror was not tried");
    for request in seen {
        assert!(
            !request.headers.contains_key("authorization"),
            "{request:?}"
        );
    }
}

#[test]
fn a_lockfile_pins_the_digest_a_moved_tag_does_not_change() {
    let registry = Registry::start(Access::Anonymous);
    let env = env_for(&registry, "");
    let one = write_pack(&env.path("src"), "hello", "1.0.0", "", 2);
    let ns = registry.oci("packs");
    let first = push(&env, &one, &ns);
    let reference = registry.oci("packs/hello:stable");
    // `stable` names 1.0.0 for now.
    json_of(&env.run(&[
        "--json",
        "push",
        "--tag",
        "stable",
        one.to_str().unwrap(),
        &ns,
    ]));
    json_of(&env.run(&["--json", "install", &reference]));
    let lock = env.path("attune-pack.lock");
    assert!(env
        .run(&["lock", "-o", lock.to_str().unwrap()])
        .status
        .success());
    let locked = std::fs::read_to_string(&lock).unwrap();
    assert!(
        locked.contains(first["digest"].as_str().unwrap()),
        "{locked}"
    );

    // The tag moves to 1.1.0; the lockfile still installs 1.0.0's digest.
    let two = write_pack(&env.path("src"), "hello", "1.1.0", "", 2);
    json_of(&env.run(&[
        "--json",
        "push",
        "--tag",
        "stable",
        two.to_str().unwrap(),
        &ns,
    ]));
    json_of(&env.run(&["--json", "install", "--force", &reference]));
    assert_eq!(store::consistent(&env.path("packs"))["hello"], "1.1.0");
    let out = env.run(&["install", "--locked", lock.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(store::consistent(&env.path("packs"))["hello"], "1.0.0");
}

#[test]
fn bearer_tokens_are_fetched_for_each_scope_and_again_when_they_expire() {
    // Tokens live 3 seconds.
    let registry = Registry::start(Access::Token("ops", "tok-pw", 3));
    // A host without a port: the registry's and the token realm's, both plain http.
    let env = env_for_hosts(&["127.0.0.1".to_owned()], "");
    let docker = env.path("docker");
    let run = |args: &[&str]| {
        env.command(args)
            .env("DOCKER_CONFIG", &docker)
            .output()
            .unwrap()
    };
    let pack = write_pack(&env.path("src"), "hello", "1.0.0", "", 2);
    let pack_arg = pack.to_str().unwrap();
    let ns = registry.oci("packs");

    let anonymous = run(&["push", pack_arg, &ns]);
    assert_eq!(anonymous.status.code(), Some(1), "{}", text(&anonymous));
    assert!(
        text(&anonymous).contains("registry login"),
        "{}",
        text(&anonymous)
    );

    let mut login = env.command(&[
        "registry",
        "login",
        &registry.host(),
        "-u",
        "ops",
        "--password-stdin",
    ]);
    login.env("DOCKER_CONFIG", &docker);
    let out = crate::support::with_stdin(&mut login, b"tok-pw");
    assert!(out.status.success(), "{}", text(&out));
    let pushed = run(&["push", pack_arg, &ns]);
    assert!(pushed.status.success(), "{}", text(&pushed));
    let issued = registry.tokens_issued();
    assert!(
        issued
            .iter()
            .any(|s| s == "repository:packs/hello:pull,push"),
        "{issued:?}"
    );

    // One install, a pause past the tokens' life, another: a fresh token each time.
    let reference = registry.oci("packs/hello:1.0.0");
    assert!(run(&["install", &reference]).status.success());
    let before = registry.tokens_issued().len();
    std::thread::sleep(std::time::Duration::from_secs(4));
    let again = run(&["install", "--force", &reference]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(registry.tokens_issued().len() > before);
    assert!(!text(&again).contains("tok-pw"));
}

#[test]
fn an_oci_layout_seeds_a_registry_with_skopeo_and_installs_offline() {
    let registry = Registry::start(Access::Anonymous);
    let env = env_for(&registry, "");
    let one = write_pack(&env.path("src"), "hello", "1.0.0", "", 20);
    let two = write_pack(&env.path("src"), "other", "2.0.0+b.1", "", 2);
    let layout = env.path("layout");
    let out = env.run(&[
        "--json",
        "bundle",
        "create",
        "--format",
        "oci-layout",
        "-o",
        layout.to_str().unwrap(),
        one.to_str().unwrap(),
        two.to_str().unwrap(),
    ]);
    json_of(&out);
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let names: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(names, ["hello_1.0.0", "other_2.0.0_b.1"]);
    let layout_digest = index["manifests"][0]["digest"].as_str().unwrap().to_owned();

    // Offline, straight from the layout.
    let spec = format!("oci-layout:{}:hello_1.0.0", layout.display());
    let receipt = json_of(&env.run(&["--json", "--offline", "install", &spec]));
    assert_eq!(receipt["source"]["kind"], "oci_layout");
    assert_eq!(receipt["source"]["digest"], layout_digest.as_str());
    assert_eq!(
        receipt["checksum"]["content"],
        attune_pack::directory_checksum(&one).unwrap().to_string()
    );
    let ambiguous = env.run(&[
        "install",
        "--force",
        &format!("oci-layout:{}", layout.display()),
    ]);
    assert_eq!(ambiguous.status.code(), Some(2), "{}", text(&ambiguous));
    assert!(
        text(&ambiguous).contains("hello_1.0.0, other_2.0.0_b.1"),
        "{}",
        text(&ambiguous)
    );

    // skopeo copies it into the registry; the same digest installs from there.
    skopeo_copy(
        &format!("oci:{}:hello_1.0.0", layout.display()),
        &format!("docker://{}/site/hello:1.0.0", registry.host()),
    );
    let receipt = json_of(&env.run(&[
        "--json",
        "install",
        "--force",
        &registry.oci("site/hello@^1"),
    ]));
    assert_eq!(receipt["source"]["digest"], layout_digest.as_str());

    // A layer changed in the layout is refused.
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(
            layout
                .join("blobs/sha256")
                .join(&layout_digest["sha256:".len()..]),
        )
        .unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let other_index = index["manifests"][1]["digest"].as_str().unwrap();
    let other: Value = serde_json::from_slice(
        &std::fs::read(
            layout
                .join("blobs/sha256")
                .join(&other_index["sha256:".len()..]),
        )
        .unwrap(),
    )
    .unwrap();
    let other_layer = other["layers"][0]["digest"].as_str().unwrap();
    let blob = |d: &str| layout.join("blobs/sha256").join(&d["sha256:".len()..]);
    std::fs::copy(blob(other_layer), blob(layer)).unwrap();
    let out = env.run(&["--json", "install", "--force", &spec]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "digest_mismatch", "{doc}");
    assert_eq!(store::consistent(&env.path("packs"))["hello"], "1.0.0");
}

#[test]
fn an_oci_namespace_is_an_index_for_names_requirements_dependencies_and_search() {
    let registry = Registry::start(Access::Anonymous);
    let env = Env::new();
    let ns = registry.oci("team");
    std::fs::write(
        env.path("config.yaml"),
        format!(
            "oci:\n  plain_http: [\"{}\"]\npack_registry:\n  indices:\n    - url: {ns}\n      name: team\n",
            registry.host()
        ),
    )
    .unwrap();
    let src = env.path("src");
    for v in ["1.0.0", "1.1.0"] {
        push(
            &env,
            &write_pack(&src, "hello", v, "description: Says hello\n", 2),
            &ns,
        );
    }
    push(
        &env,
        &write_pack(
            &src,
            "greeter",
            "0.5.0",
            "dependencies: [\"hello@^1\"]\n",
            2,
        ),
        &ns,
    );

    let out = env.run(&["--json", "install", "greeter", "--with-deps"]);
    let done = json_of(&out);
    let versions: Vec<(&str, &str)> = done
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| (r["ref"].as_str().unwrap(), r["version"].as_str().unwrap()))
                .collect()
        })
        .unwrap_or_else(|| {
            vec![(
                done["ref"].as_str().unwrap(),
                done["version"].as_str().unwrap(),
            )]
        });
    assert!(versions.contains(&("greeter", "0.5.0")), "{done}");
    let state = store::consistent(&env.path("packs"));
    assert_eq!(state["hello"], "1.1.0", "{}", text(&out));
    let receipt: Value = serde_json::from_slice(
        &std::fs::read(env.path("packs/.attune-pack/receipts/hello.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(receipt["source"]["kind"], "registry", "{receipt}");
    assert_eq!(receipt["source"]["index"], "team", "{receipt}");

    // A newer version pushed: outdated sees it from the tags, update installs it.
    push(
        &env,
        &write_pack(&src, "hello", "1.2.0", "description: Says hello\n", 2),
        &ns,
    );
    let outdated = json_of(&env.run(&["--json", "outdated"]));
    let row = outdated
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ref"] == "hello")
        .cloned()
        .unwrap();
    assert_eq!(row["latest"], "1.2.0", "{outdated}");
    json_of(&env.run(&["--json", "update", "hello"]));
    assert_eq!(store::consistent(&env.path("packs"))["hello"], "1.2.0");

    // search reads the namespace through the registry's _catalog.
    let hits = json_of(&env.run(&["--json", "search", "hello"]));
    assert_eq!(hits[0]["ref"], "hello", "{hits}");
    assert_eq!(hits[0]["version"], "1.2.0");
    assert_eq!(hits[0]["description"], "Says hello");
    let missing = env.run(&["install", "nosuchpack"]);
    assert_eq!(missing.status.code(), Some(4), "{}", text(&missing));
}

#[test]
fn a_json_index_names_oci_sources_pinned_by_digest() {
    let registry = Registry::start(Access::Anonymous);
    let env = env_for(&registry, "");
    let pack = write_pack(&env.path("src"), "hello", "3.0.0", "", 2);
    let pushed = push(&env, &pack, &registry.oci("packs"));
    let content = attune_pack::directory_checksum(&pack).unwrap().to_string();
    let url = format!(
        "{}@{}",
        registry.oci("packs/hello"),
        pushed["digest"].as_str().unwrap()
    );
    let index = serde_json::json!({
        "registry_name": "t", "registry_url": "", "version": "1", "last_updated": "2026-01-01T00:00:00Z",
        "packs": [{"ref": "hello", "label": "Hello", "description": "", "version": "3.0.0", "author": "",
            "license": "", "keywords": [], "runtime_deps": [], "contents": {},
            "install_sources": [{"type": "oci", "url": url, "checksum": content}]}]
    });
    std::fs::write(env.path("index.json"), index.to_string()).unwrap();
    let config = std::fs::read_to_string(env.path("config.yaml")).unwrap();
    std::fs::write(
        env.path("config.yaml"),
        format!(
            "{config}pack_registry:\n  indices:\n    - url: {}\n",
            env.path("index.json").display()
        ),
    )
    .unwrap();
    let receipt = json_of(&env.run(&["--json", "install", "hello@3"]));
    assert_eq!(receipt["version"], "3.0.0");
    assert_eq!(receipt["checksum"]["content"], content.as_str());
}

/// A registry that lies, scripted on the test HTTP server.
fn fake_registry() -> (crate::support::http_server::HttpServer, Env) {
    let server = crate::support::http_server::HttpServer::start();
    let env = env_for_hosts(&[format!("127.0.0.1:{}", server.port())], "");
    (server, env)
}

#[test]
fn endless_tag_lists_and_token_redirects_end_in_errors() {
    use crate::support::http_server::Reply;
    let (server, env) = fake_registry();
    let base = format!("oci://127.0.0.1:{}", server.port());

    // A tag list whose next page is itself.
    // (The test server matches paths without their queries.)
    let page = "/v2/packs/loop/tags/list";
    server.script(
        page,
        vec![Reply::ok(r#"{"tags": ["1.0.0"]}"#)
            .header("Link", &format!("<{page}?n=1000>; rel=\"next\""))],
    );
    let out = env.run(&["install", &format!("{base}/packs/loop")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("does not end"), "{}", text(&out));
    assert_eq!(server.hits(page), 1);

    // 100,000 tags in one page: read, sorted by version, the highest asked for.
    let tags: Vec<String> = (0..100_000).map(|i| format!("\"1.0.{i}\"")).collect();
    server.script(
        "/v2/packs/many/tags/list",
        vec![Reply::ok(format!("{{\"tags\": [{}]}}", tags.join(",")))],
    );
    let out = env.run(&["install", &format!("{base}/packs/many")]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("many:1.0.99999"), "{}", text(&out));

    // A token realm that redirects to itself.
    let realm = server.url("/token");
    server.script(
        "/v2/packs/auth/manifests/1.0.0",
        vec![Reply::status(401, "").header(
            "WWW-Authenticate",
            &format!("Bearer realm=\"{realm}\",service=\"x\""),
        )],
    );
    server.script("/token", vec![Reply::redirect(302, &realm)]);
    let out = env.run(&["install", &format!("{base}/packs/auth:1.0.0")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("redirects"), "{}", text(&out));
    assert!(server.hits("/token") <= 11, "{}", server.hits("/token"));
}

#[test]
fn an_oci_index_with_trusted_keys_installs_signed_versions_only() {
    let registry = Registry::start(Access::Anonymous);
    let env = Env::new();
    let (public, secret) = crate::bundles::minisign_key(env.tmp.path(), "oci");
    let (_, other_secret) = crate::bundles::minisign_key(env.tmp.path(), "other");
    let ns = registry.oci("signed");
    std::fs::write(
        env.path("config.yaml"),
        format!(
            "oci:\n  plain_http: [\"{}\"]\npack_registry:\n  indices:\n    - url: {ns}\n      name: signed\n      trusted_keys: [\"{}\"]\n",
            registry.host(),
            public.display()
        ),
    )
    .unwrap();
    let src = env.path("src");
    let signed = |version: &str, key: &Path| {
        let pack = write_pack(&src, "hello", version, "", 2);
        json_of(&env.run(&[
            "--json",
            "push",
            "--sign-key",
            key.to_str().unwrap(),
            pack.to_str().unwrap(),
            &ns,
        ]))
    };
    let one = signed("1.0.0", &secret);
    signed("1.1.0", &other_secret);
    push(&env, &write_pack(&src, "hello", "1.2.0", "", 2), &ns);

    let receipt = json_of(&env.run(&["--json", "install", "hello@1.0.0"]));
    assert_eq!(receipt["source"]["index"], "signed");
    assert!(receipt["source"]["key_id"].is_string(), "{receipt}");
    for (version, why) in [("1.1.0", "key"), ("1.2.0", "no signature")] {
        let out = env.run(&["--json", "install", "--force", &format!("hello@{version}")]);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["error"]["code"], "signature_invalid", "{doc}");
        assert!(
            doc["error"]["message"].as_str().unwrap().contains(why),
            "{doc}"
        );
    }
    assert_eq!(store::consistent(&env.path("packs"))["hello"], "1.0.0");

    // The signature is minisign's own format: the real program verifies it (the referrers-tag
    // fallback holds it, distribution 2.8 having no referrers API).
    let digest = one["digest"].as_str().unwrap();
    let base = format!("http://{}/v2/signed/hello", registry.host());
    let fetch = |path: &str, accept: &str| {
        succeeded(Command::new("python3")
            .args(["-c", "import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={'Accept': sys.argv[2]})).read())"])
            .arg(format!("{base}/{path}"))
            .arg(accept))
        .stdout
    };
    let index: Value = serde_json::from_slice(&fetch(
        &format!("manifests/{}", digest.replace(':', "-")),
        "application/vnd.oci.image.index.v1+json",
    ))
    .unwrap();
    let sig_manifest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: Value = serde_json::from_slice(&fetch(
        &format!("manifests/{sig_manifest}"),
        "application/vnd.oci.image.manifest.v1+json",
    ))
    .unwrap();
    assert_eq!(manifest["subject"]["digest"], digest);
    let sig = fetch(
        &format!(
            "blobs/{}",
            manifest["layers"][0]["digest"].as_str().unwrap()
        ),
        "*/*",
    );
    std::fs::write(env.path("digest.txt"), digest).unwrap();
    std::fs::write(env.path("digest.txt.minisig"), sig).unwrap();
    let verified = Command::new("minisign")
        .args(["-V", "-q", "-p"])
        .arg(&public)
        .arg("-m")
        .arg(env.path("digest.txt"))
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", text(&verified));
}

#[test]
fn a_registry_behind_tls_with_a_private_ca() {
    let ca = crate::support::test_ca::TestCa::new();
    let registry = Registry::start_tls(&ca);
    let env = Env::new();
    std::fs::write(env.path("ca.pem"), &ca.ca_pem).unwrap();
    std::fs::write(env.path("config.yaml"), "{}\n").unwrap();
    let pack = write_pack(&env.path("src"), "hello", "1.0.0", "", 3);
    let ns = registry.oci("packs");

    let untrusted = env.run(&["push", pack.to_str().unwrap(), &ns]);
    assert_eq!(untrusted.status.code(), Some(1), "{}", text(&untrusted));
    assert!(text(&untrusted).contains("ca_file"), "{}", text(&untrusted));

    std::fs::write(
        env.path("config.yaml"),
        format!(
            "pack_registry:\n  ca_file: {}\n",
            env.path("ca.pem").display()
        ),
    )
    .unwrap();
    json_of(&env.run(&["--json", "push", pack.to_str().unwrap(), &ns]));
    let receipt = json_of(&env.run(&["--json", "install", &registry.oci("packs/hello@^1")]));
    assert_eq!(receipt["version"], "1.0.0");
}

#[test]
fn a_credential_helper_configured_for_the_host_supplies_its_credentials() {
    let registry = Registry::start(Access::Basic("ci", "from-helper"));
    let env = env_for(&registry, "");
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // docker's helper protocol: `get`, the server on stdin, JSON on stdout.
    let helper = bin.join("docker-credential-testhelper");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread host\necho \"$1 $host\" >> {}\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"ci\",\"Secret\":\"from-helper\"}}' \"$host\"\n",
            env.path("asked").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let docker = env.path("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!(
            "{{\"credHelpers\": {{\"{}\": \"testhelper\"}}}}",
            registry.host()
        ),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pack = write_pack(&env.path("src"), "hello", "1.0.0", "", 2);
    let out = env
        .command(&["push", pack.to_str().unwrap(), &registry.oci("packs")])
        .env("DOCKER_CONFIG", &docker)
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let asked = std::fs::read_to_string(env.path("asked")).unwrap();
    assert!(
        asked.starts_with(&format!("get {}", registry.host())),
        "{asked}"
    );
    assert!(!text(&out).contains("from-helper"));
}

#[test]
fn a_403_for_a_token_issued_earlier_fetches_a_new_one_once() {
    use crate::support::http_server::Reply;
    let (server, env) = fake_registry();
    let base = format!("oci://127.0.0.1:{}", server.port());
    let challenge = format!("Bearer realm=\"{}\",service=\"x\"", server.url("/token"));
    // The tag list asks for a token; the manifest then refuses that (cached) token once.
    server.script(
        "/v2/packs/p/tags/list",
        vec![
            Reply::status(401, "").header("WWW-Authenticate", &challenge),
            Reply::ok(r#"{"tags": ["1.0.0"]}"#),
        ],
    );
    server.script(
        "/token",
        vec![Reply::ok(r#"{"token": "t", "expires_in": 300}"#)],
    );
    server.script(
        "/v2/packs/p/manifests/1.0.0",
        vec![
            Reply::status(403, "").header("WWW-Authenticate", &challenge),
            Reply::status(404, ""),
        ],
    );
    let out = env.run(&["install", &format!("{base}/packs/p")]);
    // Past the 403: the manifest's 404 is what is reported.
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("no manifest"), "{}", text(&out));
    assert_eq!(server.hits("/token"), 2);
    assert_eq!(server.hits("/v2/packs/p/manifests/1.0.0"), 2);
}
