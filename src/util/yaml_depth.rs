//! The nesting depth of a YAML document, measured with libyaml's event parser before the
//! document is loaded: loading takes time that grows faster than linearly with flow nesting
//! (100,000 levels of `[` in 200 KB took 35 s), while the events can be stopped at the first
//! level that is too deep, after a bounded amount of work whatever the document's size.

use std::mem::MaybeUninit;

use unsafe_libyaml_norway as unsafe_yaml;

/// How deep pack.yaml may nest (serde's own limit for the parts it reads).
pub const MAX_DEPTH: usize = 128;

/// `Err(line)` (1-based) where the document first nests deeper than `max`. A syntax error
/// is not this function's to report: it returns `Ok` and leaves it to the real parser.
pub fn check(text: &[u8], max: usize) -> Result<(), usize> {
    // SAFETY: the parser is initialized before use and deleted on every path; its input is
    // `text`, borrowed for the whole function; every event parsed is deleted.
    unsafe {
        let mut parser = MaybeUninit::<unsafe_yaml::yaml_parser_t>::uninit();
        if !unsafe_yaml::yaml_parser_initialize(parser.as_mut_ptr()).ok {
            return Ok(());
        }
        let mut parser = parser.assume_init();
        unsafe_yaml::yaml_parser_set_input_string(&mut parser, text.as_ptr(), text.len() as u64);
        let mut depth = 0usize;
        let outcome = loop {
            let mut event = MaybeUninit::<unsafe_yaml::yaml_event_t>::uninit();
            if !unsafe_yaml::yaml_parser_parse(&mut parser, event.as_mut_ptr()).ok {
                break Ok(());
            }
            let mut event = event.assume_init();
            let (kind, line) = (event.type_, event.start_mark.line);
            unsafe_yaml::yaml_event_delete(&mut event);
            match kind {
                unsafe_yaml::YAML_SEQUENCE_START_EVENT | unsafe_yaml::YAML_MAPPING_START_EVENT => {
                    depth += 1;
                    if depth > max {
                        break Err(line as usize + 1);
                    }
                }
                unsafe_yaml::YAML_SEQUENCE_END_EVENT | unsafe_yaml::YAML_MAPPING_END_EVENT => {
                    depth = depth.saturating_sub(1)
                }
                unsafe_yaml::YAML_STREAM_END_EVENT => break Ok(()),
                _ => {}
            }
        };
        unsafe_yaml::yaml_parser_delete(&mut parser);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_flow_and_block_nesting() {
        assert_eq!(check(b"a: [1, {b: [2]}]\n", 4), Ok(()));
        assert_eq!(check(b"a: [1, {b: [2]}]\n", 3), Err(1));
        let block = "a:\n  b:\n    c:\n      - d\n";
        assert_eq!(check(block.as_bytes(), 4), Ok(()));
        assert_eq!(check(block.as_bytes(), 3), Err(4));
        let deep = format!(
            "ref: x\nmeta: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(check(deep.as_bytes(), MAX_DEPTH), Err(2));
        // Not YAML at all: for the real parser to explain.
        assert_eq!(check(b"a: [\n", MAX_DEPTH), Ok(()));
    }
}
