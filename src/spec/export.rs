//! Specs back to YAML, in the same shape users write (the serde form of the spec types,
//! which leaves defaults out): a workflow as it is stored, any other document with its
//! `kind:` first.

use serde::Serialize;

use super::types::{Document, WorkflowSpec};

fn render<T: Serialize>(value: &T) -> String {
    let options = serde_saphyr::ser_options! {
        indent_step: 2,
        compact_list_indent: false,
        // Multi-line scripts as `|` blocks; never fold long lines (`>`), which readers and
        // editors get wrong too easily.
        prefer_block_scalars: true,
        folded_wrap_chars: usize::MAX,
        min_fold_chars: usize::MAX,
    };
    match serde_saphyr::to_string_with_options(value, options) {
        Ok(yaml) => yaml,
        // Not expected; JSON is YAML too, and parse_documents reads it back the same.
        Err(_) => serde_json::to_string_pretty(value).unwrap_or_default(),
    }
}

pub(crate) fn to_yaml(spec: &WorkflowSpec) -> String {
    render(spec)
}

/// A document with `kind:` as its first key.
#[derive(Serialize)]
struct Kinded<'a, T: Serialize> {
    kind: &'static str,
    #[serde(flatten)]
    doc: &'a T,
}

pub(crate) fn document_to_yaml(doc: &Document) -> String {
    let kind = doc.kind();
    match doc {
        // `kind: workflow` is the default and is left out, as `pgdag export` always wrote.
        Document::Workflow(w) => render(w),
        Document::Datasource(d) => render(&Kinded { kind, doc: d }),
        Document::AlertGroup(a) => render(&Kinded { kind, doc: a }),
        Document::TaskGroup(g) => render(&Kinded { kind, doc: g }),
        Document::Tenant(t) => render(&Kinded { kind, doc: t }),
        Document::Schedule(s) => render(&Kinded { kind, doc: s }),
        Document::Variables(v) => variables_to_yaml(&v.project, &v.values),
        Document::Secret(s) => {
            let text = |t: &str| serde_json::Value::String(t.to_string());
            let head = format!(
                "kind: secret\nproject: {}\nname: {}\n",
                text(&s.project),
                text(&s.name)
            );
            match &s.value {
                super::SecretSource::Env(var) => format!("{head}value_env: {}\n", text(var)),
                // A secret's value is never written anywhere.
                super::SecretSource::Value(_) => format!("{head}# value: never written\n"),
            }
        }
    }
}

/// A `kind: variables` document; values are written as JSON strings (JSON is YAML), so any
/// text reads back the same.
pub(crate) fn variables_to_yaml(
    project: &str,
    values: &std::collections::BTreeMap<String, String>,
) -> String {
    let mut out = format!("kind: variables\nproject: {project}\n");
    if values.is_empty() {
        out.push_str("values: {}\n");
        return out;
    }
    out.push_str("values:\n");
    for (k, v) in values {
        out.push_str(&format!(
            "  {}: {}\n",
            serde_json::Value::String(k.clone()),
            serde_json::Value::String(v.clone())
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::spec::{Document, document_to_yaml, parse_documents};

    /// Every kind reads back from what it writes, as an equal document.
    #[test]
    fn every_document_kind_round_trips_through_its_yaml() {
        let text = r#"kind: tenant
name: etl
os_user: etl_runner
projects: [a, b]
---
kind: task_group
name: slots
size: 3
---
kind: alert_group
name: oncall
channels:
  - { type: email, to: [a@example.com], smtp: { host: h, port: 25, from: p@example.com, user: u, password_env: SMTP_PW } }
  - { type: webhook, url: "https://hooks.example.com/x", headers: { X-Key: v } }
---
kind: datasource
project: a
name: dw
type: mysql
url: mysql://u@h/dw
password_env: DW_PW
---
kind: schedule
project: a
workflow: w
cron: "0 0 6 ? * MON"
timezone: Europe/Berlin
start: 2026-02-01T00:00:00+01:00
misfire: skip
enabled: false
---
project: a
name: w
tasks: [{name: t, type: empty}]
"#;
        let docs = parse_documents("f.yaml", text).unwrap();
        assert_eq!(docs.len(), 6);
        for doc in &docs {
            let yaml = document_to_yaml(doc);
            let back = parse_documents("g.yaml", &yaml).unwrap_or_else(|e| panic!("{yaml}\n{e:?}"));
            assert_eq!(&back, std::slice::from_ref(doc), "{yaml}");
            match doc {
                Document::Workflow(_) => assert!(!yaml.contains("kind:"), "{yaml}"),
                other => assert!(
                    yaml.starts_with(&format!("kind: {}\n", other.kind())),
                    "{yaml}"
                ),
            }
        }
    }

    #[test]
    fn a_schedule_document_is_checked_like_a_workflow_schedule() {
        let errors = parse_documents(
            "f.yaml",
            "kind: schedule\nproject: a\nworkflow: w\ncron: '* *'\ntimezone: Mars/Base\nextra: 1\n",
        )
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(
            text.iter()
                .any(|e| e.starts_with("f.yaml:4:") && e.contains("2 fields")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|e| e.starts_with("f.yaml:5:") && e.contains("Mars/Base")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|e| e.starts_with("f.yaml:6:") && e.contains("extra")),
            "{text:?}"
        );
        let errors = parse_documents("f.yaml", "kind: schedule\nproject: a\ncron: '0 * * * *'\n")
            .unwrap_err();
        assert!(errors[0].message.contains("workflow"), "{errors:?}");
    }
}
