//! Commands over several arguments (`install a b c`, `uninstall a b`, `update a b`): each item
//! in order, each on its own, a summary at the end and the exit code of the first failure.
//! One argument keeps the single document of the command; several make a JSON array with,
//! per argument, the result or `{"source": ARG, "error": {code, message}}`.

use std::future::Future;

use attune_pack::Error;
use serde_json::{json, Value};

use super::output::Output;

/// How a command ends: an error to report, or an exit code whose errors were reported
/// already (item by item).
pub enum Exit {
    Error(Error),
    Code(i32),
}

impl<E: Into<Error>> From<E> for Exit {
    fn from(e: E) -> Self {
        Exit::Error(e.into())
    }
}

/// What one item gave: its JSON document and its human line.
pub struct Item {
    pub json: Value,
    pub human: String,
}

/// Runs `run` for each of `args`. With `array`, the JSON result is an array even for one
/// argument (`update --all`, `install --locked`).
pub async fn each<F, Fut>(
    out: &Output,
    args: &[String],
    array: bool,
    mut run: F,
) -> Result<(), Exit>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = attune_pack::Result<Item>>,
{
    if let ([arg], false) = (args, array) {
        let item = run(arg.clone()).await?;
        out.result(item.json, || item.human);
        return Ok(());
    }
    let mut docs = Vec::new();
    let mut failed: Vec<(String, Error)> = Vec::new();
    for arg in args {
        match run(arg.clone()).await {
            Ok(item) => {
                if !out.json {
                    out.result(Value::Null, || item.human);
                }
                docs.push(item.json);
            }
            Err(e) => {
                out.report(&e, arg);
                docs.push(json!({"source": arg, "error": {"code": e.code(), "message": super::hints::message(&e)}}));
                let stop = matches!(e, Error::Interrupted { .. });
                failed.push((arg.clone(), e));
                if stop {
                    break;
                }
            }
        }
    }
    if out.json {
        out.result(Value::Array(docs), String::new);
    }
    // An interrupt ends the run with its own code, whatever failed before it.
    if let Some((_, e @ Error::Interrupted { .. })) = failed.last() {
        return Err(Exit::Code(e.exit_code()));
    }
    let Some((_, first)) = failed.first() else {
        if args.len() > 1 {
            out.note(&format!("{} of {} succeeded", args.len(), args.len()));
        }
        return Ok(());
    };
    let names: Vec<String> = failed
        .iter()
        .map(|(arg, e)| format!("{arg} ({})", e.code()))
        .collect();
    out.note(&format!(
        "{} of {} succeeded; failed: {}",
        args.len() - failed.len(),
        args.len(),
        names.join(", ")
    ));
    Err(Exit::Code(first.exit_code()))
}
