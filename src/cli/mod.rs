//! The `attune-pack` command: parses arguments, builds an [`Installer`], runs one command and
//! maps the outcome to SPEC.md's output and exit codes.

mod args;
mod output;

use std::path::Path;
use std::time::Duration;

use attune_pack::checksum::{directory_checksum, file_checksum};
use attune_pack::{
    Algorithm, Checksum, Config, DetectOptions, Error, InstallOptions, Installer, Interrupt,
    PackSource,
};
use clap::Parser;
use serde_json::json;

use args::{Cli, Command, GlobalArgs, InstallArgs};
use output::{receipt_details, receipt_table, Output};

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
    let interrupt = Interrupt::new();
    runtime.block_on(async {
        let watcher = interrupt.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                // First Ctrl-C: stop at the next safe point and clean up; a second one exits
                // at once (the next command's recovery empties staging).
                watcher.trigger();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        match run(cli, out, interrupt).await {
            Ok(()) => 0,
            Err(e) => out.error(&e),
        }
    })
}

/// clap's own errors, in SPEC.md's form: `--help`/`--version` succeed, the rest is exit 2.
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
        let doc = json!({"error": {"code": "usage", "category": "usage", "message": e.kind().to_string()}});
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    let _ = e.print();
    2
}

fn installer(
    global: &GlobalArgs,
    out: &Output,
    interrupt: Interrupt,
) -> attune_pack::Result<Installer> {
    let (config, _) = Config::load(global.config.as_deref())?;
    let mut builder = Installer::builder()
        .config(config)
        .lock_timeout(Duration::from_secs(global.lock_timeout))
        .on_event(out.events())
        .interrupt(interrupt)
        .allow_http(global.allow_http)
        .offline(global.offline);
    if let Some(dir) = &global.packs_dir {
        builder = builder.packs_dir(dir);
    }
    if let Some(dir) = &global.cache_dir {
        builder = builder.cache_dir(dir);
    }
    builder.build()
}

async fn run(cli: Cli, out: Output, interrupt: Interrupt) -> attune_pack::Result<()> {
    match cli.command {
        Command::Checksum { path, algorithm } => checksum(&path, &algorithm, &out),
        Command::Install(args) => install(args, &cli.global, &out, interrupt).await,
        Command::List => {
            let receipts = installer(&cli.global, &out, interrupt)?.list().await?;
            out.result(json!(receipts), || receipt_table(&receipts));
            Ok(())
        }
        Command::Show { pack_ref } => {
            let receipt = installer(&cli.global, &out, interrupt)?
                .show(&pack_ref)
                .await?;
            out.result(json!(receipt), || receipt_details(&receipt));
            Ok(())
        }
        Command::Uninstall { pack_ref, force } => {
            installer(&cli.global, &out, interrupt)?
                .uninstall(&pack_ref, force)
                .await?;
            out.result(json!({"removed": pack_ref}), || {
                format!("Removed {pack_ref}")
            });
            Ok(())
        }
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

async fn install(
    args: InstallArgs,
    global: &GlobalArgs,
    out: &Output,
    interrupt: Interrupt,
) -> attune_pack::Result<()> {
    if args.locked.is_some() {
        return Err(Error::Usage("install --locked is not supported yet".into()));
    }
    let checksum = args
        .checksum
        .as_deref()
        .map(str::parse::<Checksum>)
        .transpose()?;
    let detect = DetectOptions {
        git_ref: args.git_ref.clone(),
        registry: args.registry.clone(),
        no_registry: args.no_registry,
    };
    let source = PackSource::detect(&args.source, &detect)?;
    let installer = installer(global, out, interrupt)?;
    let opts = InstallOptions::new()
        .force(args.force)
        .skip_tests(args.skip_tests)
        .skip_deps(args.skip_deps)
        .with_deps(args.with_deps)
        .dry_run(args.dry_run)
        .checksum(checksum);
    let report = installer.install(source, opts).await?;
    let r = &report.receipt;
    if report.dry_run {
        let action = if report.replaced.is_some() {
            "replace"
        } else {
            "install"
        };
        let plan = json!({"plan": [{
            "ref": r.pack_ref, "version": r.version, "action": action, "replaces": report.replaced,
            "path": r.path, "source": r.source, "checksum": r.checksum, "tests": r.tests,
        }]});
        out.result(plan, || {
            format!(
                "Would {action} {} {} into {}{} (dry run: nothing changed)",
                r.pack_ref,
                r.version,
                r.path.display(),
                report
                    .replaced
                    .as_ref()
                    .map(|v| format!(", replacing {v}"))
                    .unwrap_or_default()
            )
        });
        return Ok(());
    }
    out.result(json!(r), || {
        format!(
            "Installed {} {} into {}{}\n  content {}",
            r.pack_ref,
            r.version,
            r.path.display(),
            report
                .replaced
                .as_ref()
                .map(|v| format!(" (replaced {v}, kept for rollback)"))
                .unwrap_or_default(),
            r.checksum.content
        )
    });
    Ok(())
}
