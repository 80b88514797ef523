//! The `attune-pack` command: parses arguments, builds an [`Installer`], runs one command and
//! maps the outcome to the reference's output and exit codes.

mod args;
mod batch;
mod bundle;
mod hints;
mod lifecycle;
mod output;
mod password;
mod process;
mod progress;
mod registry;
mod tables;
mod verify;

use std::path::Path;
use std::time::Duration;

use attune_pack::publish::{self, Conflicts, IndexHeader, Publish, Updated};
use attune_pack::{directory_checksum, file_checksum};
use attune_pack::{
    Algorithm, Checksum, Config, Dependents, DetectOptions, Error, InstallOptions, InstallReport,
    Installer, InstallerBuilder, Interrupt, LockedOptions, PackRef, PackSource, PushOptions,
    Sandbox,
};
use clap::Parser;
use serde_json::json;

use args::{Cli, Command, GlobalArgs, IndexCommand, IndexHeaderArgs, InstallArgs, PublishArgs};
use batch::{Exit, Item};
use output::Output;
use tables::{receipt_details, receipt_table, registries_table, search_table};

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let out = Output {
        json: cli.global.json,
        quiet: cli.global.quiet,
        verbose: cli.global.verbose,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return out.error(&Error::Internal(format!("starting the async runtime: {e}"))),
    };
    process::prepare();
    let interrupt = Interrupt::new();
    runtime.block_on(async {
        process::watch_signals(interrupt.clone());
        match run(cli, out, interrupt).await {
            Ok(()) => 0,
            Err(Exit::Error(e)) => out.error(&e),
            Err(Exit::Code(code)) => code,
        }
    })
}

/// clap's own errors, in the reference's form: `--help`/`--version` succeed, the rest is exit 2.
fn usage_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            2
        } else {
            0
        };
    }
    if std::env::args().any(|a| a == "--json") {
        let doc = json!({"error": {"code": "usage", "category": "usage", "message": e.render().to_string().trim()}});
        println!("{}", output::json_text(&doc));
    }
    let _ = e.print();
    2
}

fn installer(
    global: &GlobalArgs,
    out: &Output,
    interrupt: Interrupt,
) -> attune_pack::Result<Installer> {
    installer_builder(global, out, interrupt)?.build()
}

fn installer_builder(
    global: &GlobalArgs,
    out: &Output,
    interrupt: Interrupt,
) -> attune_pack::Result<InstallerBuilder> {
    let config = load_config(global, out)?;
    let mut builder = Installer::builder()
        .config(config)
        .lock_timeout(Duration::from_secs(global.lock_timeout))
        .on_event(out.events())
        .interrupt(interrupt);
    if global.allow_http {
        builder = builder.allow_http();
    }
    if global.offline {
        builder = builder.offline();
    }
    if global.allow_downgrade {
        builder = builder.allow_downgrade();
    }
    if let Some(dir) = &global.packs_dir {
        builder = builder.packs_dir(dir);
    }
    if let Some(dir) = &global.cache_dir {
        builder = builder.cache_dir(dir);
    }
    if let Some(dir) = &global.runtime_envs_dir {
        builder = builder.runtime_envs_dir(dir);
    }
    Ok(builder)
}

/// The installer of `install`: with `--bundle`, one that installs from that bundle only.
fn install_installer(
    args: &InstallArgs,
    global: &GlobalArgs,
    out: &Output,
    interrupt: Interrupt,
) -> attune_pack::Result<Installer> {
    let mut builder = installer_builder(global, out, interrupt)?;
    if let Some(file) = &args.bundle {
        builder = builder.bundle(file);
        for key in &args.trusted_key {
            builder = builder.trusted_key(key);
        }
    }
    builder.build()
}

