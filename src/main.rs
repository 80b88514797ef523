mod cli;
#[cfg(all(target_arch = "x86_64", any(test, target_env = "musl")))]
mod memcpy;

#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    #[cfg(target_env = "musl")]
    tune_allocator();
    std::process::exit(cli::main());
}

/// mimalloc keeps freed memory committed for a while and commits arenas eagerly, which made
/// the peak memory of a 100,000-entry zip 100 MiB against 57 MiB with both off, at the same
/// speed. The option numbers are those of the v2 `mi_option_e` the crate builds (the crate
/// names only its stable options).
#[cfg(target_env = "musl")]
fn tune_allocator() {
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: setting an option is safe at any time; these take effect for later purges and
    // arenas.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}
