//! Store transactions and recovery from states an interrupted command leaves, built by hand
//! step by step (the fault-injection suite in `tests/` drives the same paths through the
//! binary with real faults and kills).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::journal::{Journal, Plan, Step};
use super::txn::Committed;
use super::*;
use crate::model::history::{Action, Outcome, Recovery};
use crate::model::receipt::{ReceiptChecksums, ReceiptSource, TestSummary};

fn p() -> PackRef {
    PackRef::new("p").unwrap()
}

fn receipt(store: &LockedStore, version: &str) -> Receipt {
    Receipt {
        pack_ref: p(),
        version: version.parse().unwrap(),
        label: "P".into(),
        path: store.active_dir(&p()),
        installed_at: crate::model::receipt::now(),
        requirement: None,
        source: ReceiptSource::default(),
        checksum: ReceiptChecksums {
            archive: None,
            content: crate::integrity::hashing::listing_checksum(&listing(version)),
        },
        tests: TestSummary::default(),
        dependencies: Vec::new(),
        stackstorm_version: None,
        env: Default::default(),
    }
}

/// The content checksum's text of the tree [`stage`] writes.
fn listing(version: &str) -> Vec<u8> {
    let yaml = crate::integrity::hashing::sha256_bytes(pack_yaml(version).as_bytes());
    format!("pack.yaml\0f\0{}\n", hex::encode(yaml)).into_bytes()
}

fn pack_yaml(version: &str) -> String {
    format!("ref: p\nversion: {version}\n")
}

/// A staged tree for version `version`, inside a staging dir that is leaked (as a crashed
/// process would leave it).
fn stage(store: &LockedStore, version: &str) -> PathBuf {
    let staging = store.staging().unwrap().abandon();
    let dir = staging.join("tree");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("pack.yaml"), pack_yaml(version)).unwrap();
    dir
}

fn lock(root: &Path) -> LockedStore {
    Store::new(root)
        .lock(Duration::from_secs(1), &|_| {}, &Interrupt::new())
        .unwrap()
}

fn install(store: &LockedStore, version: &str, keep: usize) -> Committed {
    let dir = stage(store, version);
    let done = store
        .commit(
            &dir,
            &receipt(store, version),
            &listing(version),
            keep,
            Action::Install,
            serde_json::Value::Null,
        )
        .unwrap();
    // What the installer's staging guard does once the commit returns.
    fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    done
}

fn active_version(root: &Path) -> Option<String> {
    fs::read_to_string(root.join("p/pack.yaml"))
        .ok()
        .map(|t| t.trim_start_matches("ref: p\nversion: ").trim().to_owned())
}

fn receipt_version(store: &LockedStore) -> Option<String> {
    store.receipt(&p()).unwrap().map(|r| r.version.to_string())
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Nothing left of any change: no journal, empty staging and trash.
fn assert_settled(root: &Path) {
    let meta = root.join(".attune-pack");
    assert!(!meta.join("journal.jsonl").exists());
    assert!(names(&meta.join("staging")).is_empty());
    assert!(names(&meta.join("trash")).is_empty());
}

fn history(store: &LockedStore) -> Vec<Record> {
    store.history().unwrap().records
}

#[test]
fn commit_keeps_previous_versions_in_order_and_prunes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = lock(tmp.path());
    install(&store, "1.0.0", 2);
    assert!(store.kept_versions(&p()).unwrap().is_empty());
    install(&store, "2.0.0", 2);
    assert_eq!(store.kept_versions(&p()).unwrap()[0].version, "1.0.0");
    install(&store, "3.0.0", 2);
    assert_eq!(active_version(tmp.path()).unwrap(), "3.0.0");
    let kept: Vec<String> = store
        .kept_versions(&p())
        .unwrap()
        .into_iter()
        .map(|k| k.version)
        .collect();
    assert_eq!(kept, ["2.0.0", "1.0.0"]);
    install(&store, "4.0.0", 1);
    let kept = store.kept_versions(&p()).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].version, "3.0.0");
    assert_eq!(receipt_version(&store).unwrap(), "4.0.0");
    assert_settled(tmp.path());
    let outcomes: Vec<Outcome> = history(&store).iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::Ok; 4]);
}

