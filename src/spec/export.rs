//! A workflow spec back to YAML, in the same shape users write (the serde form of
//! [`WorkflowSpec`], which leaves defaults out).

use super::types::WorkflowSpec;

pub(crate) fn to_yaml(spec: &WorkflowSpec) -> String {
    let options = serde_saphyr::ser_options! {
        indent_step: 2,
        compact_list_indent: false,
        // Multi-line scripts as `|` blocks; never fold long lines (`>`), which readers and
        // editors get wrong too easily.
        prefer_block_scalars: true,
        folded_wrap_chars: usize::MAX,
        min_fold_chars: usize::MAX,
    };
    match serde_saphyr::to_string_with_options(spec, options) {
        Ok(yaml) => yaml,
        // Not expected; JSON is YAML too, and parse_documents reads it back the same.
        Err(_) => serde_json::to_string_pretty(spec).unwrap_or_default(),
    }
}
