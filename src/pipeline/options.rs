//! What an install is asked to do, and what it did.

use crate::model::checksum::Checksum;
use crate::model::history::Action;
use crate::model::receipt::Receipt;
use crate::pack::locate::Subdir;

/// Per-install choices (the `install` command's flags), set with builder methods.
///
/// ```
/// use attune_pack::InstallOptions;
/// let opts = InstallOptions::new().force().skip_tests();
/// # let _ = opts;
/// ```
#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub(crate) force: bool,
    pub(crate) skip_tests: bool,
    pub(crate) skip_deps: bool,
    pub(crate) skip_env: bool,
    pub(crate) with_deps: bool,
    pub(crate) dry_run: bool,
    pub(crate) checksum: Option<Checksum>,
    pub(crate) subdir: Option<Subdir>,
    /// How the change is recorded and shown to hooks: an install, or an update.
    pub(crate) action: Action,
    /// Keep each archive's bytes in staging (`bundle create`).
    pub(crate) keep_archive: bool,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions {
            force: false,
            skip_tests: false,
            skip_deps: false,
            skip_env: false,
            with_deps: false,
            dry_run: false,
            checksum: None,
            subdir: None,
            action: Action::Install,
            keep_archive: false,
        }
    }
}

impl InstallOptions {
    /// Install, refusing to replace an installed pack, running the pack's tests, requiring
    /// its dependencies to be installed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replace an installed version of the same pack (it is kept for rollback); with
    /// [`with_deps`](Self::with_deps), also installed dependencies of a version that does not
    /// match.
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    /// Do not run the pack's own tests.
    pub fn skip_tests(mut self) -> Self {
        self.skip_tests = true;
        self
    }

    /// Install even when dependencies are unmet (with a warning).
    pub fn skip_deps(mut self) -> Self {
        self.skip_deps = true;
        self
    }

    /// Do not build the pack's Python environment (its receipt says `skipped`, with a
    /// warning that its Python actions may not run); also config `build_envs: false`.
    pub fn skip_env(mut self) -> Self {
        self.skip_env = true;
        self
    }

    /// Install unmet dependencies from the registry first.
    pub fn with_deps(mut self) -> Self {
        self.with_deps = true;
        self
    }

    /// Fetch, verify and test; change nothing.
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Require a checksum: of the archive's bytes for archive sources, the content checksum
    /// for git and directory sources (for a registry source it must equal the index's).
    pub fn checksum(mut self, checksum: Checksum) -> Self {
        self.checksum = Some(checksum);
        self
    }

    /// The pack is in this directory of the repository or archive (one of many there), for
    /// a git, archive or directory source.
    ///
    /// ```
    /// use attune_pack::{InstallOptions, Subdir};
    /// let opts = InstallOptions::new().subdir(Subdir::parse("packs/core")?);
    /// # let _ = opts;
    /// # Ok::<(), String>(())
    /// ```
    pub fn subdir(mut self, subdir: Subdir) -> Self {
        self.subdir = Some(subdir);
        self
    }
}

/// What an install did (or, for a dry run, would do).
#[derive(Debug, Clone)]
pub struct InstallReport {
    /// The receipt written (for a dry run: the one that would be written).
    pub receipt: Receipt,
    /// The version that was active before, now kept for rollback.
    pub replaced: Option<String>,
    /// Nothing was changed.
    pub dry_run: bool,
    /// The warnings given on the way (also sent as [`crate::Event::Warning`]).
    pub warnings: Vec<String>,
    /// With [`InstallOptions::with_deps`]: the dependencies installed (or planned) first, in
    /// that order.
    pub dependencies: Vec<InstallReport>,
    /// The pack's test runners that ran, as `NAME (TYPE)` (none when its tests did not run);
    /// their counts are the receipt's `tests`.
    pub test_runners: Vec<String>,
}