async fn run(cli: Cli, out: Output, interrupt: Interrupt) -> Result<(), Exit> {
    let installer = || installer(&cli.global, &out, interrupt.clone());
    match cli.command {
        Command::Checksum { path, algorithm } => Ok(checksum(&path, &algorithm, &out)?),
        Command::Install(args) => {
            let installer = install_installer(&args, &cli.global, &out, interrupt.clone())?;
            install(args, &installer, &out).await
        }
        Command::List => {
            let receipts = installer()?.list().await?;
            out.result(json!(receipts), || receipt_table(&receipts));
            Ok(())
        }
        Command::Show { pack_ref } => {
            let pack_ref: PackRef = pack_ref.parse()?;
            let receipt = installer()?.show(&pack_ref).await?;
            out.result(json!(receipt), || receipt_details(&receipt));
            Ok(())
        }
        Command::Verify { pack_refs } => verify::verify(&installer()?, &pack_refs, &out).await,
        Command::Uninstall { pack_refs, force } => {
            let installer = installer()?;
            let dependents = dependents(force);
            batch::each(&out, &pack_refs, false, |arg| {
                let installer = &installer;
                async move {
                    let pack_ref: PackRef = arg.parse()?;
                    installer.uninstall(&pack_ref, dependents).await?;
                    Ok(Item {
                        json: json!({"removed": pack_ref}),
                        human: format!("Removed {pack_ref}"),
                    })
                }
            })
            .await
        }
        Command::Update(args) => lifecycle::update(&installer()?, args, &out).await,
        Command::Outdated { check_sources } => {
            lifecycle::outdated(&installer()?, check_sources, &out).await
        }
        Command::Rollback { pack_ref, force } => {
            lifecycle::rollback(&installer()?, &pack_ref, dependents(force), &out).await
        }
        Command::Lock { output } => lifecycle::lock(&installer()?, &output, &out).await,
        Command::History { pack_ref } => {
            lifecycle::history(&installer()?, pack_ref.as_deref(), &out).await
        }
        Command::Search { query, registry } => {
            let hits = installer()?.search(&query, registry.as_deref()).await?;
            out.result(json!(hits), || search_table(&hits, &query));
            Ok(())
        }
        Command::Registries => {
            let list = installer()?.registries().await?;
            out.result(json!(list), || registries_table(&list));
            Ok(())
        }
        Command::Index(cmd) => Ok(index_command(cmd, &cli.global, &out)?),
        Command::Bundle(cmd) => bundle::run(&installer()?, cmd, &out).await,
        Command::Push {
            pack_path,
            target,
            tag,
            sign_key,
            password_file,
        } => {
            let mut opts = PushOptions::new();
            if let Some(tag) = tag {
                opts = opts.tag(tag);
            }
            if let Some(key) = &sign_key {
                opts = opts.sign_key(key, bundle::password(key, password_file.as_deref())?);
            }
            registry::push(&installer()?, &pack_path, &target, opts, &out).await
        }
        Command::Registry(cmd) => registry::run(&installer()?, cmd, &out).await,
    }
}

/// The config file, its unknown keys warned about.
fn load_config(global: &GlobalArgs, out: &Output) -> attune_pack::Result<Config> {
    let (config, warnings) = Config::load(global.config.as_deref())?;
    for w in warnings {
        out.warning(&w);
    }
    Ok(config)
}

/// `index entry|update|merge`: files only, no store and no network.
fn index_command(cmd: IndexCommand, global: &GlobalArgs, out: &Output) -> attune_pack::Result<()> {
    let events = out.events();
    let entry_of = |pack_path: &Path, p: PublishArgs| {
        let config = load_config(global, out)?;
        let publish = Publish {
            git_url: p.git_url,
            git_ref: p.git_ref,
            archive_url: p.archive_url,
            archive: p.archive,
        };
        publish::build_entry(pack_path, &publish, config.limits, &events)
    };
    match cmd {
        IndexCommand::Entry { pack_path, publish } => {
            let entry = entry_of(&pack_path, publish)?;
            let doc = json!(entry);
            let text = output::json_text(&doc);
            out.result(doc, || text);
        }
        IndexCommand::Update {
            index,
            pack_path,
            publish,
            header,
        } => {
            let entry = entry_of(&pack_path, publish)?;
            let outcome = publish::update_index(&index, &entry, &index_header(header), &events)?;
            let action = match outcome {
                Updated::Added => "added",
                Updated::Replaced => "replaced",
            };
            out.result(
                json!({"index": index, "action": action, "entry": entry}),
                || {
                    format!(
                        "{}: {action} {} {}",
                        index.display(),
                        entry.pack_ref,
                        entry.version
                    )
                },
            );
        }
        IndexCommand::Merge {
            inputs,
            output,
            force,
            header,
        } => {
            let doc = publish::merge_indices(
                &inputs,
                if force {
                    Conflicts::LaterWins
                } else {
                    Conflicts::Refuse
                },
                &index_header(header),
                &events,
            )?;
            publish::write_index(&output, &doc)?;
            let count = doc["packs"].as_array().map_or(0, Vec::len);
            out.result(
                json!({"index": output, "packs": count, "inputs": inputs}),
                || {
                    format!(
                        "{}: {count} entries from {} files",
                        output.display(),
                        inputs.len()
                    )
                },
            );
        }
        IndexCommand::Sign {
            index,
            secret_key,
            password_file,
        } => sign_index(&index, &secret_key, password_file, out)?,
    }
    Ok(())
}

