//! The library as an embedding program uses it: the builder, typed errors, hooks, events, and
//! async entry points that leave the runtime free.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::in_process::no_faults;

use attune_pack::{
    Action, Dependents, DetectOptions, Error, Event, EventSink, InstallHooks, InstallOptions,
    InstallReport, Installer, InstallerBuilder, Interrupt, PackRef, PackSource, PendingChange,
    UpdateOptions,
};

fn pack(dir: &Path, files: usize) -> PathBuf {
    let root = dir.join("src-pack");
    std::fs::create_dir_all(root.join("actions")).unwrap();
    std::fs::write(
        root.join("pack.yaml"),
        "ref: embedded\nlabel: Embedded\nversion: 0.3.0\n",
    )
    .unwrap();
    for i in 0..files {
        std::fs::write(
            root.join(format!("actions/a{i}.yaml")),
            format!("name: a{i}\n"),
        )
        .unwrap();
    }
    root
}

fn source(path: &Path) -> PackSource {
    PackSource::detect(path.to_str().unwrap(), &DetectOptions::new()).unwrap()
}

/// Records every hook call; vetoes or interrupts on request.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    veto: bool,
    /// Veto this operation only.
    veto_only: Option<Action>,
    interrupt_after_approval: Option<Interrupt>,
}

#[async_trait::async_trait]
impl InstallHooks for Recorder {
    async fn before_commit(&self, p: &PendingChange) -> Result<(), String> {
        self.calls.lock().unwrap().push(format!(
            "before {}{} {}",
            operation(p),
            p.pack_ref,
            p.to.clone().unwrap_or_default()
        ));
        if let Some(i) = &self.interrupt_after_approval {
            i.trigger();
        }
        if self.veto || self.veto_only == Some(p.operation) {
            Err("the server's database refused it".into())
        } else {
            Ok(())
        }
    }
    async fn after_commit(&self, p: &PendingChange) {
        self.calls
            .lock()
            .unwrap()
            .push(format!("after {}{}", operation(p), p.pack_ref));
    }
    async fn on_abort(&self, p: &PendingChange, e: &Error) {
        self.calls.lock().unwrap().push(format!(
            "abort {}{} {}",
            operation(p),
            p.pack_ref,
            e.code()
        ));
    }
}

/// `""` for an install, else the operation and a space (`"rollback "`).
fn operation(p: &PendingChange) -> String {
    match p.operation {
        Action::Install => String::new(),
        other => format!("{other:?} ").to_lowercase(),
    }
}

/// An installer's builder for the store `packs` that reports to `hooks`.
fn hooked(packs: &Path, hooks: &Arc<Recorder>) -> InstallerBuilder {
    Installer::builder().packs_dir(packs).hooks(hooks.clone())
}

/// Installs the pack [`pack`] writes under `dir` with `files` actions.
async fn install_pack(
    installer: &Installer,
    dir: &Path,
    files: usize,
) -> attune_pack::Result<InstallReport> {
    installer
        .install(source(&pack(dir, files)), InstallOptions::new())
        .await
}

