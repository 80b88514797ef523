//! Command-line arguments (the reference's "Global options" and "Commands").

use std::path::PathBuf;

use attune_pack::Subdir;
use clap::{Args, Parser, Subcommand};

const INSTALL_EXAMPLES: &str = "Examples:
  attune-pack install slack                       latest release from the registry
  attune-pack install slack@^2 --with-deps        a requirement, missing dependencies too
  attune-pack install https://github.com/org/pack.git --ref v1.2.0
  attune-pack install git@github.com:org/monorepo.git --subdir packs/core
  attune-pack install https://example.com/pack-1.0.0.tar.gz --checksum sha256:<hex>
  attune-pack install ./my-pack                   a directory (./ is always a path)
  attune-pack install --locked attune-pack.lock   exactly the packs of a lockfile
  attune-pack install --bundle site.bundle slack --with-deps --trusted-key k.pub   offline";

#[derive(Debug, Parser)]
#[command(
    name = "attune-pack",
    version,
    about = "Install Attune automation packs from registries, git, archives and local paths",
    long_about = None,
    after_help = "Exit codes: 0 ok, 1 runtime (network, io, git, corrupt archive), 2 usage, 3 security (checksum, unsafe archive, host policy), 4 not found, 5 conflict, 6 invalid pack, 130/143/129 interrupted (SIGINT/SIGTERM/SIGHUP). Reference: docs/reference.md."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options (every command)")]
pub struct GlobalArgs {
    /// Where packs are installed [default: /var/lib/attune/packs as root, else $XDG_DATA_HOME/attune/packs]
    #[arg(long, global = true, env = "ATTUNE_PACKS_DIR", value_name = "DIR")]
    pub packs_dir: Option<PathBuf>,
    /// Download and index cache [default: $XDG_CACHE_HOME/attune-pack]
    #[arg(long, global = true, env = "ATTUNE_PACK_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Where packs' Python environments are built (REF/python) [default: /opt/attune/runtime_envs as root, else $XDG_DATA_HOME/attune/runtime_envs]
    #[arg(
        long,
        global = true,
        env = "ATTUNE_RUNTIME_ENVS_DIR",
        value_name = "DIR"
    )]
    pub runtime_envs_dir: Option<PathBuf>,
    /// Config file [default: $XDG_CONFIG_HOME/attune-pack/config.yaml, then /etc/attune/attune-pack.yaml]
    #[arg(long, global = true, env = "ATTUNE_PACK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Allow plain http:// sources and indices
    #[arg(long, global = true)]
    pub allow_http: bool,
    /// Use only cached indices and local sources
    #[arg(long, global = true)]
    pub offline: bool,
    /// Seconds to wait for another attune-pack command's store lock
    #[arg(long, global = true, default_value_t = 60, value_name = "SECS")]
    pub lock_timeout: u64,
    /// Print exactly one JSON document on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Accept a signed index or bundle older than one already seen (a deliberate downgrade)
    #[arg(long, global = true)]
    pub allow_downgrade: bool,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail on stderr
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install a pack from a registry name, git URL, archive URL, local directory or archive
    #[command(after_help = INSTALL_EXAMPLES)]
    Install(InstallArgs),
    /// Print the checksum of a file (its bytes) or a directory (its content checksum)
    Checksum {
        /// A file (its bytes are hashed) or a directory (its content checksum, sha256)
        path: PathBuf,
        #[arg(long, default_value = "sha256", value_parser = ["sha256", "sha512", "sha1", "md5"])]
        algorithm: String,
    },
    /// List installed packs
    List,
    /// Show an installed pack's receipt
    Show {
        /// The installed pack
        #[arg(value_name = "REF")]
        pack_ref: String,
    },
    /// Check installed packs' files against their receipts (every pack when no REF is given)
    Verify {
        /// Installed packs to check
        #[arg(value_name = "REF")]
        pack_refs: Vec<String>,
    },
    /// Remove packs, their kept versions and their receipts
    Uninstall {
        /// Installed packs to remove (several are removed one after another)
        #[arg(value_name = "REF", required = true)]
        pack_refs: Vec<String>,
        /// Remove even if other installed packs depend on it
        #[arg(long)]
        force: bool,
    },
    /// Update installed packs to the version their requirement allows (or REF@REQ)
    Update(UpdateArgs),
    /// List installed packs with a newer version in the indices
    Outdated {
        /// Also ask the origins: git branches that moved, archive URLs that changed
        #[arg(long)]
        check_sources: bool,
    },
    /// Swap a pack's active version with its most recently replaced kept version
    Rollback {
        /// The installed pack
        #[arg(value_name = "REF")]
        pack_ref: String,
        /// Roll back even if installed packs that depend on it do not accept the kept version
        #[arg(long)]
        force: bool,
    },
    /// Write a lockfile of the installed packs
    Lock {
        /// The lockfile to write
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Show the history of changes to the store
    History {
        /// Only this pack's changes
        #[arg(value_name = "REF")]
        pack_ref: Option<String>,
    },
    /// Search the registry indices (ref, label, keywords, description)
    Search {
        /// Text to find in a pack's ref, label, keywords or description
        query: String,
        /// Search this index only
        #[arg(long, value_name = "NAME")]
        registry: Option<String>,
    },
    /// List the configured registry indices with their cache age and reachability
    Registries,
    /// Build and maintain registry index files (for pack authors)
    #[command(subcommand)]
    Index(IndexCommand),
    /// Offline bundles: packs carried across an air gap in one file
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Publish a pack to an OCI registry as NAMESPACE/REF:VERSION
    #[command(after_help = PUSH_EXAMPLES)]
    Push {
        /// The pack: a directory or an archive
        #[arg(value_name = "PACK_DIR|ARCHIVE")]
        pack_path: PathBuf,
        /// oci://HOST[:PORT]/NAMESPACE
        #[arg(value_name = "TARGET")]
        target: String,
        /// The tag (default: the pack's version, with + written _)
        #[arg(long, value_name = "TAG")]
        tag: Option<String>,
        /// Attach a minisign signature of the manifest digest, made with this secret key
        #[arg(long, value_name = "FILE")]
        sign_key: Option<PathBuf>,
        /// The secret key's password, in the first line of this file
        #[arg(long, value_name = "FILE", requires = "sign_key")]
        password_file: Option<PathBuf>,
    },
    /// Credentials for OCI registries, kept in the docker-format auth file
    #[command(subcommand)]
    Registry(RegistryCommand),
}