/// `index sign`.
fn sign_index(
    index: &Path,
    secret_key: &Path,
    password_file: Option<std::path::PathBuf>,
    out: &Output,
) -> attune_pack::Result<()> {
    let signed = publish::sign_index(index, secret_key, password::source(password_file))?;
    out.result(
        json!({"index": index, "signature": signed.signature, "key_id": signed.key_id, "timestamp": signed.timestamp}),
        || format!("{}: signed by key {}", signed.signature.display(), signed.key_id),
    );
    Ok(())
}

fn index_header(args: IndexHeaderArgs) -> IndexHeader {
    IndexHeader {
        registry_name: args.registry_name,
        registry_url: args.registry_url,
    }
}

fn checksum(path: &Path, algorithm: &str, out: &Output) -> attune_pack::Result<()> {
    let algorithm: Algorithm = algorithm.parse()?;
    let meta =
        std::fs::metadata(path).map_err(|e| Error::NotFound(format!("{}: {e}", path.display())))?;
    let sum = if meta.is_dir() {
        if algorithm != Algorithm::Sha256 {
            return Err(Error::Usage(format!(
                "a directory's content checksum is sha256 only (got --algorithm {algorithm})"
            )));
        }
        directory_checksum(path)?
    } else {
        file_checksum(path, algorithm)?
    };
    out.result(
        json!({"path": path.display().to_string(), "checksum": sum.to_string()}),
        || sum.to_string(),
    );
    Ok(())
}

/// The flags that change how the argument is read.
fn detect_options(args: &InstallArgs) -> DetectOptions {
    let mut detect = DetectOptions::new();
    if let Some(r) = &args.git_ref {
        detect = detect.git_ref(r);
    }
    if let Some(name) = &args.registry {
        detect = detect.registry(name);
    }
    if args.no_registry {
        detect = detect.refuse_registry();
    }
    detect
}

/// What `--force` says about packs that depend on the one changed.
fn dependents(force: bool) -> Dependents {
    match force {
        true => Dependents::Ignore,
        false => Dependents::Refuse,
    }
}

/// A builder's setter for a flag, and whether the flag is on.
type Flag<T> = (bool, fn(T) -> T);

/// `options` with the setter of every flag that is on applied.
fn with_flags<T>(options: T, flags: &[Flag<T>]) -> T {
    flags.iter().fold(
        options,
        |opts, (on, set)| if *on { set(opts) } else { opts },
    )
}

/// The flags that change what an install does.
fn install_options(args: &InstallArgs, checksum: Option<Checksum>) -> InstallOptions {
    let opts = with_flags(
        InstallOptions::new(),
        &[
            (args.force, InstallOptions::force),
            (args.skip_tests, InstallOptions::skip_tests),
            (args.skip_deps, InstallOptions::skip_deps),
            (args.skip_env, InstallOptions::skip_env),
            (args.with_deps, InstallOptions::with_deps),
            (args.dry_run, InstallOptions::dry_run),
        ],
    );
    let opts = match checksum {
        Some(sum) => opts.checksum(sum),
        None => opts,
    };
    match &args.subdir {
        Some(subdir) => opts.subdir(subdir.clone()),
        None => opts,
    }
}

fn plan_action(step: &InstallReport) -> &'static str {
    if step.replaced.is_some() {
        "replace"
    } else {
        "install"
    }
}

/// One entry of `install --dry-run`'s `plan`.
fn plan_step(step: &InstallReport) -> serde_json::Value {
    let r = &step.receipt;
    json!({
        "ref": r.pack_ref, "version": r.version, "action": plan_action(step),
        "replaces": step.replaced, "path": r.path, "source": r.source, "checksum": r.checksum,
        "tests": r.tests,
    })
}

