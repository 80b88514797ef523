//! The static musl binary routes every call to `memcpy` (musl's own objects' included) to
//! its faster copy in `src/memcpy.rs`. musl's static libc is linked whole, so the symbol
//! cannot simply be defined again; the linker's `--wrap` renames the references instead.
fn main() {
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if env == "musl" && arch == "x86_64" {
        println!("cargo:rustc-link-arg-bins=-Wl,--wrap=memcpy");
    }
}
