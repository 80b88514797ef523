#![no_main]

// .tar and .tar.gz (by their first bytes) through the path-safety module.
libfuzzer_sys::fuzz_target!(|data: &[u8]| attune_pack::fuzzing::extract(data, false));
