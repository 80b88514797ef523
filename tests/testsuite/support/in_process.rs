//! Tests that run the library in this process share its failpoints, which are process-wide:
//! a test that arms them holds them alone ([`Faults::arm`]), and every other in-process test
//! holds [`no_faults`] meanwhile, so a fault meant for one never lands in another.

use std::sync::{RwLock, RwLockReadGuard};

static FAILPOINTS: RwLock<()> = RwLock::new(());

/// While held, no test of this process has failpoints armed. Held across awaits on purpose:
/// only an arming test, which awaits nothing while it waits for it, ever waits behind it.
pub struct NoFaults {
    _shared: RwLockReadGuard<'static, ()>,
}

pub fn no_faults() -> NoFaults {
    NoFaults {
        _shared: FAILPOINTS.read().unwrap_or_else(|e| e.into_inner()),
    }
}

/// Failpoints armed for the one test that holds this; disarmed when it is dropped.
#[cfg(feature = "failpoints")]
pub struct Faults {
    _alone: std::sync::RwLockWriteGuard<'static, ()>,
}

#[cfg(feature = "failpoints")]
impl Faults {
    pub fn arm(spec: &str) -> Faults {
        let alone = FAILPOINTS.write().unwrap_or_else(|e| e.into_inner());
        attune_pack::failpoint::configure(spec).unwrap();
        Faults { _alone: alone }
    }
}

#[cfg(feature = "failpoints")]
impl Drop for Faults {
    fn drop(&mut self) {
        attune_pack::failpoint::configure("").unwrap();
    }
}
