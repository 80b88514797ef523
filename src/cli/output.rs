//! How results, progress and errors reach the user: results on stdout (human or one JSON
//! document), everything else on stderr; progress bars only on a terminal.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use attune_pack::terminal::escape_output;
use attune_pack::{Action, Recovered, Recovery};
use attune_pack::{Error, Event, EventSink, Phase};

use super::progress::Transfer;
use serde_json::json;

/// Output settings from the global flags.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
    pub verbose: u8,
}

impl Output {
    /// Prints a result document (JSON mode) or its human form.
    pub fn result(&self, document: serde_json::Value, human: impl FnOnce() -> String) {
        let mut out = std::io::stdout().lock();
        if self.json {
            let _ = writeln!(out, "{}", json_text(&document));
        } else {
            let text = human();
            if !text.is_empty() {
                let _ = writeln!(out, "{}", escape_output(&text));
            }
        }
    }

    /// Reports a failure: the message on stderr, and in JSON mode the error document on
    /// stdout. Returns the exit code.
    pub fn error(&self, err: &Error) -> i32 {
        if self.json {
            let message = super::hints::message(err);
            let doc = json!({"error": {"code": err.code(), "category": err.category().name(), "message": message}});
            println!("{}", json_text(&doc));
        }
        self.failure(err)
    }

    /// Reports a failure on stderr only: for a command whose result document, printed
    /// already, carries it. Returns the exit code.
    pub fn failure(&self, err: &Error) -> i32 {
        eprintln!("error: {}", escape_output(&super::hints::message(err)));
        err.exit_code()
    }

    /// Reports the failure of one item of several on stderr (the JSON array carries it on
    /// stdout).
    pub fn report(&self, err: &Error, item: &str) {
        let message = super::hints::message(err);
        eprintln!(
            "error: {}: {}",
            escape_output(item),
            escape_output(&message)
        );
    }

    pub fn note(&self, message: &str) {
        if !self.quiet {
            eprintln!("{}", escape_output(message));
        }
    }

    pub fn warning(&self, message: &str) {
        self.note(&format!("warning: {message}"));
    }

    /// The event sink for the library: status lines, warnings and progress bars on stderr.
    pub fn events(&self) -> EventSink {
        let out = *self;
        let bars = self.bars_enabled();
        let bar: Arc<Mutex<Transfer>> = Arc::default();
        let finish_bar = |bar: &Mutex<Transfer>| bar.lock().map(|mut t| t.finish()).ok();
        Arc::new(move |event: &Event| match event {
            Event::Detected { source, kind } => {
                out.note(&format!("Installing pack from: {source} ({kind})"))
            }
            Event::Warning(w) => {
                finish_bar(&bar);
                out.warning(w);
            }
            Event::Recovered(done) => out.warning(&recovered_text(done)),
            Event::WaitingForLock { path } => out.note(&format!(
                "waiting for the store lock {path} (another attune-pack command is running)…"
            )),
            Event::Phase(phase) => {
                finish_bar(&bar);
                if out.verbose > 0 {
                    out.note(&format!("  {}", phase_name(*phase)));
                }
            }
            // pip's own lines, for whoever asked to see the detail.
            Event::EnvOutput(line) if out.verbose > 1 => {
                out.note(&format!("    {}", attune_pack::terminal::escape(line)))
            }
            Event::Bytes { done, total } if bars => {
                bar.lock().map(|mut t| t.bytes(*done, *total)).ok();
            }
            Event::Objects { done, total } if bars => {
                bar.lock().map(|mut t| t.objects(*done, *total)).ok();
            }
            _ => {}
        })
    }

    fn bars_enabled(&self) -> bool {
        !self.quiet && !self.json && std::io::stderr().is_terminal()
    }
}

/// A JSON document as printed: pretty, and with DEL and C1 control characters escaped in
/// strings too (serde_json escapes only C0), so none reaches a terminal raw. JSON's own
/// syntax is ASCII, so every such character is inside a string.
pub fn json_text(document: &serde_json::Value) -> String {
    let text = serde_json::to_string_pretty(document).unwrap_or_default();
    if !text.chars().any(|c| ('\u{7f}'..='\u{9f}').contains(&c)) {
        return text;
    }
    text.chars()
        .map(|c| match c {
            '\u{7f}'..='\u{9f}' => format!("\\u{:04x}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

fn recovered_text(done: &Recovered) -> String {
    let what = match done.action {
        Action::Install => "install",
        Action::Update => "update",
        Action::Rollback => "rollback",
        Action::Uninstall => "uninstall",
    };
    let versions = match (&done.from, &done.to) {
        (Some(from), Some(to)) => format!(" ({from} -> {to})"),
        (None, Some(to)) => format!(" ({to})"),
        (Some(from), None) => format!(" ({from})"),
        (None, None) => String::new(),
    };
    let outcome = match done.recovery {
        Recovery::Completed => "completed",
        Recovery::Undone => "undone",
    };
    format!(
        "an interrupted {what} of {}{versions} was {outcome} (recorded in the history)",
        done.pack_ref
    )
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Resolving => "resolving",
        Phase::Downloading => "downloading",
        Phase::Fetching => "fetching",
        Phase::Extracting => "extracting",
        Phase::Validating => "validating",
        Phase::CheckingDependencies => "checking dependencies",
        Phase::Environment => "building the Python environment",
        Phase::RunningTests => "running pack tests",
        Phase::Committing => "committing",
    }
}