const PUSH_EXAMPLES: &str = "Examples:
  attune-pack push ./slack oci://registry.example/packs           -> registry.example/packs/slack:2.1.0
  attune-pack push slack-2.1.0.tar.gz oci://localhost:5000/packs --allow-http
  attune-pack install oci://registry.example/packs/slack@^2";

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Check credentials against a registry and store them for it
    Login {
        /// The registry: HOST[:PORT]
        host: String,
        /// The user name (asked for on a terminal when not given)
        #[arg(short, long)]
        username: Option<String>,
        /// Read the password or token from stdin (else it is asked for on a terminal; never
        /// a flag)
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a registry's stored credentials
    Logout {
        /// The registry: HOST[:PORT]
        host: String,
    },
}

const BUNDLE_CREATE_EXAMPLES: &str = "Examples:
  attune-pack bundle create -o packs.bundle slack@^2 jira --with-deps
  attune-pack bundle create -o site.bundle --all-installed --sign-key bundle.key
  attune-pack bundle create -o site.bundle --from-lock attune-pack.lock
  SOURCE_DATE_EPOCH=1767225600 attune-pack bundle create -o packs.bundle slack   reproducible";

const BUNDLE_VERIFY_EXAMPLES: &str = "Examples:
  attune-pack bundle verify packs.bundle
  attune-pack bundle verify packs.bundle --trusted-key RWQ...   or a .pub file's path";

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Write one bundle file of packs from the registries, the store or a lockfile
    #[command(after_help = BUNDLE_CREATE_EXAMPLES)]
    Create(BundleCreateArgs),
    /// List the packs of a bundle (its structure and digests are checked first)
    List {
        /// The bundle file
        #[arg(value_name = "FILE")]
        bundle: PathBuf,
    },
    /// Check a bundle fully: structure, every digest, every pack, and its signature
    #[command(after_help = BUNDLE_VERIFY_EXAMPLES)]
    Verify {
        /// The bundle file
        #[arg(value_name = "FILE")]
        bundle: PathBuf,
        /// A minisign public key (or a .pub file) the signature must verify with; repeatable [default: config bundle_trusted_keys]
        #[arg(long = "trusted-key", value_name = "KEY")]
        trusted_keys: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct BundleCreateArgs {
    /// The bundle file to write (a new directory for --format oci-layout)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// tar: one bundle file; oci-layout: an OCI image layout directory, for `skopeo copy
    /// oci:DIR:REF_VERSION docker://…` and `install oci-layout:DIR`
    #[arg(long, default_value = "tar", value_parser = ["tar", "oci-layout"])]
    pub format: String,
    /// Packs to bundle: registry references (name, name@REQ, index/name)
    #[arg(value_name = "REF")]
    pub refs: Vec<String>,
    /// Also bundle their dependencies, resolved from the registries
    #[arg(long)]
    pub with_deps: bool,
    /// Bundle every installed pack at its installed build
    #[arg(long)]
    pub all_installed: bool,
    /// Bundle the packs of a lockfile at their locked builds
    #[arg(long, value_name = "LOCKFILE")]
    pub from_lock: Option<PathBuf>,
    /// Sign index.json with this minisign secret key
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// The secret key's password, in the first line of this file
    #[arg(long, value_name = "FILE", requires = "sign_key")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Print the index entry of a pack directory or archive
    Entry {
        /// The pack: a directory or an archive file
        pack_path: PathBuf,
        #[command(flatten)]
        publish: PublishArgs,
    },
    /// Add or replace a pack's entry in an index file (created when missing)
    Update {
        /// The index file to change
        #[arg(value_name = "INDEX.json")]
        index: PathBuf,
        /// The pack: a directory or an archive file
        pack_path: PathBuf,
        #[command(flatten)]
        publish: PublishArgs,
        #[command(flatten)]
        header: IndexHeaderArgs,
    },
    /// Combine index files; the same ref and version with different content is refused
    Merge {
        /// Index files to combine, in order
        #[arg(value_name = "IN.json", required = true)]
        inputs: Vec<PathBuf>,
        /// The index file to write
        #[arg(short, long, value_name = "OUT.json")]
        output: PathBuf,
        /// On conflicting duplicates keep the later input's entry
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        header: IndexHeaderArgs,
    },
    /// Sign an index file with a minisign secret key: writes INDEX.json.minisig beside it
    #[command(
        after_help = "Installers check it when the index has `trusted_keys` in their config. The minisign program makes the same signature: minisign -S -s KEY -m INDEX.json"
    )]
    Sign {
        /// The index file to sign
        #[arg(value_name = "INDEX.json")]
        index: PathBuf,
        /// A minisign secret key (minisign -G writes one)
        #[arg(long, value_name = "FILE")]
        secret_key: PathBuf,
        /// The encrypted key's password, first line of FILE [default: asked on the terminal]
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
}

