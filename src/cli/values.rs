//! What `pgdag export` writes of a project besides its workflows: its `kind: variables`
//! document, and its secrets as comments (a value is never exported; a `value_env` secret is
//! exported whole, since it holds no value).

use crate::store::{Result, db::Conn, project_values};

/// The project's variables and secrets as YAML documents (each ending in a newline, joined
/// with `---`), or an empty string when it has neither.
pub async fn export_values(client: &impl Conn, project: &str) -> Result<String> {
    let mut docs: Vec<String> = Vec::new();
    if let Some((values, _)) = project_values::get_variables(client, project).await? {
        docs.push(variables_yaml(project, &values));
    }
    for s in project_values::list_secrets(client, project).await? {
        let name = serde_json::Value::String(s.name.clone());
        docs.push(match &s.value_env {
            Some(var) => format!("kind: secret\nproject: {project}\nname: {name}\nvalue_env: {var}\n"),
            None => format!(
                "# secret {name} of project {project} holds a stored value, which is never exported:\n# apply it again with its value\n"
            ),
        });
    }
    Ok(docs.join("---\n"))
}

/// A `kind: variables` document; values are written as JSON strings (JSON is YAML), so any
/// text reads back the same.
fn variables_yaml(project: &str, values: &std::collections::BTreeMap<String, String>) -> String {
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
    #[test]
    fn exported_variables_read_back_the_same() {
        let values = std::collections::BTreeMap::from([
            ("bucket".to_string(), "s3://b/x: y".to_string()),
            (
                "quote".to_string(),
                "a \"q\" \\ ${x}\nline2 #not a comment".to_string(),
            ),
            ("empty".to_string(), String::new()),
        ]);
        let yaml = super::variables_yaml("p", &values);
        let checked = crate::apply::check_documents("export.yaml", &yaml).unwrap();
        assert_eq!(checked.variables[0].values, values);
        assert_eq!(checked.variables[0].project, "p");
    }
}
