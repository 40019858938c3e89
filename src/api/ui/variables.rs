//! A project's Variables page: its variables (`${var.NAME}`), which writers edit in a
//! form and readers only see, and its secrets (`${secret.NAME}`), listed by name only, which
//! writers set, replace and delete. Every form is checked as the `kind: variables` and
//! `kind: secret` documents are (the form becomes the document), stored and audited as REST
//! does (`store::audited`); a secret's value is encrypted with this server's
//! `PGDAG_SECRET_KEY` and never shown back, not even in a refused form. Writers also see
//! the project's webhooks there, create one for a workflow (its token is shown once, in the
//! answer to the form) and revoke them, as `pgdag hook` and REST do.

use std::collections::BTreeMap;

use askama::Template;
use warp::http::StatusCode;

use super::{Ctx, render};
use crate::api::Reply;
use crate::api::error::ApiError;
use crate::api::pages::{self, Nav};
use crate::api::rest::values as rest_values;
use crate::store::members::Access;
use crate::store::{audited, definitions, hooks, project_values};

/// One variable row of the form.
pub struct VariableRow {
    pub index: usize,
    pub name: String,
    pub value: String,
}

/// One secret, by name: where its value comes from, never the value.
pub struct SecretRow {
    pub name: String,
    pub source: String,
    pub updated_at: String,
}

/// One webhook of the project (writers only): never its token.
pub struct HookRow {
    pub id: i64,
    pub workflow: String,
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: String,
}

#[derive(Template)]
#[template(path = "pages/variables.html")]
pub struct VariablesPage {
    pub nav: Nav,
    pub project: String,
    pub can_write: bool,
    pub variables: Vec<VariableRow>,
    /// The index of the empty row that adds a variable.
    pub new_index: usize,
    pub updated_at: String,
    pub secrets: Vec<SecretRow>,
    /// Writers only: the project's webhooks, newest first, and its workflows to make one for.
    pub hooks: Vec<HookRow>,
    pub workflows: Vec<String>,
    /// The path of a webhook just created, with its token: shown in this answer only.
    pub new_hook: Option<String>,
    pub message: Option<String>,
    pub error: Option<String>,
}

/// `GET /projects/{p}/variables`.
pub(super) async fn page(ctx: &Ctx<'_>, project: &str) -> Result<Reply, ApiError> {
    show(ctx, project, None, None, None).await
}

/// What a form's answer adds to the page.
#[derive(Default)]
struct Outcome {
    message: Option<String>,
    error: Option<String>,
    /// The variables as they were sent (a refused variables form).
    sent: Option<Vec<(String, String)>>,
    new_hook: Option<String>,
}

/// The page, with a message or an error (then 422, with the variables as they were sent
/// when `sent` holds them).
async fn show(
    ctx: &Ctx<'_>,
    project: &str,
    message: Option<String>,
    error: Option<String>,
    sent: Option<Vec<(String, String)>>,
) -> Result<Reply, ApiError> {
    let outcome = Outcome {
        message,
        error,
        sent,
        new_hook: None,
    };
    show_outcome(ctx, project, outcome).await
}

async fn show_outcome(ctx: &Ctx<'_>, project: &str, outcome: Outcome) -> Result<Reply, ApiError> {
    let Outcome {
        message,
        error,
        sent,
        new_hook,
    } = outcome;
    let client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Read)
        .await?;
    let can_write = ctx.who.can_write(&client, project).await?;
    let (stored, updated_at) = match project_values::get_variables(&client, project).await? {
        Some((values, at)) => (values, pages::time(Some(at))),
        None => (BTreeMap::new(), String::new()),
    };
    let rows: Vec<(String, String)> = sent.unwrap_or_else(|| stored.into_iter().collect());
    let secrets = project_values::list_secrets(&client, project)
        .await?
        .into_iter()
        .map(|s| SecretRow {
            source: match &s.value_env {
                Some(var) => format!("worker environment variable {var}"),
                None => "stored (encrypted)".to_string(),
            },
            name: s.name,
            updated_at: pages::time(Some(s.updated_at)),
        })
        .collect();
    let (hooks, workflows) = if can_write {
        let hooks = hooks::list(&client, project, None)
            .await?
            .into_iter()
            .map(|h| HookRow {
                id: h.id,
                workflow: h.workflow,
                created_by: h.created_by,
                created_at: pages::time(Some(h.created_at)),
                revoked_at: pages::time(h.revoked_at),
            })
            .collect();
        let workflows = definitions::list_workflows(&client, project)
            .await?
            .into_iter()
            .map(|w| w.name)
            .collect();
        (hooks, workflows)
    } else {
        (Vec::new(), Vec::new())
    };
    let failed = error.is_some();
    let mut reply = render(&VariablesPage {
        nav: ctx.nav("projects"),
        project: project.to_string(),
        can_write,
        new_index: rows.len(),
        variables: rows
            .into_iter()
            .enumerate()
            .map(|(index, (name, value))| VariableRow { index, name, value })
            .collect(),
        updated_at,
        secrets,
        hooks,
        workflows,
        new_hook,
        message,
        error,
    })?;
    if failed {
        *reply.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(reply)
}

