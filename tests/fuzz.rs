//! Parsers that take user text never panic: property tests over arbitrary and
//! grammar-shaped text for the YAML spec, cron, parameter expressions (`$[...]`,
//! `${setValue(...)}`), switch/condition expressions, JSON paths and durations.
//!
//! `cargo test --test fuzz` runs 256 inputs per parser; `PGDAG_FUZZ_CASES=1000000 cargo
//! test --release --test fuzz` runs a million each (docs/testing.md).

use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("PGDAG_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text made of the pieces a parser's grammar uses, so that inputs get past the first
/// character: `pieces` joined at random, with arbitrary text mixed in.
fn shaped(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(pieces).prop_map(str::to_string),
            1 => ".{0,3}",
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

const CRON: &[&str] = &[
    "0",
    "5",
    "59",
    "*",
    "?",
    "/",
    "-",
    ",",
    " ",
    "L",
    "W",
    "#",
    "LW",
    "MON",
    "FRI",
    "JAN",
    "1",
    "7",
    "31",
    "12",
    "2026",
    "99999999999",
];
const TIME: &[&str] = &[
    "$[",
    "]",
    "yyyy",
    "MM",
    "dd",
    "HH",
    "mm",
    "ss",
    "-",
    "+",
    "1",
    "7",
    "(",
    ")",
    ",",
    "add_months",
    "this_day",
    "last_day",
    "week_first_day",
    "week_last_day",
    "${",
    "}",
    "setValue(",
    "=",
    "system.biz.date",
    "9999999999",
];
const SWITCH: &[&str] = &[
    "${x}", "1", "3.5", "'a'", "\"b\"", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "!", "(",
    ")", " ", "-", "1e308",
];
const PATH: &[&str] = &[
    "$",
    ".",
    "[",
    "]",
    "0",
    "-1",
    "*",
    "a",
    "'k'",
    "\"k\"",
    "..",
    "9999999999999",
];
const DURATION: &[&str] = &[
    "1",
    "500",
    "ms",
    "s",
    "m",
    "h",
    "d",
    " ",
    "99999999999999999999",
    "-",
    ".",
];
const YAML: &[&str] = &[
    "project: p\n",
    "name: w\n",
    "tasks:\n",
    "  - ",
    "{ name: a, type: shell, script: x }\n",
    "depends_on: [a]\n",
    "kind: datasource\n",
    "---\n",
    "&a ",
    "*a",
    "<<: ",
    "{",
    "}",
    "[",
    "]",
    ":",
    "\n",
    "  ",
    "schedule: { cron: '0 0 * * *' }\n",
    "type: switch\n",
    "!!binary ",
];

fn ctx() -> pgdag::params::RunContext {
    pgdag::params::RunContext {
        schedule_time: chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
        timezone: chrono_tz::Europe::Berlin,
        project: "p".into(),
        workflow: "w".into(),
        workflow_instance_id: 1,
        task_instance_id: 2,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn cron_never_panics(text in prop_oneof![shaped(CRON), ".*"]) {
        let _ = text.parse::<pgdag::cron::CronExpr>();
    }

    #[test]
    fn parameter_expansion_never_panics(text in prop_oneof![shaped(TIME), ".*"]) {
        let params = pgdag::params::ParamMap::default();
        let _ = pgdag::params::expand(&text, &params, &ctx());
        let _ = pgdag::params::parse_set_value(&text);
    }

    #[test]
    fn switch_expressions_never_panic(text in prop_oneof![shaped(SWITCH), ".*"]) {
        let _ = pgdag::params::expr::parse(&text);
    }

    #[test]
    fn json_paths_never_panic(text in prop_oneof![shaped(PATH), ".*"]) {
        let _ = pgdag::tasks::json_path::parse(&text);
    }

    #[test]
    fn durations_never_panic(text in prop_oneof![shaped(DURATION), ".*"]) {
        let _ = text.parse::<pgdag::model::Duration>();
    }

    #[test]
    fn yaml_specs_never_panic(text in prop_oneof![shaped(YAML), ".*"]) {
        let _ = pgdag::spec::parse_documents("fuzz.yaml", &text);
    }
}

/// 10 KiB of nesting or repetition parses or fails (no stack overflow, no runaway).
#[test]
fn ten_kib_inputs_parse_or_fail() {
    let deep = |open: &str, close: &str| format!("{}{}", open.repeat(5_000), close.repeat(5_000));
    let _ = pgdag::params::expr::parse(&deep("(", ")"));
    let _ = pgdag::params::expr::parse(&"!".repeat(10_240));
    let _ = pgdag::tasks::json_path::parse(&format!("${}", "[0]".repeat(3_400)));
    let _ = pgdag::spec::parse_documents("deep.yaml", &deep("[", "]"));
    let _ = pgdag::spec::parse_documents("deep.yaml", &deep("{a: ", "}"));
    let params = pgdag::params::ParamMap::default();
    let _ = pgdag::params::expand(&"$[".repeat(5_000), &params, &ctx());
    let _ = pgdag::params::expand(&"${".repeat(5_000), &params, &ctx());
    let _ = "1,".repeat(5_000).parse::<pgdag::cron::CronExpr>();
}
