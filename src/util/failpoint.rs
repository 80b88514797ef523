//! Fault injection for tests: named points in the store's commit and recovery paths that can
//! be made to fail with an I/O error or to kill the process, deterministically, at the Nth
//! time they are reached. Compiled only with the `failpoints` feature; without it every point
//! is an inlined `Ok(())`.
//!
//! A point is armed by the environment variable `ATTUNE_PACK_FAILPOINTS` (read once, for the
//! command-line binary) or by `configure` (for tests in the same process):
//! `NAME=ACTION[@N|@N+][;NAME=ACTION…]`, where ACTION is `eio`, `enospc` or `crash` (SIGKILL
//! of the process itself, so nothing is cleaned up), `@N` fires only at the Nth hit and `@N+`
//! at every hit from the Nth; without either it fires at every hit.

/// Passes through `name`: `Err` when a test armed it with an I/O error.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn hit(_name: &'static str) -> std::io::Result<()> {
    Ok(())
}

#[cfg(feature = "failpoints")]
pub(crate) use armed::hit;

#[cfg(feature = "failpoints")]
#[doc(hidden)]
pub use armed::{configure, hits};

#[cfg(feature = "failpoints")]
mod armed {
    use std::collections::HashMap;
    use std::io;
    use std::sync::{Mutex, OnceLock};

    #[derive(Debug, Clone, Copy)]
    enum Action {
        Errno(i32),
        Crash,
    }

    #[derive(Debug, Clone, Copy)]
    enum When {
        Always,
        Nth(u64),
        From(u64),
    }

    #[derive(Debug, Default)]
    struct State {
        armed: HashMap<String, (Action, When)>,
        hits: HashMap<String, u64>,
    }

    fn state() -> &'static Mutex<State> {
        static STATE: OnceLock<Mutex<State>> = OnceLock::new();
        STATE.get_or_init(|| {
            let mut state = State::default();
            if let Ok(spec) = std::env::var("ATTUNE_PACK_FAILPOINTS") {
                arm(&mut state, &spec).unwrap_or_else(|e| panic!("ATTUNE_PACK_FAILPOINTS: {e}"));
            }
            Mutex::new(state)
        })
    }

    fn arm(state: &mut State, spec: &str) -> Result<(), String> {
        for item in spec.split(';').filter(|s| !s.trim().is_empty()) {
            let (name, action) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}`: expected NAME=ACTION"))?;
            let (action, when) = match action.split_once('@') {
                None => (action, When::Always),
                Some((a, n)) => {
                    let from = n.ends_with('+');
                    let n: u64 = n
                        .trim_end_matches('+')
                        .parse()
                        .map_err(|_| format!("`{item}`: bad count"))?;
                    (a, if from { When::From(n) } else { When::Nth(n) })
                }
            };
            let action = match action {
                "eio" => Action::Errno(libc::EIO),
                "enospc" => Action::Errno(libc::ENOSPC),
                "crash" => Action::Crash,
                other => return Err(format!("`{item}`: unknown action `{other}`")),
            };
            state.armed.insert(name.trim().to_owned(), (action, when));
        }
        Ok(())
    }

    /// Replaces the armed points (and resets the hit counts) of this process.
    pub fn configure(spec: &str) -> Result<(), String> {
        let mut state = state().lock().unwrap_or_else(|e| e.into_inner());
        *state = State::default();
        arm(&mut state, spec)
    }

    /// How often `name` was passed since the last [`configure`].
    pub fn hits(name: &str) -> u64 {
        let state = state().lock().unwrap_or_else(|e| e.into_inner());
        state.hits.get(name).copied().unwrap_or(0)
    }

    pub(crate) fn hit(name: &'static str) -> io::Result<()> {
        let fired = {
            let mut state = state().lock().unwrap_or_else(|e| e.into_inner());
            let count = state.hits.entry(name.to_owned()).or_insert(0);
            *count += 1;
            let n = *count;
            match state.armed.get(name) {
                Some((action, When::Always)) => Some(*action),
                Some((action, When::Nth(k))) if n == *k => Some(*action),
                Some((action, When::From(k))) if n >= *k => Some(*action),
                _ => None,
            }
        };
        if let Some(action) = fired {
            // Tests read this to know that the point was reached.
            eprintln!("failpoint {name} fired: {action:?}");
        }
        match fired {
            None => Ok(()),
            Some(Action::Errno(code)) => Err(io::Error::from_raw_os_error(code)),
            Some(Action::Crash) => {
                // SIGKILL: no destructor, no cleanup, no flush, like a power cut for the
                // process (the kernel still has what was written).
                unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
                unreachable!("SIGKILL did not stop the process")
            }
        }
    }
}