async fn install(args: InstallArgs, installer: &Installer, out: &Output) -> Result<(), Exit> {
    if let Some(lockfile) = &args.locked {
        let opts = with_flags(
            LockedOptions::new(),
            &[
                (args.exact, LockedOptions::exact),
                (args.dry_run, LockedOptions::dry_run),
                (args.skip_tests, LockedOptions::skip_tests),
            ],
        );
        return lifecycle::install_locked(installer, lockfile, opts, args.dry_run, out).await;
    }
    let checksum = args
        .checksum
        .as_deref()
        .map(str::parse::<Checksum>)
        .transpose()?;
    let (detect, opts) = (detect_options(&args), install_options(&args, checksum));
    batch::each(out, &args.sources, false, |arg| {
        let (detect, opts, args) = (&detect, &opts, &args);
        async move {
            let source = PackSource::detect(&arg, detect)?;
            if args.bundle.is_some() && !matches!(source, PackSource::Registry { .. }) {
                return Err(Error::Usage(format!(
                    "`{arg}` is not a pack name: with --bundle, give packs of the bundle as REF[@REQ] (`attune-pack bundle list` shows them)"
                )));
            }
            let report = installer
                .install(source, opts.clone())
                .await
                .map_err(|e| not_a_path_either(e, &arg))?;
            Ok(install_item(&report, installer.config().keep_versions, out))
        }
    })
    .await
}

/// `a/b` read as index `a`, pack `b`, when the config has no index `a`: the argument was
/// perhaps meant as a path, and there is none there either. Say both.
fn not_a_path_either(e: Error, arg: &str) -> Error {
    match e {
        Error::UnknownIndex { ref name, .. } if arg.starts_with(&format!("{name}/")) => {
            Error::Usage(format!(
                "`{arg}`: there is no file or directory of that name here, and {e}"
            ))
        }
        e => e,
    }
}

/// The one line that says how a pack's tests went (stderr: it is not the result).
fn tests_line(step: &InstallReport) -> String {
    let (r, t) = (&step.receipt, &step.receipt.tests);
    format!(
        "Tests of {} {}: {} passed, {} failed, {} skipped (runner{} {}; sandbox: {})",
        r.pack_ref,
        r.version,
        t.passed,
        t.failed,
        t.skipped,
        if step.test_runners.len() == 1 {
            ":"
        } else {
            "s:"
        },
        step.test_runners.join(", "),
        t.sandbox.map_or("none", Sandbox::name)
    )
}

/// What one install shows: the receipt (for a dry run, the plan), with its dependencies.
fn install_item(report: &InstallReport, keep_versions: usize, out: &Output) -> Item {
    // Dependencies (--with-deps) come first, in the order they were installed.
    let steps: Vec<&InstallReport> = report.dependencies.iter().chain([report]).collect();
    for step in steps.iter().filter(|s| !s.test_runners.is_empty()) {
        out.note(&tests_line(step));
    }
    if report.dry_run {
        let plan: Vec<_> = steps.iter().map(|s| plan_step(s)).collect();
        let mut lines: Vec<String> = steps
            .iter()
            .map(|s| {
                let r = &s.receipt;
                format!(
                    "Would {} {} {} into {}{}",
                    plan_action(s),
                    r.pack_ref,
                    r.version,
                    r.path.display(),
                    s.replaced
                        .as_ref()
                        .map(|v| format!(", replacing {v}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        lines.push("(dry run: nothing changed)".into());
        return Item {
            json: json!({ "plan": plan }),
            human: lines.join("\n"),
        };
    }
    for dep in &report.dependencies {
        out.note(&format!(
            "Installed dependency {} {}",
            dep.receipt.pack_ref, dep.receipt.version
        ));
    }
    let r = &report.receipt;
    Item {
        json: json!(r),
        human: format!(
            "Installed {} {} into {}{}\n  content {}",
            r.pack_ref,
            r.version,
            r.path.display(),
            report
                .replaced
                .as_ref()
                .map(|v| match keep_versions {
                    0 => format!(" (replaced {v})"),
                    _ => format!(" (replaced {v}, kept for rollback)"),
                })
                .unwrap_or_default(),
            r.checksum.content
        ),
    }
}
