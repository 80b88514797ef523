//! Writing the files a [`TreeWriter`] reserved on several threads. The sources whose entries
//! are all known before any byte is written (a zip's central directory, a git tree) check
//! every entry first, in order, then hand the reserved files here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::safety::{FileSink, TreeWriter, Written};

/// Threads that write files, at most: beyond the cores they only contend.
const MAX_WRITERS: usize = 4;

/// Writes `jobs` (each holding a reserved file) on up to [`MAX_WRITERS`] threads, each taking
/// the next job in order; after a failure no new job is started, and the failure of the
/// earliest job is the one reported. Every thread gets its own state, made by `state` before
/// it starts (a reader of the source), and a buffer; `write` writes one job through the
/// shared sink.
pub(crate) fn write_reserved<J, S>(
    writer: &mut TreeWriter,
    jobs: Vec<J>,
    mut state: impl FnMut() -> S,
    write: impl Fn(&mut S, J, &FileSink<'_>, &mut Vec<u8>) -> Result<Written> + Sync,
) -> Result<()>
where
    J: Send,
    S: Send,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_WRITERS)
        .min(jobs.len().max(1));
    let queue = Mutex::new(jobs.into_iter().enumerate());
    let failed = AtomicBool::new(false);
    let sink = writer.sink();
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let mut own = state();
                let (queue, failed, sink, write) = (&queue, &failed, &sink, &write);
                scope.spawn(move || {
                    let mut buf = Vec::new();
                    let mut written = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                        let Some((i, job)) = next else { break };
                        match write(&mut own, job, sink, &mut buf) {
                            Ok(w) => written.push(w),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err((i, e));
                            }
                        }
                    }
                    Ok(written)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join()).collect()
    });
    let mut written = Vec::new();
    let mut first: Option<(usize, Error)> = None;
    for outcome in outcomes {
        match outcome {
            // Kept per thread, not merged: with 100,000 entries a merged copy is megabytes.
            Ok(Ok(done)) => written.push(done),
            Ok(Err((i, e))) if first.as_ref().is_none_or(|(j, _)| i < *j) => first = Some((i, e)),
            Ok(Err(_)) => {}
            Err(_) => return Err(Error::Internal("a file writing thread panicked".into())),
        }
    }
    if let Some((_, e)) = first {
        return Err(e);
    }
    written
        .into_iter()
        .flatten()
        .for_each(|w| writer.complete(w));
    Ok(())
}
