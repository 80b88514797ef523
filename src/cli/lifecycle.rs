//! `update`, `rollback`, `outdated`, `lock`, `install --locked` and `history`: keeping packs
//! current, going back, reproducing a set elsewhere, and seeing what happened when.

use std::path::Path;

use attune_pack::{
    Dependents, Error, Installer, LockedAction, LockedOptions, Lockfile, PackRef, Receipt,
    UpdateOptions, VersionSpec,
};
use semver::Version;
use serde_json::json;

use super::args::UpdateArgs;
use super::batch::{each, Exit, Item};
use super::output::Output;
use super::tables::{history_table, outdated_table};

/// `REF[@REQ]` (or StackStorm's `REF=REQ`).
fn ref_and_requirement(arg: &str) -> attune_pack::Result<(PackRef, Option<VersionSpec>)> {
    let (name, req) = match arg.split_once(['@', '=']) {
        Some((name, req)) => (name, Some(req)),
        None => (arg, None),
    };
    let pack_ref: PackRef = name.parse()?;
    let spec = req
        .map(VersionSpec::parse)
        .transpose()
        .map_err(|e| Error::Usage(format!("`{arg}`: {e}")))?;
    Ok((pack_ref, spec))
}

pub async fn update(installer: &Installer, args: UpdateArgs, out: &Output) -> Result<(), Exit> {
    let refs = match args.all {
        true => installer
            .list()
            .await?
            .into_iter()
            .map(|r| r.pack_ref.to_string())
            .collect(),
        false => args.refs.clone(),
    };
    let keep = installer.config().keep_versions;
    each(out, &refs, args.all, |arg| async move {
        let (pack_ref, spec) = ref_and_requirement(&arg)?;
        let mut opts = super::with_flags(
            UpdateOptions::new(),
            &[
                (args.latest, UpdateOptions::latest),
                (args.dry_run, UpdateOptions::dry_run),
                (args.force, UpdateOptions::force),
                (args.skip_tests, UpdateOptions::skip_tests),
            ],
        );
        if let Some(spec) = spec {
            opts = opts.requirement(spec);
        }
        let report = installer.update(&pack_ref, opts).await?;
        let (from, to) = (&report.from.version, &report.receipt().version);
        let human = match &report.updated {
            None => match report.held_back() {
                Some(latest) => held_back(&pack_ref, &report.from, latest),
                None => format!("{pack_ref} {from} is up to date"),
            },
            Some(u) if u.dry_run => format!("Would update {pack_ref} {from} -> {to}"),
            Some(_) if keep == 0 => format!("Updated {pack_ref} {from} -> {to}"),
            Some(_) => format!("Updated {pack_ref} {from} -> {to} ({from} kept for rollback)"),
        };
        let mut json = json!(report.receipt());
        json["wanted"] = json!(report.wanted);
        json["latest"] = json!(report.latest);
        Ok(Item { json, human })
    })
    .await
}

/// What an update that a requirement held back says: what holds it, what is newer, and
/// the two ways to move.
fn held_back(pack_ref: &PackRef, from: &Receipt, latest: &Version) -> String {
    let holder = match &from.requirement {
        Some(req) => format!("its requirement `{req}` holds it"),
        None => "no newer version is wanted".to_owned(),
    };
    let caret = match latest.major {
        0 => format!("^0.{}", latest.minor),
        major => format!("^{major}"),
    };
    format!(
        "{pack_ref} {} is up to date: {holder}, and {latest} is available\n  to move: attune-pack update {pack_ref}@{caret}   (or: attune-pack update {pack_ref} --latest)",
        from.version
    )
}

pub async fn rollback(
    installer: &Installer,
    pack_ref: &str,
    dependents: Dependents,
    out: &Output,
) -> Result<(), Exit> {
    let pack_ref: PackRef = pack_ref.parse()?;
    let done = installer.rollback(&pack_ref, dependents).await?;
    let r = &done.receipt;
    out.result(json!(r), || {
        format!(
            "Rolled back {pack_ref} {} -> {} ({} is kept: roll back again to return to it)",
            done.from, r.version, done.from
        )
    });
    Ok(())
}

pub async fn outdated(
    installer: &Installer,
    check_sources: bool,
    out: &Output,
) -> Result<(), Exit> {
    let list = installer.outdated(check_sources).await?;
    out.result(json!(list), || outdated_table(&list));
    Ok(())
}

pub async fn lock(installer: &Installer, path: &Path, out: &Output) -> Result<(), Exit> {
    let lock = installer.lock().await?;
    write_file(path, lock.to_json().as_bytes())?;
    out.result(json!({"path": path, "packs": lock.packs.len()}), || {
        format!("Wrote {} ({})", path.display(), packs(lock.packs.len()))
    });
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file beside it, so a reader never sees half;
/// a path that is not a regular file (`/dev/stdout`, a pipe) is written to as it is.
fn write_file(path: &Path, bytes: &[u8]) -> attune_pack::Result<()> {
    let fail = |e: std::io::Error| Error::Io {
        context: format!("writing {}", path.display()),
        source: e,
    };
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return std::fs::write(path, bytes).map_err(fail);
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

pub async fn install_locked(
    installer: &Installer,
    path: &Path,
    opts: LockedOptions,
    dry_run: bool,
    out: &Output,
) -> Result<(), Exit> {
    let lock = Lockfile::read(path)?;
    let outcomes = installer.install_locked(&lock, opts).await?;
    let docs: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| match o.action {
            LockedAction::Removed => json!({"removed": o.receipt.pack_ref}),
            _ => json!(o.receipt),
        })
        .collect();
    out.result(json!(docs), || {
        let would = if dry_run { "Would: " } else { "" };
        let mut lines: Vec<String> = outcomes
            .iter()
            .map(|o| {
                let r = &o.receipt;
                let what = match &o.action {
                    LockedAction::Unchanged => format!("unchanged {} {}", r.pack_ref, r.version),
                    LockedAction::Installed => format!("installed {} {}", r.pack_ref, r.version),
                    LockedAction::Replaced(from) => {
                        format!("replaced {} {from} -> {}", r.pack_ref, r.version)
                    }
                    LockedAction::Removed => format!("removed {} {}", r.pack_ref, r.version),
                };
                format!("{would}{what}")
            })
            .collect();
        lines.push(format!(
            "{} as locked in {}",
            packs(lock.packs.len()),
            path.display()
        ));
        lines.join("\n")
    });
    Ok(())
}

pub async fn history(
    installer: &Installer,
    pack_ref: Option<&str>,
    out: &Output,
) -> Result<(), Exit> {
    let pack_ref: Option<PackRef> = pack_ref.map(str::parse).transpose()?;
    let records = installer.history(pack_ref.as_ref()).await?;
    out.result(json!(records), || history_table(&records));
    Ok(())
}

/// "1 pack", "3 packs".
fn packs(n: usize) -> String {
    match n {
        1 => "1 pack".to_owned(),
        n => format!("{n} packs"),
    }
}