/// The form's `name_<i>`/`value_<i>` pairs in index order; a row whose name is empty is
/// left out (that is how a variable is removed).
fn form_rows(form: &std::collections::HashMap<String, String>) -> Vec<(String, String)> {
    let mut rows: BTreeMap<usize, (String, String)> = BTreeMap::new();
    for (key, value) in form {
        if let Some(i) = key.strip_prefix("name_").and_then(|i| i.parse().ok()) {
            rows.entry(i).or_default().0 = value.trim().to_string();
        } else if let Some(i) = key.strip_prefix("value_").and_then(|i| i.parse().ok()) {
            // Browsers send a textarea's line breaks as CRLF.
            rows.entry(i).or_default().1 = value.replace("\r\n", "\n");
        }
    }
    rows.into_values()
        .filter(|(name, _)| !name.is_empty())
        .collect()
}

/// The document's messages, joined.
fn messages(errors: &[crate::spec::SpecError]) -> String {
    errors
        .iter()
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join("; ")
}

/// `POST /projects/{p}/variables` (writers): the whole set, replaced.
pub(super) async fn save(ctx: &Ctx<'_>, project: &str) -> Result<Reply, ApiError> {
    let mut client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Write)
        .await?;
    let rows = form_rows(&ctx.request.form());
    let mut values = serde_json::Map::new();
    for (name, value) in &rows {
        if values.insert(name.clone(), value.clone().into()).is_some() {
            drop(client);
            let why = format!("variable {name} is listed twice");
            return show(ctx, project, None, Some(why), Some(rows)).await;
        }
    }
    // One validation for every way in: the form becomes the document (JSON is YAML).
    let document = serde_json::json!({ "kind": "variables", "project": project, "values": values });
    let checked = match crate::apply::check_documents("form", &document.to_string()) {
        Ok(checked) => checked,
        Err(errors) => {
            drop(client);
            return show(ctx, project, None, Some(messages(&errors)), Some(rows)).await;
        }
    };
    let [variables] = &checked.variables[..] else {
        return Err(ApiError::unprocessable(
            "the form is not a variables document",
        ));
    };
    audited::variables_set(&mut client, &ctx.who.actor(), project, &variables.values).await?;
    drop(client);
    let saved = format!("{} variable(s) saved.", variables.values.len());
    show(ctx, project, Some(saved), None, None).await
}