#[test]
fn two_builds_of_one_version_are_both_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let store = lock(tmp.path());
    install(&store, "1.0.0", 5);
    install(&store, "1.0.0", 5);
    install(&store, "1.0.0", 5);
    let names: Vec<String> = store
        .kept_versions(&p())
        .unwrap()
        .iter()
        .map(|k| k.dir.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let base = format!(
        "1.0.0+{}",
        &receipt(&store, "1.0.0").checksum.content.hex()[..8]
    );
    assert_eq!(names, [format!("{base}~2"), base]);
    let kept = store.kept_versions(&p()).unwrap();
    assert!(kept[0].seq > kept[1].seq);
}

#[test]
fn keep_versions_zero_keeps_none() {
    let tmp = tempfile::tempdir().unwrap();
    let store = lock(tmp.path());
    install(&store, "1.0.0", 0);
    install(&store, "2.0.0", 0);
    assert!(store.kept_versions(&p()).unwrap().is_empty());
    assert!(!tmp.path().join(".attune-pack/versions/p").exists());
}

/// Replays an install up to (not including) the effect of `stop`; the journal stays, as a
/// crash would leave it. Returns the staged dir.
fn crash_install_before(store: &LockedStore, version: &str, stop: Option<Step>) -> PathBuf {
    let staged = stage(store, version);
    let plan = store
        .install_plan(Action::Install, &staged, &receipt(store, version), 1)
        .unwrap();
    let mut journal = Journal::create(
        &store.layout.journal(),
        &Plan::Install(Box::new(plan.clone())),
        store.durability,
    )
    .unwrap();
    let active = store.active_dir(&p());
    let steps: Vec<(Step, Box<dyn Fn()>)> = vec![
        (
            Step::Displace,
            Box::new(|| {
                if let Some(old) = &plan.old {
                    let versions = store.layout.versions(&p());
                    fs::create_dir_all(&versions).unwrap();
                    fs::rename(&active, versions.join(&old.kept)).unwrap();
                }
            }),
        ),
        (
            Step::Activate,
            Box::new(|| fs::rename(&staged, &active).unwrap()),
        ),
        (
            Step::Receipts,
            Box::new(|| {
                store.finish_install(&plan).unwrap();
            }),
        ),
    ];
    for (step, take) in steps {
        journal.step(step).unwrap();
        if Some(step) == stop {
            break;
        }
        take();
    }
    if stop.is_none() {
        // What the install does once its history line is written.
        journal.step(Step::Recorded).unwrap();
    }
    std::mem::forget(journal);
    staged
}

#[test]
fn a_crash_before_the_new_version_is_in_place_is_undone() {
    for stop in [Step::Displace, Step::Activate] {
        let tmp = tempfile::tempdir().unwrap();
        let store = lock(tmp.path());
        install(&store, "1.0.0", 1);
        crash_install_before(&store, "2.0.0", Some(stop));
        drop(store);

        let store = lock(tmp.path());
        assert_eq!(active_version(tmp.path()).unwrap(), "1.0.0", "{stop:?}");
        assert_eq!(receipt_version(&store).unwrap(), "1.0.0");
        assert!(store.kept_versions(&p()).unwrap().is_empty());
        assert_settled(tmp.path());
        // Reported (and recorded) even when nothing had to change: the install was
        // attempted, and no one recorded how it ended.
        let done = store.recovered();
        assert_eq!(done.len(), 1, "{stop:?}");
        assert_eq!(done[0].recovery, Recovery::Undone);
        assert_eq!(history(&store).last().unwrap().outcome, Outcome::Recovered);
    }
}

/// The bug this design fixes: the staged tree is gone (its process deleted it) while the
/// journal names it and the old version sits in `versions/`. A missing directory is no
/// evidence that the new version is in place: the old one goes back.
#[test]
fn a_vanished_staging_dir_does_not_count_as_installed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = lock(tmp.path());
    install(&store, "1.0.0", 1);
    let staged = crash_install_before(&store, "2.0.0", Some(Step::Activate));
    fs::remove_dir_all(&staged).unwrap();
    drop(store);

    let store = lock(tmp.path());
    assert_eq!(active_version(tmp.path()).unwrap(), "1.0.0");
    assert_eq!(receipt_version(&store).unwrap(), "1.0.0");
    assert_eq!(store.recovered()[0].recovery, Recovery::Undone);
}

