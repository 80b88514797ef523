//! The static (musl) binary's `memcpy`. musl's copies a byte at a time up to 8-byte
//! alignment and then with `rep movsq`, whose start-up cost dwarfs the short copies that
//! inflating and applying git deltas make by the million: it was 23% of a git install's CPU
//! time against 7% for glibc's. This one copies up to 64 bytes with overlapping unaligned
//! loads (no loop) and longer runs with `rep movsb`, which CPUs with ERMS (every x86-64 one
//! since 2013) run at full speed. Only the musl binary uses it (see `build.rs`): the library
//! leaves its embedder's alone.

use std::arch::asm;

/// The first and the last `W` bytes of `n` (between `W` and `2 W`) with `MOV` through
/// registers of `CLASS` (`:e` picks the 32-bit name of a general register).
macro_rules! ends {
    ($dst:ident, $src:ident, $n:ident, $w:literal, $mov:literal, $class:ident, $m:literal) => {
        asm!(
            concat!($mov, " {a", $m, "}, [{s}]"),
            concat!($mov, " {b", $m, "}, [{s} + {n} - ", $w, "]"),
            concat!($mov, " [{d}], {a", $m, "}"),
            concat!($mov, " [{d} + {n} - ", $w, "], {b", $m, "}"),
            s = in(reg) $src, d = in(reg) $dst, n = in(reg) $n,
            a = out($class) _, b = out($class) _,
            options(nostack, preserves_flags)
        )
    };
}

/// Copies `n` bytes from `src` to `dst` (which must not overlap), as `memcpy` does.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `n` bytes, not overlapping.
#[inline(always)]
pub unsafe fn copy(dst: *mut u8, src: *const u8, n: usize) {
    // Short copies load the first and the last bytes (overlapping in the middle) before
    // storing either. In assembly throughout: any copy the compiler wrote itself (a loop or an
    // unaligned read, in a debug build) could become a call to memcpy, that is, to this.
    unsafe {
        match n {
            0 => {}
            1..=3 => {
                let (a, b, c) = (*src, *src.add(n / 2), *src.add(n - 1));
                *dst = a;
                *dst.add(n / 2) = b;
                *dst.add(n - 1) = c;
            }
            4..=7 => ends!(dst, src, n, "4", "mov", reg, ":e"),
            8..=15 => ends!(dst, src, n, "8", "mov", reg, ""),
            16..=32 => ends!(dst, src, n, "16", "movdqu", xmm_reg, ""),
            33..=64 => asm!(
                "movdqu {a}, [{s}]",
                "movdqu {b}, [{s} + 16]",
                "movdqu {c}, [{s} + {n} - 32]",
                "movdqu {e}, [{s} + {n} - 16]",
                "movdqu [{d}], {a}",
                "movdqu [{d} + 16], {b}",
                "movdqu [{d} + {n} - 32], {c}",
                "movdqu [{d} + {n} - 16], {e}",
                s = in(reg) src, d = in(reg) dst, n = in(reg) n,
                a = out(xmm_reg) _, b = out(xmm_reg) _, c = out(xmm_reg) _, e = out(xmm_reg) _,
                options(nostack, preserves_flags)
            ),
            _ => asm!(
                "rep movsb",
                inout("rcx") n => _,
                inout("rdi") dst => _,
                inout("rsi") src => _,
                options(nostack, preserves_flags)
            ),
        }
    }
}

/// The musl binary's calls to `memcpy`, which `build.rs` has the linker route here
/// (`--wrap=memcpy`).
#[cfg(target_env = "musl")]
#[unsafe(no_mangle)]
unsafe extern "C" fn __wrap_memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    unsafe { copy(dst, src, n) };
    dst
}

#[cfg(test)]
mod tests {
    #[test]
    fn copies_every_length_at_every_alignment_and_nothing_else() {
        let src: Vec<u8> = (0..700u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in 0..600 {
            for (from, to) in [(0, 0), (1, 0), (0, 3), (5, 9), (13, 2), (7, 7)] {
                let mut dst = vec![0xAAu8; 640];
                unsafe { super::copy(dst.as_mut_ptr().add(to), src.as_ptr().add(from), n) };
                assert_eq!(
                    dst[to..to + n],
                    src[from..from + n],
                    "n={n} from={from} to={to}"
                );
                assert!(
                    dst[..to].iter().all(|&b| b == 0xAA),
                    "before: n={n} to={to}"
                );
                assert!(
                    dst[to + n..].iter().all(|&b| b == 0xAA),
                    "after: n={n} to={to}"
                );
            }
        }
    }
}