/// The index's own top-level fields (Attune requires them; kept from the file when not given).
#[derive(Debug, Args)]
pub struct IndexHeaderArgs {
    /// The registry's name, written as the index's `registry_name`
    #[arg(long, value_name = "NAME")]
    pub registry_name: Option<String>,
    /// The registry's home page, written as the index's `registry_url`
    #[arg(long, value_name = "URL")]
    pub registry_url: Option<String>,
}

/// Where a pack is published (the sources of its index entry).
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Git repository URL (its checksum: the content checksum of the pack as committed at --git-ref)
    #[arg(long, value_name = "URL")]
    pub git_url: Option<String>,
    /// Git tag, branch or commit [default: v<version>]
    #[arg(long, value_name = "REF", requires = "git_url")]
    pub git_ref: Option<String>,
    /// URL the archive is published at
    #[arg(long, value_name = "URL")]
    pub archive_url: Option<String>,
    /// The archive file published at --archive-url [default: PACK_PATH when it is an archive]
    #[arg(long, value_name = "FILE", requires = "archive_url")]
    pub archive: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Packs to update, each optionally with a new requirement (slack@^3)
    #[arg(
        value_name = "REF[@REQ]",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub refs: Vec<String>,
    /// Update every installed pack
    #[arg(long)]
    pub all: bool,
    /// Take the highest release, whatever the recorded requirement
    #[arg(long)]
    pub latest: bool,
    /// Fetch, verify and test; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Update even if installed packs that depend on it do not accept the new version
    #[arg(long)]
    pub force: bool,
    /// Do not run the packs' tests
    #[arg(long)]
    pub skip_tests: bool,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// name[@version], index/name, git URL, archive URL, directory or archive file (several install one after another)
    #[arg(value_name = "SOURCE", required_unless_present = "locked")]
    pub sources: Vec<String>,
    /// Git branch, tag or commit (makes an http(s) URL a git source)
    #[arg(long = "ref", value_name = "REF", conflicts_with = "locked")]
    pub git_ref: Option<String>,
    /// The pack's directory inside a repository, archive or directory of many (packs/core)
    #[arg(long, value_name = "PATH", value_parser = Subdir::parse, conflicts_with = "locked")]
    pub subdir: Option<Subdir>,
    /// Required checksum: ALGO:HEX or SRI (archive bytes; content checksum for git and directories)
    #[arg(long)]
    pub checksum: Option<String>,
    /// Resolve registry names in this index only
    #[arg(long, value_name = "NAME")]
    pub registry: Option<String>,
    /// Replace an installed version
    #[arg(long)]
    pub force: bool,
    /// Do not run the pack's tests
    #[arg(long)]
    pub skip_tests: bool,
    /// Install even when dependencies are unmet
    #[arg(long, conflicts_with = "with_deps")]
    pub skip_deps: bool,
    /// Do not build the pack's Python environment (its Python actions may not run)
    #[arg(long)]
    pub skip_env: bool,
    /// Install unmet dependencies first (from the registry, or the git repositories named)
    #[arg(long)]
    pub with_deps: bool,
    /// Refuse registry names
    #[arg(long)]
    pub no_registry: bool,
    /// Fetch and validate, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Install exactly the packs of a lockfile
    #[arg(long, value_name = "LOCKFILE", conflicts_with = "sources")]
    pub locked: Option<PathBuf>,
    /// With --locked: also remove installed packs the lockfile does not list
    #[arg(long, requires = "locked")]
    pub exact: bool,
    /// Install from this offline bundle only (`bundle create` writes one); no network
    #[arg(long, value_name = "FILE", conflicts_with_all = ["no_registry", "registry", "subdir", "git_ref", "checksum"])]
    pub bundle: Option<PathBuf>,
    /// A minisign public key (RWQ… or a .pub file) the bundle must be signed by [default: config bundle_trusted_keys]
    #[arg(long, value_name = "KEY", requires = "bundle")]
    pub trusted_key: Vec<String>,
}
