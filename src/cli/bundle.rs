//! `bundle create`, `bundle list`, `bundle verify`: offline bundles.

use std::io::IsTerminal;
use std::path::Path;

use attune_pack::{
    BundleFormat, BundleManifest, BundleOptions, DetectOptions, Error, Installer, Lockfile,
    PackSource, PasswordFn,
};
use serde_json::{json, Value};

use super::args::{BundleCommand, BundleCreateArgs};
use super::batch::Exit;
use super::output::Output;

pub async fn run(installer: &Installer, cmd: BundleCommand, out: &Output) -> Result<(), Exit> {
    match cmd {
        BundleCommand::Create(args) => create(installer, args, out).await,
        BundleCommand::List { bundle } => {
            let manifest = installer.bundle_list(&bundle).await?;
            let rows = list_rows(&manifest);
            out.result(Value::Array(rows.clone()), || list_table(&rows));
            Ok(())
        }
        BundleCommand::Verify {
            bundle,
            trusted_keys,
        } => {
            let v = installer.bundle_verify(&bundle, &trusted_keys).await?;
            let doc = json!({
                "packs": v.manifest.packs.len(),
                "signed": v.signed,
                "signed_by": v.signed_by,
                "timestamp": v.timestamp,
            });
            let signature = match (&v.signed_by, v.signed) {
                (Some(key), _) => format!("signature by key {key} verified"),
                (None, true) => "signed, signature not checked (no trusted key)".to_owned(),
                (None, false) => "not signed".to_owned(),
            };
            out.result(doc, || {
                format!(
                    "{}: {} packs verified, {signature}",
                    bundle.display(),
                    v.manifest.packs.len()
                )
            });
            Ok(())
        }
    }
}

async fn create(installer: &Installer, args: BundleCreateArgs, out: &Output) -> Result<(), Exit> {
    let mut opts = BundleOptions::new();
    for arg in &args.refs {
        opts = opts.pack(PackSource::detect(arg, &DetectOptions::new())?);
    }
    if args.with_deps {
        opts = opts.with_deps();
    }
    if args.format == "oci-layout" {
        opts = opts.format(BundleFormat::OciLayout);
    }
    if args.all_installed {
        opts = opts.all_installed();
    }
    if let Some(lock) = &args.from_lock {
        opts = opts.lockfile(Lockfile::read(lock)?);
    }
    if let Some(key) = &args.sign_key {
        opts = opts.sign_key(key, password(key, args.password_file.as_deref())?);
    }
    let report = installer.bundle_create(&args.output, opts).await?;
    let doc = json!({
        "path": report.path,
        "packs": list_rows(&report.manifest),
        "timestamp": report.timestamp,
        "signed_by": report.signed_by,
    });
    out.result(doc, || {
        let signed = match &report.signed_by {
            Some(key) => format!(", signed by key {key}"),
            None => String::new(),
        };
        format!(
            "Wrote {}: {} packs{signed}",
            report.path.display(),
            report.manifest.packs.len()
        )
    });
    Ok(())
}

/// Where an encrypted key's password comes from: the file's first line, else a prompt when
/// stdin is a terminal, else nowhere (an encrypted key is then a usage error).
pub fn password(key: &Path, file: Option<&Path>) -> attune_pack::Result<Option<PasswordFn>> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::Usage(format!("--password-file {}: {e}", file.display())))?;
        let line = text.lines().next().unwrap_or_default().to_owned();
        return Ok(Some(Box::new(move || Ok(line))));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let prompt = format!("Password for {}: ", key.display());
    Ok(Some(Box::new(move || {
        rpassword::prompt_password(prompt).map_err(|e| format!("reading the password: {e}"))
    })))
}

/// One `{ref, version, kind, checksum}` per pack (checksum: the content checksum).
fn list_rows(manifest: &BundleManifest) -> Vec<Value> {
    manifest
        .packs
        .iter()
        .map(|p| {
            json!({
                "ref": p.pack_ref,
                "version": p.version,
                "kind": p.origin.kind,
                "checksum": p.content,
            })
        })
        .collect()
}

fn list_table(rows: &[Value]) -> String {
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
    let mut lines = vec![(
        "REF".into(),
        "VERSION".into(),
        "KIND".into(),
        "CHECKSUM".into(),
    )];
    lines.extend(rows.iter().map(|r| {
        let cell = |k| attune_pack::terminal::escape(&text(r, k)).into_owned();
        (cell("ref"), cell("version"), cell("kind"), cell("checksum"))
    }));
    let w0 = lines.iter().map(|l| l.0.len()).max().unwrap_or(0);
    let w1 = lines.iter().map(|l| l.1.len()).max().unwrap_or(0);
    let w2 = lines.iter().map(|l| l.2.len()).max().unwrap_or(0);
    lines
        .iter()
        .map(|(a, b, c, d)| format!("{a:w0$}  {b:w1$}  {c:w2$}  {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}
