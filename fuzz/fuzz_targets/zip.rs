#![no_main]

// .zip through the path-safety module.
libfuzzer_sys::fuzz_target!(|data: &[u8]| attune_pack::fuzzing::extract(data, true));