/// `POST /projects/{p}/secrets` (writers): set or replace one secret, from `value` (stored
/// encrypted) or `value_env`.
pub(super) async fn set_secret(ctx: &Ctx<'_>, project: &str) -> Result<Reply, ApiError> {
    let mut client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Write)
        .await?;
    let form = ctx.request.form();
    let name = form.get("name").map(|v| v.trim()).unwrap_or_default();
    let mut document = serde_json::json!({ "kind": "secret", "project": project, "name": name });
    for key in ["value", "value_env"] {
        if let Some(v) = form.get(key).filter(|v| !v.trim().is_empty()) {
            let v = if key == "value_env" { v.trim() } else { v };
            document[key] = v.into();
        }
    }
    let refused = |why: String| async move { show(ctx, project, None, Some(why), None).await };
    let checked = match crate::apply::check_documents("form", &document.to_string()) {
        Ok(checked) => checked,
        Err(errors) => {
            drop(client);
            return refused(messages(&errors)).await;
        }
    };
    let key = match crate::secret::SecretKey::from_env() {
        Ok(key) => key,
        Err(e) => {
            drop(client);
            return refused(e).await;
        }
    };
    let sealed = match checked.sealed_secrets(key.as_ref()) {
        Ok(sealed) => sealed,
        Err(e) => {
            drop(client);
            return refused(e).await;
        }
    };
    let [secret] = &sealed[..] else {
        return Err(ApiError::unprocessable("the form is not a secret"));
    };
    let created = audited::secret_set(&mut client, &ctx.who.actor(), secret).await?;
    drop(client);
    let done = format!(
        "Secret {} {}.",
        secret.name,
        if created { "created" } else { "replaced" }
    );
    show(ctx, project, Some(done), None, None).await
}

/// `POST /projects/{p}/secrets/delete` (writers).
pub(super) async fn delete_secret(ctx: &Ctx<'_>, project: &str) -> Result<Reply, ApiError> {
    let mut client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Write)
        .await?;
    let name = ctx.request.form().get("name").cloned().unwrap_or_default();
    let deleted = audited::secret_delete(&mut client, &ctx.who.actor(), project, &name).await?;
    drop(client);
    if deleted {
        show(
            ctx,
            project,
            Some(format!("Secret {name} deleted.")),
            None,
            None,
        )
        .await
    } else {
        let why = format!("secret {project}/{name} does not exist");
        show(ctx, project, None, Some(why), None).await
    }
}

/// `POST /projects/{p}/hooks` (writers): a new webhook for the form's `workflow`; the
/// answer shows its path with the token, once.
pub(super) async fn create_hook(ctx: &Ctx<'_>, project: &str) -> Result<Reply, ApiError> {
    let mut client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Write)
        .await?;
    let workflow = ctx
        .request
        .form()
        .get("workflow")
        .cloned()
        .unwrap_or_default();
    let tx = client.transaction().await?;
    let created = rest_values::create(&tx, &ctx.who.actor(), project, &workflow, ctx.now).await;
    let outcome = match created {
        Ok((id, token)) => {
            tx.commit().await?;
            Outcome {
                message: Some(format!(
                    "Webhook {id} of {project}/{workflow} created. Its token is shown this once: POST to this server at the path below."
                )),
                new_hook: Some(format!("/hooks/{token}")),
                ..Outcome::default()
            }
        }
        Err(crate::store::StoreError::NotFound(why)) => {
            drop(tx);
            Outcome {
                error: Some(why),
                ..Outcome::default()
            }
        }
        Err(e) => return Err(e.into()),
    };
    drop(client);
    show_outcome(ctx, project, outcome).await
}

/// `POST /projects/{p}/hooks/{id}/revoke` (writers).
pub(super) async fn revoke_hook(ctx: &Ctx<'_>, project: &str, id: &str) -> Result<Reply, ApiError> {
    let mut client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Write)
        .await?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not an id")))?;
    let tx = client.transaction().await?;
    // A hook of another project is as invisible as one that does not exist.
    let revoked = match hooks::get(&tx, id).await? {
        Some(h) if h.project == project => {
            rest_values::revoke(&tx, &ctx.who.actor(), id, ctx.now).await?
        }
        _ => None,
    };
    tx.commit().await?;
    drop(client);
    match revoked {
        Some(h) => {
            let done = format!("Webhook {id} of {project}/{} revoked.", h.workflow);
            show(ctx, project, Some(done), None, None).await
        }
        None => Err(ApiError::not_found(format!(
            "hook {id} of project {project} does not exist"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::form_rows;

    #[test]
    fn form_rows_keep_index_order_and_drop_rows_without_a_name() {
        let form = [
            ("name_10", " z "),
            ("value_10", "a\r\nb"),
            ("name_2", "a"),
            ("value_2", "1"),
            ("name_3", ""),
            ("value_3", "gone"),
            ("value_4", "no name"),
            ("csrf", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            form_rows(&form),
            [
                ("a".to_string(), "1".to_string()),
                ("z".to_string(), "a\nb".to_string())
            ]
        );
    }
}
