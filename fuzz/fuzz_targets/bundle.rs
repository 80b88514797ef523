#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| attune_pack::fuzzing::bundle(data));
