//! What `pgdag export` writes of a project besides its workflows: its `kind: variables`
//! document, and its secrets as comments (a value is never exported; a `value_env` secret is
//! exported whole, since it holds no value).

use crate::store::{Result, db::Conn, project_values};

/// The project's variables and secrets as YAML documents (each ending in a newline, joined
/// with `---`), or an empty string when it has neither.
pub async fn export_values(client: &impl Conn, project: &str) -> Result<String> {
    let mut docs: Vec<String> = Vec::new();
    if let Some((values, _)) = project_values::get_variables(client, project).await? {
        docs.push(crate::spec::export::variables_to_yaml(project, &values));
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
        let yaml = crate::spec::export::variables_to_yaml("p", &values);
        let checked = crate::apply::check_documents("export.yaml", &yaml).unwrap();
        assert_eq!(checked.variables[0].values, values);
        assert_eq!(checked.variables[0].project, "p");
    }
}