#[test]
fn a_crash_after_the_new_version_is_in_place_is_completed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = lock(tmp.path());
    install(&store, "1.0.0", 1);
    crash_install_before(&store, "2.0.0", Some(Step::Receipts));
    drop(store);

    let store = lock(tmp.path());
    assert_eq!(active_version(tmp.path()).unwrap(), "2.0.0");
    assert_eq!(receipt_version(&store).unwrap(), "2.0.0");
    let kept = store.kept_versions(&p()).unwrap();
    assert_eq!(kept[0].version, "1.0.0");
    assert_settled(tmp.path());
    let done = &store.recovered()[0];
    assert_eq!(done.recovery, Recovery::Completed);
    assert_eq!(
        (done.from.as_deref(), done.to.as_deref()),
        (Some("1.0.0"), Some("2.0.0"))
    );
    let last = history(&store).pop().unwrap();
    assert_eq!(last.outcome, Outcome::Recovered);
    assert_eq!(last.recovery, Some(Recovery::Completed));
}

/// An install killed after its commit point but before its history line: recovery changes
/// nothing on disk, and writes the line (once).
#[test]
fn an_install_that_landed_without_its_history_line_is_recorded_by_recovery() {
    let tmp = tempfile::tempdir().unwrap();
    let store = lock(tmp.path());
    install(&store, "1.0.0", 1);
    crash_install_before(&store, "2.0.0", Some(Step::Recorded));
    drop(store);

    let store = lock(tmp.path());
    assert_eq!(receipt_version(&store).unwrap(), "2.0.0");
    assert_eq!(store.recovered()[0].recovery, Recovery::Completed);
    let last = history(&store).pop().unwrap();
    assert_eq!(
        (last.outcome, last.to.as_deref()),
        (Outcome::Recovered, Some("2.0.0"))
    );
    let lines = history(&store).len();
    drop(store);
    let store = lock(tmp.path());
    assert!(store.recovered().is_empty());
    assert_eq!(history(&store).len(), lines, "recorded once");
    assert_settled(tmp.path());
}

#[test]
fn an_install_that_only_lost_its_journal_removal_is_not_recovered_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let store = lock(tmp.path());
    install(&store, "1.0.0", 1);
    crash_install_before(&store, "2.0.0", None);
    drop(store);

    let store = lock(tmp.path());
    assert!(store.recovered().is_empty());
    assert_eq!(receipt_version(&store).unwrap(), "2.0.0");
    assert_settled(tmp.path());
}

#[test]
fn an_announced_undo_is_continued_even_when_the_new_version_is_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let store = lock(tmp.path());
    install(&store, "1.0.0", 1);
    crash_install_before(&store, "2.0.0", Some(Step::Receipts));
    let mut journal = fs::OpenOptions::new()
        .append(true)
        .open(store.layout.journal())
        .unwrap();
    std::io::Write::write_all(&mut journal, b"{\"step\":\"undo\"}\n").unwrap();
    drop(store);

    let store = lock(tmp.path());
    assert_eq!(active_version(tmp.path()).unwrap(), "1.0.0");
    assert_eq!(receipt_version(&store).unwrap(), "1.0.0");
    assert_eq!(store.recovered()[0].recovery, Recovery::Undone);
    assert_settled(tmp.path());
}

#[test]
fn torn_journal_lines_are_steps_never_taken() {
    let tmp = tempfile::tempdir().unwrap();
    let store = lock(tmp.path());
    install(&store, "1.0.0", 1);
    let journal = store.layout.journal();
    fs::write(&journal, b"{\"op\":\"install\",\"pack_ref\":\"p\",\"ne").unwrap();
    drop(store);
    let store = lock(tmp.path());
    assert!(store.recovered().is_empty());
    assert_eq!(active_version(tmp.path()).unwrap(), "1.0.0");
    assert_settled(tmp.path());

    // A complete plan with a torn step after it: the step was not taken.
    crash_install_before(&store, "2.0.0", Some(Step::Displace));
    let mut text = fs::read(store.layout.journal()).unwrap();
    let cut = text.len() - 4;
    text.truncate(cut);
    fs::write(store.layout.journal(), text).unwrap();
    drop(store);
    let store = lock(tmp.path());
    assert_eq!(
        active_version(tmp.path()).unwrap(),
        "1.0.0",
        "nothing had changed"
    );
    assert_eq!(store.recovered()[0].recovery, Recovery::Undone);
    assert_settled(tmp.path());
}

