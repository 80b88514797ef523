//! Opening the store for a command, on the blocking pool: the caller's event sink is told
//! about a wait for the lock and about what recovery did.

use std::path::Path;
use std::sync::Arc;

use crate::context::{blocking, Context};
use crate::error::Result;
use crate::model::events::Event;
use crate::store::Opened;
use crate::util::interrupt::Interrupt;

/// The store `how` opens (given what to call while it waits, and the interrupt to heed).
pub(crate) async fn opened<S, F>(ctx: &Context, how: F) -> Result<Arc<S>>
where
    S: Opened + Send + Sync + 'static,
    F: FnOnce(&dyn Fn(&Path), &Interrupt) -> Result<S> + Send + 'static,
{
    let ctx = ctx.clone();
    blocking(move || {
        let on_wait = |path: &Path| {
            ctx.emit(Event::WaitingForLock {
                path: path.display().to_string(),
            });
        };
        let store = how(&on_wait, ctx.interrupt())?;
        for done in store.recovered() {
            ctx.emit(Event::Recovered(done.clone()));
        }
        for warning in store.warnings() {
            ctx.warn(warning.clone());
        }
        Ok(Arc::new(store))
    })
    .await
}
