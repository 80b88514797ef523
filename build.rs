//! The static musl binary routes its calls to `memcpy` to the faster copy in
//! `src/memcpy.rs`. The symbol cannot simply be defined again (the static libc's `memcpy`
//! is linked too, a duplicate definition); the linker's `--wrap` renames the references.
fn main() {
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if env == "musl" && arch == "x86_64" {
        println!("cargo:rustc-link-arg-bins=-Wl,--wrap=memcpy");
    }
}