#[test]
fn uninstall_moves_the_pack_out_in_one_step_and_recovers_either_way() {
    // Completed: the pack left its place before the crash.
    let tmp = tempfile::tempdir().unwrap();
    let store = lock(tmp.path());
    install(&store, "1.0.0", 1);
    install(&store, "2.0.0", 1);
    let id = store.id_of(&store.active_dir(&p())).unwrap();
    let plan = journal::UninstallPlan {
        pack_ref: p(),
        id,
        detached: unique_name("uninstalled"),
        previous_receipt: store.receipt(&p()).unwrap(),
    };
    let mut journal = Journal::create(
        &store.layout.journal(),
        &Plan::Uninstall(Box::new(plan.clone())),
        store.durability,
    )
    .unwrap();
    journal.step(Step::Detach).unwrap();
    fs::rename(
        store.active_dir(&p()),
        store.layout.trash().join(&plan.detached),
    )
    .unwrap();
    std::mem::forget(journal);
    drop(store);
    let store = lock(tmp.path());
    assert!(!store.is_installed(&p()));
    assert!(store.receipt(&p()).unwrap().is_none());
    assert!(!tmp.path().join(".attune-pack/versions/p").exists());
    assert_eq!(store.recovered()[0].recovery, Recovery::Completed);
    assert_settled(tmp.path());

    // Undone: the crash came before the pack moved.
    install(&store, "3.0.0", 1);
    let plan = journal::UninstallPlan {
        id: store.id_of(&store.active_dir(&p())).unwrap(),
        previous_receipt: store.receipt(&p()).unwrap(),
        ..plan
    };
    let mut journal = Journal::create(
        &store.layout.journal(),
        &Plan::Uninstall(Box::new(plan)),
        store.durability,
    )
    .unwrap();
    journal.step(Step::Detach).unwrap();
    std::mem::forget(journal);
    drop(store);
    let store = lock(tmp.path());
    assert_eq!(active_version(tmp.path()).unwrap(), "3.0.0");
    assert_eq!(receipt_version(&store).unwrap(), "3.0.0");
    assert_eq!(store.recovered()[0].recovery, Recovery::Undone, "reported");
    assert_settled(tmp.path());
}

#[test]
fn orphans_of_interrupted_pruning_and_writes_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = lock(tmp.path());
    install(&store, "1.0.0", 5);
    install(&store, "2.0.0", 5);
    let versions = tmp.path().join(".attune-pack/versions/p");
    fs::create_dir_all(versions.join("0.9.0/actions")).unwrap(); // a directory without record
    fs::write(versions.join("0.8.0.json"), "{}").unwrap(); // a record without directory
    fs::write(versions.join(".tmp-abc"), "torn").unwrap();
    fs::write(tmp.path().join(".attune-pack/receipts/.tmp-x"), "torn").unwrap();
    fs::write(tmp.path().join(".attune-pack/.tmp-y"), "torn").unwrap();
    fs::create_dir_all(tmp.path().join(".attune-pack/trash/pruned-1/deep")).unwrap();
    drop(store);

    let store = lock(tmp.path());
    let kept = store.kept_versions(&p()).unwrap()[0].name();
    assert_eq!(names(&versions), [kept.clone(), format!("{kept}.json")]);
    assert!(names(&tmp.path().join(".attune-pack/receipts")) == ["p.json"]);
    assert!(!tmp.path().join(".attune-pack/.tmp-y").exists());
    assert_eq!(store.kept_versions(&p()).unwrap().len(), 1);
    assert_settled(tmp.path());
}

/// Recovery always ends: when the version to restore was removed by hand meanwhile, the
/// store is left consistent (no receipt for a pack that is not there) instead of refusing
/// every later command.
#[test]
fn a_kept_version_removed_by_hand_does_not_wedge_recovery() {
    let tmp = tempfile::tempdir().unwrap();
    let store = lock(tmp.path());
    install(&store, "1.0.0", 1);
    crash_install_before(&store, "2.0.0", Some(Step::Activate));
    let kept = store.layout.versions(&p());
    fs::remove_dir_all(&kept).unwrap();
    drop(store);

    let store = lock(tmp.path());
    assert!(!store.is_installed(&p()));
    assert!(store.receipt(&p()).unwrap().is_none());
    assert_eq!(store.recovered()[0].recovery, Recovery::Undone);
    assert_settled(tmp.path());
}