fn store_is_untouched(packs: &Path) {
    assert!(!packs.join("embedded").exists());
    assert!(!packs.join(".attune-pack/receipts/embedded.json").exists());
    assert_eq!(
        std::fs::read_dir(packs.join(".attune-pack/staging"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn hooks_see_the_commit_and_events_reach_the_caller() {
    let _no_faults = no_faults();
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let hooks = Arc::new(Recorder::default());
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let installer = hooked(&packs, &hooks)
        .on_event(Arc::new(move |e: &Event| {
            sink.lock().unwrap().push(e.clone())
        }))
        .build()
        .unwrap();
    let report = install_pack(&installer, tmp.path(), 3).await.unwrap();
    assert_eq!(report.receipt.pack_ref, "embedded");
    assert_eq!(report.receipt.label, "Embedded");
    assert_eq!(report.receipt.path, packs.join("embedded"));
    assert!(packs.join("embedded/actions/a2.yaml").is_file());
    assert_eq!(
        *hooks.calls.lock().unwrap(),
        vec!["before embedded 0.3.0", "after embedded"]
    );
    let events = events.lock().unwrap().clone();
    assert!(
        matches!(
            &events[0],
            Event::Detected {
                kind: "local directory",
                ..
            }
        ),
        "{events:?}"
    );
    assert_eq!(installer.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_veto_leaves_the_store_unchanged_with_exit_5() {
    let _no_faults = no_faults();
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let hooks = Arc::new(Recorder {
        veto: true,
        ..Default::default()
    });
    let installer = hooked(&packs, &hooks).build().unwrap();
    let err = install_pack(&installer, tmp.path(), 1).await.unwrap_err();
    assert_eq!(err.code(), "hook_veto");
    assert_eq!(err.exit_code(), 5);
    assert!(err.to_string().contains("database refused it"));
    store_is_untouched(&packs);
    assert_eq!(*hooks.calls.lock().unwrap(), vec!["before embedded 0.3.0"]);
}

#[tokio::test]
async fn a_failure_after_approval_calls_on_abort() {
    let _no_faults = no_faults();
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let interrupt = Interrupt::new();
    let hooks = Arc::new(Recorder {
        interrupt_after_approval: Some(interrupt.clone()),
        ..Default::default()
    });
    let installer = hooked(&packs, &hooks).interrupt(interrupt).build().unwrap();
    let err = install_pack(&installer, tmp.path(), 1).await.unwrap_err();
    assert_eq!(err.exit_code(), 130);
    store_is_untouched(&packs);
    assert_eq!(
        *hooks.calls.lock().unwrap(),
        vec!["before embedded 0.3.0", "abort embedded interrupted"]
    );
}

/// Updates, rollbacks and uninstalls reach the hooks as well, saying which operation and from
/// and to which version; a vetoed rollback leaves the store as it was. The history tells an
/// embedding program what happened.
#[tokio::test]
async fn hooks_see_updates_rollbacks_and_uninstalls() {
    let _no_faults = no_faults();
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let hooks = Arc::new(Recorder::default());
    let installer = hooked(&packs, &hooks).build().unwrap();
    install_pack(&installer, tmp.path(), 1).await.unwrap();
    let yaml = tmp.path().join("src-pack/pack.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(&yaml, text.replace("0.3.0", "0.4.0")).unwrap();
    let embedded: PackRef = "embedded".parse().unwrap();
    let report = installer
        .update(&embedded, UpdateOptions::new())
        .await
        .unwrap();
    assert_eq!(report.from.version.to_string(), "0.3.0");
    assert_eq!(report.receipt().version.to_string(), "0.4.0");

    let vetoing = Arc::new(Recorder {
        veto_only: Some(Action::Rollback),
        ..Default::default()
    });
    let refused = hooked(&packs, &vetoing).build().unwrap();
    let err = refused
        .rollback(&embedded, Dependents::Refuse)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "hook_veto");
    assert_eq!(
        installer.show(&embedded).await.unwrap().version.to_string(),
        "0.4.0"
    );
    assert!(std::fs::read_to_string(packs.join("embedded/pack.yaml"))
        .unwrap()
        .contains("0.4.0"));

    let done = installer
        .rollback(&embedded, Dependents::Refuse)
        .await
        .unwrap();
    assert_eq!(
        (done.from.as_str(), done.receipt.version.to_string()),
        ("0.4.0", "0.3.0".into())
    );
    installer
        .uninstall(&embedded, Dependents::Refuse)
        .await
        .unwrap();
    assert_eq!(
        *hooks.calls.lock().unwrap(),
        vec![
            "before embedded 0.3.0",
            "after embedded",
            "before update embedded 0.4.0",
            "after update embedded",
            "before rollback embedded 0.3.0",
            "after rollback embedded",
            "before uninstall embedded ",
            "after uninstall embedded",
        ]
    );
    let history: Vec<(Action, Option<String>, Option<String>)> = installer
        .history(Some(&embedded))
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.outcome == attune_pack::Outcome::Ok)
        .map(|r| (r.action, r.from, r.to))
        .collect();
    let v = |s: &str| Some(s.to_owned());
    assert_eq!(
        history,
        [
            (Action::Install, None, v("0.3.0")),
            (Action::Update, v("0.3.0"), v("0.4.0")),
            (Action::Rollback, v("0.4.0"), v("0.3.0")),
            (Action::Uninstall, v("0.3.0"), None),
        ]
    );
}

/// Extraction, hashing and the durable commit run on the blocking pool: on a single-threaded
/// runtime another task keeps running during each of those phases. Each phase is bracketed by
/// events; had its work run on the runtime's thread, the other task could not have run
/// between them (it runs only when the install awaits something pending).
#[test]
fn install_does_not_block_the_runtime() {
    let _no_faults = no_faults();
    let tmp = tempfile::tempdir().unwrap();
    let src = pack(tmp.path(), 2000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    // (phase, ticks when it began), and the ticks when the install returned.
    let marks: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let (t, m) = (ticks.clone(), marks.clone());
    let sink: EventSink = Arc::new(move |e: &Event| {
        if let Event::Phase(phase) = e {
            let now = t.load(Ordering::SeqCst);
            m.lock().unwrap().push((format!("{phase:?}"), now));
        }
    });
    rt.block_on(async {
        let done = Arc::new(AtomicBool::new(false));
        let (d, t) = (done.clone(), ticks.clone());
        let ticker = tokio::spawn(async move {
            while !d.load(Ordering::SeqCst) {
                t.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        });
        let installer = Installer::builder()
            .packs_dir(tmp.path().join("packs"))
            .on_event(sink)
            .build()
            .unwrap();
        installer
            .install(source(&src), InstallOptions::new())
            .await
            .unwrap();
        let end = ticks.load(Ordering::SeqCst);
        marks.lock().unwrap().push(("end".into(), end));
        done.store(true, Ordering::SeqCst);
        ticker.await.unwrap();
    });
    let marks = marks.lock().unwrap().clone();
    let at = |name: &str| {
        let i = marks.iter().position(|(p, _)| p == name);
        let i = i.unwrap_or_else(|| panic!("no {name} event: {marks:?}"));
        (marks[i].1, marks[i + 1].1)
    };
    for phase in ["Extracting", "Validating", "Committing"] {
        let (began, next) = at(phase);
        assert!(
            next > began,
            "the other task never ran while {phase} worked: {marks:?}"
        );
    }
}

/// A git fetch's progress reports the pack as it is received: the bytes shown with the last
/// objects event are the whole pack (over 1 MiB here), not the first read (8 KiB), however
/// quickly it arrived.
#[tokio::test]
async fn git_progress_reports_the_received_pack() {
    use crate::support::git_server::{GitDaemon, Repo};
    let _no_faults = no_faults();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("work"));
    repo.write("pack.yaml", "ref: big\nversion: 1.0.0\n");
    let mut seed = 0x2545_f491_u64;
    for i in 0..150 {
        // Incompressible bytes (xorshift), so the pack is as large as the files.
        let bytes: Vec<u8> = (0..10_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        std::fs::write(repo.dir.join(format!("f{i}.bin")), bytes).unwrap();
    }
    repo.commit("big");
    let srv = tmp.path().join("srv");
    std::fs::create_dir(&srv).unwrap();
    repo.bare_clone(&srv.join("big.git"));
    let daemon = GitDaemon::start(&srv);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let installer = Installer::builder()
        .packs_dir(tmp.path().join("packs"))
        .cache_dir(tmp.path().join("cache"))
        .on_event(Arc::new(move |e: &Event| {
            if matches!(e, Event::Bytes { .. } | Event::Objects { .. }) {
                sink.lock().unwrap().push(e.clone())
            }
        }))
        .build()
        .unwrap();
    let source = PackSource::detect(&daemon.url("big.git"), &DetectOptions::new()).unwrap();
    installer
        .install(source, InstallOptions::new().skip_tests())
        .await
        .unwrap();
    let events = events.lock().unwrap().clone();
    let last_objects = events
        .iter()
        .rposition(|e| matches!(e, Event::Objects { .. }))
        .expect("objects reported");
    assert!(
        matches!(
            events[last_objects],
            Event::Objects {
                done: 153,
                total: Some(153)
            }
        ),
        "{:?}",
        events[last_objects]
    );
    let bytes_then = events[..last_objects].iter().rev().find_map(|e| match e {
        Event::Bytes { done, .. } => Some(*done),
        _ => None,
    });
    assert!(bytes_then.unwrap_or(0) > 1_400_000, "{bytes_then:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_embedding_denies_private_addresses_with_a_typed_error() {
    let server = crate::support::http_server::HttpServer::start();
    server.serve(
        "/hello.tgz",
        crate::support::registry::pack_tgz("hello", "1.0.0"),
    );
    let tmp = tempfile::tempdir().unwrap();
    let installer = Installer::builder()
        .packs_dir(tmp.path().join("packs"))
        .config(attune_pack::Config::default())
        .allow_http()
        .net_policy(attune_pack::NetPolicy::DenyPrivate)
        .build()
        .unwrap();
    let url = server.url("/hello.tgz");
    let e = installer
        .install(
            PackSource::detect(&url, &DetectOptions::new()).unwrap(),
            InstallOptions::new(),
        )
        .await
        .unwrap_err();
    match &e {
        Error::AddressNotAllowed { host, address, .. } => {
            assert_eq!(
                (host.as_str(), address.as_str()),
                ("127.0.0.1", "127.0.0.1")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((e.code(), e.exit_code()), ("address_not_allowed", 3));
    assert_eq!(server.hits("/hello.tgz"), 0);
}
