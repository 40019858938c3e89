//! `GET /api/v1/openapi.json`: the OpenAPI 3.0 document of the REST API, built from
//! [`OPERATIONS`] — one row per arm of the route table in `mod.rs`. A unit test reads that
//! table and fails when a route has no row here or a row no route, so the document cannot
//! drift from what is served; `tests/it/openapi.rs` runs Schemathesis against a live
//! standalone with it. A new route: add its row (method, path with parameters named as in
//! docs/rest.md, query parameters, body, answers) next to the arm.

use serde_json::{Map, Value, json};

/// One operation: an arm of the route table.
pub struct Operation {
    pub method: &'static str,
    /// Under `/api/v1`; path parameters in braces (`{id}` and `{n}` are integers).
    pub path: &'static str,
    pub summary: &'static str,
    /// Query parameters: name and JSON type (`string`, `integer`, `boolean`).
    pub query: &'static [(&'static str, &'static str)],
    /// The request body's schema (a name under `components/schemas`), if it takes one.
    pub body: Option<&'static str>,
    /// Success answers: status and schema name. Every error is the `Error` schema.
    pub answers: &'static [(u16, &'static str)],
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    answers: &'static [(u16, &'static str)],
) -> Operation {
    Operation {
        method,
        path,
        summary,
        query: &[],
        body: None,
        answers,
    }
}

impl Operation {
    const fn with_query(mut self, query: &'static [(&'static str, &'static str)]) -> Operation {
        self.query = query;
        self
    }
    const fn body(mut self, schema: &'static str) -> Operation {
        self.body = Some(schema);
        self
    }
}

const PAGING: [(&str, &str); 2] = [("before", "integer"), ("limit", "integer")];

/// Every operation of the REST API, in the route table's order.
pub const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/openapi.json",
        "This document (no token needed)",
        &[(200, "Any")],
    ),
    op(
        "get",
        "/projects",
        "Projects the caller may read",
        &[(200, "Projects")],
    ),
    op("get", "/projects/{p}", "One project", &[(200, "Project")]),
    op(
        "get",
        "/projects/{p}/members",
        "A project's members",
        &[(200, "Members")],
    ),
    op(
        "put",
        "/projects/{p}/members/{user}",
        "Grant a user access (admins)",
        &[(200, "Member")],
    )
    .body("Access"),
    op(
        "delete",
        "/projects/{p}/members/{user}",
        "Take a user's access away (admins)",
        &[(200, "Member")],
    ),
    op(
        "get",
        "/projects/{p}/workflows",
        "A project's workflows",
        &[(200, "Workflows")],
    ),
    op(
        "post",
        "/projects/{p}/workflows",
        "Apply a workflow (YAML, or its JSON form)",
        &[(200, "Applied"), (201, "Applied")],
    )
    .body("Any"),
    op(
        "get",
        "/projects/{p}/workflows/{w}",
        "A workflow's current definition",
        &[(200, "Definition")],
    ),
    op(
        "get",
        "/projects/{p}/workflows/{w}/versions",
        "A workflow's versions",
        &[(200, "Versions")],
    ),
    op(
        "get",
        "/projects/{p}/workflows/{w}/versions/{n}",
        "One version's definition",
        &[(200, "Definition")],
    ),
    op(
        "post",
        "/projects/{p}/workflows/{w}/versions/{n}/switch",
        "Make a stored version current",
        &[(200, "Switched")],
    ),
    op(
        "post",
        "/projects/{p}/workflows/{w}/runs",
        "Start a run or a backfill",
        &[(201, "Started")],
    )
    .body("Run"),
    op(
        "post",
        "/projects/{p}/workflows/{w}/online",
        "Put a workflow online",
        &[(200, "Released")],
    ),
    op(
        "post",
        "/projects/{p}/workflows/{w}/offline",
        "Put a workflow offline",
        &[(200, "Released")],
    ),
    op(
        "delete",
        "/projects/{p}/workflows/{w}",
        "Delete a workflow (admins)",
        &[(200, "DeletedWorkflow")],
    )
    .with_query(&[("with_history", "boolean")]),
    op(
        "delete",
        "/projects/{p}",
        "Delete a project (admins)",
        &[(200, "DeletedProject")],
    )
    .with_query(&[("with_history", "boolean")]),
    op(
        "get",
        "/backfills/{id}",
        "One backfill",
        &[(200, "Backfill")],
    ),
    op(
        "post",
        "/backfills/{id}/cancel",
        "Cancel a backfill",
        &[(202, "Cancelled")],
    ),
    op(
        "get",
        "/instances",
        "Instances, newest first",
        &[(200, "Instances")],
    )
    .with_query(&[
        ("project", "string"),
        ("workflow", "string"),
        ("state", "string"),
        PAGING[0],
        PAGING[1],
    ]),
    op(
        "get",
        "/instances/{id}",
        "One instance with its tasks",
        &[(200, "Instance")],
    ),
    op(
        "get",
        "/instances/{id}/tasks",
        "A page of an instance's tasks, in id order",
        &[(200, "Tasks")],
    )
    .with_query(&[
        ("state", "string"),
        ("after", "integer"),
        ("limit", "integer"),
    ]),
    op(
        "post",
        "/instances/{id}/{action}",
        "Queue a control command",
        &[(202, "Control")],
    ),
    op(
        "get",
        "/task-instances/{id}/log",
        "A task's log",
        &[(200, "Log")],
    )
    .with_query(&[
        ("after", "integer"),
        ("tail", "integer"),
        ("before", "integer"),
    ]),
    op(
        "post",
        "/task-instances/{id}/force-success",
        "Mark a failed task forced_success",
        &[(202, "TaskCommand")],
    ),
    op(
        "post",
        "/task-instances/{id}/retry",
        "Retry a final task and what follows it",
        &[(202, "TaskCommand")],
    ),
    op(
        "post",
        "/task-instances/{id}/hold",
        "Hold a task that has not started",
        &[(202, "TaskCommand")],
    ),
    op(
        "post",
        "/task-instances/{id}/release",
        "Release a held task",
        &[(202, "TaskCommand")],
    ),
    op(
        "get",
        "/cron/preview",
        "The next fire times of a cron expression",
        &[(200, "Times")],
    )
    .with_query(&[
        ("expr", "string"),
        ("tz", "string"),
        ("from", "string"),
        ("count", "integer"),
    ]),
    op("get", "/schedules", "Schedules", &[(200, "Schedules")])
        .with_query(&[("project", "string")]),
    op("post", "/schedules", "Add a schedule", &[(201, "Id")]).body("NewSchedule"),
    op(
        "delete",
        "/schedules/{id}",
        "Remove a schedule added through the API",
        &[(200, "Deleted")],
    ),
    op(
        "get",
        "/projects/{p}/datasources",
        "A project's datasources",
        &[(200, "Datasources")],
    ),
    op(
        "post",
        "/projects/{p}/datasources",
        "Add or replace a datasource",
        &[(200, "DatasourceAnswer"), (201, "DatasourceAnswer")],
    )
    .body("Any"),
    op(
        "delete",
        "/projects/{p}/datasources/{name}",
        "Delete a datasource",
        &[(200, "Deleted")],
    ),
    op(
        "get",
        "/projects/{p}/variables",
        "A project's variables",
        &[(200, "Any")],
    ),
    op(
        "put",
        "/projects/{p}/variables",
        "Replace a project's variables",
        &[(200, "Any")],
    )
    .body("Any"),
    op(
        "get",
        "/projects/{p}/secrets",
        "A project's secrets (names only)",
        &[(200, "Any")],
    ),
    op(
        "put",
        "/projects/{p}/secrets/{name}",
        "Store a secret (new or replacing one)",
        &[(200, "Any"), (201, "Any")],
    )
    .body("Any"),
    op(
        "delete",
        "/projects/{p}/secrets/{name}",
        "Delete a secret",
        &[(200, "Deleted")],
    ),
    op(
        "get",
        "/projects/{p}/hooks",
        "A project's webhooks",
        &[(200, "Any")],
    ),
    op(
        "post",
        "/projects/{p}/workflows/{w}/hooks",
        "Create a webhook (its token shown once)",
        &[(201, "Any")],
    ),
    op(
        "delete",
        "/projects/{p}/hooks/{id}",
        "Revoke a webhook",
        &[(200, "Any")],
    ),
    op("get", "/servers", "Live processes", &[(200, "Servers")]),
    op("get", "/task-groups", "Task groups", &[(200, "TaskGroups")]),
    op(
        "put",
        "/task-groups/{name}",
        "Add or resize a task group (admins)",
        &[(200, "TaskGroup")],
    )
    .body("Size"),
    op("get", "/tenants", "Tenants (admins)", &[(200, "Tenants")]),
    op(
        "put",
        "/tenants/{name}",
        "Add or replace a tenant (admins)",
        &[(200, "TenantAnswer"), (201, "TenantAnswer")],
    )
    .body("Any"),
    op(
        "delete",
        "/tenants/{name}",
        "Delete a tenant (admins)",
        &[(200, "Deleted")],
    ),
    op("get", "/tokens", "API tokens", &[(200, "Tokens")]).with_query(&[("user", "string")]),
    op(
        "post",
        "/tokens",
        "Create an API token (shown once)",
        &[(201, "NewToken")],
    )
    .body("TokenRequest"),
    op(
        "delete",
        "/tokens/{id}",
        "Revoke an API token",
        &[(200, "Revoked")],
    ),
    op(
        "get",
        "/alerts",
        "Alerts with their deliveries, newest first",
        &[(200, "Alerts")],
    )
    .with_query(&[
        ("state", "string"),
        ("kind", "string"),
        ("instance", "integer"),
        PAGING[0],
        PAGING[1],
    ]),
    op(
        "get",
        "/audit",
        "The audit trail (admins)",
        &[(200, "Audit")],
    )
    .with_query(&[
        ("actor", "string"),
        ("project", "string"),
        ("action", "string"),
        ("from", "string"),
        ("to", "string"),
        PAGING[0],
        PAGING[1],
    ]),
    op(
        "get",
        "/alert-groups",
        "Alert groups",
        &[(200, "AlertGroups")],
    ),
    op(
        "put",
        "/alert-groups/{name}",
        "Add or replace an alert group (admins)",
        &[(200, "AlertGroupAnswer"), (201, "AlertGroupAnswer")],
    )
    .body("Any"),
];

/// Path parameters with a closed set of values.
fn path_enum(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "action" => Some(&["pause", "resume", "stop", "rerun", "start-failed"]),
        _ => None,
    }
}

fn path_parameter(name: &str) -> Value {
    let schema = match (name, path_enum(name)) {
        (_, Some(values)) => json!({"type": "string", "enum": values}),
        ("id" | "n", _) => json!({"type": "integer", "format": "int64"}),
        _ => json!({"type": "string", "minLength": 1}),
    };
    // What `standalone` seeds (the demo project, the admin user), so that generated calls
    // reach more than "no such project".
    let example = match name {
        "p" => json!("demo"),
        "w" => json!("hello_pipeline"),
        "user" => json!("admin"),
        "name" => json!("default"),
        "action" => json!("pause"),
        _ => json!(1),
    };
    json!({"name": name, "in": "path", "required": true, "schema": schema, "example": example})
}

fn parameters(op: &Operation) -> Vec<Value> {
    let mut list: Vec<Value> = op
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(path_parameter)
        .collect();
    for (name, ty) in op.query {
        list.push(json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}}));
    }
    list
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn operation(op: &Operation) -> Value {
    let mut responses = Map::new();
    for (status, schema) in op.answers {
        responses.insert(
            status.to_string(),
            json!({"description": "success", "content": {"application/json": {"schema": reference(schema)}}}),
        );
    }
    responses.insert(
        "default".into(),
        json!({"description": "an error: 400, 401, 403, 404, 409, 413, 422, 500 or 503 (docs/rest.md)",
               "content": {"application/json": {"schema": reference("Error")}}}),
    );
    let mut value = json!({
        "operationId": format!("{} {}", op.method, op.path),
        "summary": op.summary,
        "parameters": parameters(op),
        "responses": responses,
    });
    if let Some(body) = op.body {
        value["requestBody"] = json!({"required": false, "content": {"application/json": {"schema": reference(body)}}});
    }
    if op.path == "/openapi.json" {
        value["security"] = json!([]);
    }
    value
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let entry = paths.entry(op.path).or_insert_with(|| json!({}));
        entry[op.method] = operation(op);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "pgdag REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "See docs/rest.md for what each call does and who may make it.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas(),
        },
    })
}

/// An object with these properties (`{}`: anything) and these required.
fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

fn list_of(key: &str, item: Value) -> Value {
    object(json!({ key: {"type": "array", "items": item} }), &[key])
}

fn schemas() -> Value {
    let string = json!({"type": "string"});
    let nstring = json!({"type": "string", "nullable": true});
    let int = json!({"type": "integer"});
    let nint = json!({"type": "integer", "nullable": true});
    let boolean = json!({"type": "boolean"});
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let task = object(
        json!({"id": int, "name": string, "type": string, "state": string, "attempt": int}),
        &["id", "name", "state"],
    );
    let channel = json!({"type": "object"});
    let entries = [
        ("Any", json!({})),
        (
            "Error",
            object(
                json!({"error": object(json!({"code": string, "message": string}), &["code", "message"])}),
                &["error"],
            ),
        ),
        (
            "Projects",
            list_of(
                "projects",
                object(
                    json!({"name": string, "description": nstring, "workflows": {}}),
                    &["name"],
                ),
            ),
        ),
        ("Project", object(json!({"name": string}), &["name"])),
        (
            "Members",
            list_of(
                "members",
                object(
                    json!({"project": string, "user": string, "access": string}),
                    &["project", "user", "access"],
                ),
            ),
        ),
        (
            "Member",
            object(
                json!({"project": string, "user": string}),
                &["project", "user"],
            ),
        ),
        (
            "Access",
            object(
                json!({"access": {"type": "string", "enum": ["read", "write"]}}),
                &["access"],
            ),
        ),
        (
            "Workflows",
            list_of(
                "workflows",
                object(
                    json!({"code": {}, "name": string, "version": int, "release": string}),
                    &["name", "version"],
                ),
            ),
        ),
        (
            "Applied",
            list_of(
                "applied",
                object(
                    json!({"project": string, "workflow": string, "version": nint, "outcome": string}),
                    &["project", "workflow", "outcome"],
                ),
            ),
        ),
        (
            "Definition",
            object(
                json!({"project": string, "name": string, "version": int, "definition": {}}),
                &["project", "name", "version", "definition"],
            ),
        ),
        (
            "Versions",
            list_of(
                "versions",
                object(
                    json!({"version": int, "spec_hash": string, "current": boolean}),
                    &["version", "current"],
                ),
            ),
        ),
        (
            "Switched",
            object(
                json!({"project": string, "name": string, "version": int}),
                &["project", "name", "version"],
            ),
        ),
        (
            "Run",
            json!({"type": "object", "additionalProperties": false, "properties": {
                "params": {"type": "object"},
                "start_nodes": strings,
                "backfill": {"type": "object"},
                "priority": string,
                "failure_strategy": string,
                "worker_group": string,
            }}),
        ),
        (
            "Started",
            object(
                json!({"instance_ids": {"type": "array", "items": int}, "backfill_id": int}),
                &["instance_ids"],
            ),
        ),
        (
            "Released",
            object(
                json!({"project": string, "name": string, "release": string, "version": int, "outcome": string}),
                &["project", "name", "release"],
            ),
        ),
        (
            "DeletedWorkflow",
            object(
                json!({"deleted": object(json!({"project": string, "workflow": string}), &["project", "workflow"])}),
                &["deleted"],
            ),
        ),
        (
            "DeletedProject",
            object(
                json!({"project": string, "deleted": {"type": "array"}}),
                &["project", "deleted"],
            ),
        ),
        (
            "Backfill",
            object(
                json!({"id": int, "project": string, "workflow": string, "state": string, "dates": {"type": "array"}, "instances": {"type": "array"}}),
                &["id", "state"],
            ),
        ),
        (
            "Cancelled",
            object(
                json!({"backfill_id": int, "state": string}),
                &["backfill_id", "state"],
            ),
        ),
        (
            "Instances",
            list_of(
                "instances",
                object(
                    json!({"id": int, "project": string, "workflow": string, "state": string}),
                    &["id", "state"],
                ),
            ),
        ),
        (
            "Instance",
            object(
                json!({"id": int, "project": string, "workflow": string, "state": string, "tasks": {"type": "array", "items": task}}),
                &["id", "state"],
            ),
        ),
        (
            "Tasks",
            object(
                json!({"tasks": {"type": "array", "items": task}, "next": nint}),
                &["tasks", "next"],
            ),
        ),
        (
            "Control",
            object(
                json!({"instance_id": int, "command_id": int, "command_type": string}),
                &["instance_id", "command_id", "command_type"],
            ),
        ),
        (
            "Log",
            object(
                json!({"text": string, "first_seq": int, "next_seq": int, "finished": boolean}),
                &["text", "next_seq", "finished"],
            ),
        ),
        (
            "TaskCommand",
            object(
                json!({"instance_id": int, "task_instance_id": int, "command_id": int}),
                &["instance_id", "task_instance_id", "command_id"],
            ),
        ),
        ("Times", list_of("times", string.clone())),
        (
            "Schedules",
            list_of(
                "schedules",
                object(
                    json!({"id": int, "project": string, "workflow": string, "cron": string, "timezone": string, "enabled": boolean}),
                    &["id", "project", "workflow", "cron"],
                ),
            ),
        ),
        (
            "NewSchedule",
            object(
                json!({
                    "project": string, "workflow": string, "cron": string, "timezone": string,
                    "start": string, "end": string, "misfire": string, "enabled": boolean,
                }),
                &["project", "workflow", "cron"],
            ),
        ),
        ("Id", object(json!({"id": int}), &["id"])),
        ("Deleted", object(json!({"deleted": {}}), &["deleted"])),
        (
            "Datasources",
            list_of(
                "datasources",
                object(
                    json!({"name": string, "type": string, "has_stored_password": boolean}),
                    &["name", "type"],
                ),
            ),
        ),
        (
            "DatasourceAnswer",
            object(
                json!({"datasource": object(json!({"name": string, "type": string}), &["name", "type"])}),
                &["datasource"],
            ),
        ),
        (
            "Servers",
            list_of(
                "servers",
                object(
                    json!({"id": int, "name": string, "roles": strings, "leader": boolean, "max_tasks": nint}),
                    &["id", "name", "roles"],
                ),
            ),
        ),
        (
            "TaskGroups",
            list_of(
                "task_groups",
                object(
                    json!({"name": string, "size": int, "busy": int, "waiting": int}),
                    &["name", "size"],
                ),
            ),
        ),
        ("Size", object(json!({"size": int}), &["size"])),
        (
            "TaskGroup",
            object(json!({"name": string, "size": int}), &["name", "size"]),
        ),
        (
            "Tenants",
            list_of(
                "tenants",
                object(
                    json!({"name": string, "os_user": string, "projects": strings}),
                    &["name", "os_user"],
                ),
            ),
        ),
        (
            "TenantAnswer",
            object(
                json!({"tenant": object(json!({"name": string, "os_user": string, "projects": strings}), &["name", "os_user"])}),
                &["tenant"],
            ),
        ),
        (
            "Tokens",
            list_of(
                "tokens",
                object(
                    json!({"id": int, "name": nstring, "user": string, "expired": boolean}),
                    &["id", "user"],
                ),
            ),
        ),
        (
            "TokenRequest",
            object(
                json!({"user": string, "name": string, "expires_in": string}),
                &[],
            ),
        ),
        (
            "NewToken",
            object(
                json!({"id": int, "user": string, "name": nstring, "token": string, "expires_at": nstring}),
                &["id", "user", "token"],
            ),
        ),
        (
            "Revoked",
            object(
                json!({"id": int, "user": string, "revoked": boolean}),
                &["id", "revoked"],
            ),
        ),
        (
            "Alerts",
            list_of(
                "alerts",
                object(
                    json!({"id": int, "kind": string, "state": string, "deliveries": {"type": "array"}}),
                    &["id", "kind", "state"],
                ),
            ),
        ),
        (
            "Audit",
            list_of(
                "events",
                object(
                    json!({"id": int, "at": string, "actor": string, "action": string}),
                    &["id", "actor", "action"],
                ),
            ),
        ),
        (
            "AlertGroups",
            list_of(
                "alert_groups",
                object(
                    json!({"name": string, "channels": {"type": "array", "items": channel}}),
                    &["name", "channels"],
                ),
            ),
        ),
        (
            "AlertGroupAnswer",
            object(
                json!({"alert_group": object(json!({"name": string, "channels": {"type": "array"}}), &["name", "channels"])}),
                &["alert_group"],
            ),
        ),
    ];
    Value::Object(
        entries
            .into_iter()
            .map(|(name, schema)| (name.to_string(), schema))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The `(method, path)` of every arm of `route` in mod.rs, read from its source: each
    /// `(M::METHOD, [segments])`, with `"literal"` segments, a name for a path parameter
    /// (shown as `{}`) and `name @ ("a" | "b")` for one route per literal.
    fn routes() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let mut found = BTreeSet::new();
        let mut rest = source;
        while let Some(at) = rest.find("(M::") {
            rest = &rest[at + 4..];
            let method = rest[..rest.find(',').unwrap()].to_lowercase();
            let open = rest.find('[').unwrap();
            let close = rest.find(']').unwrap();
            let mut paths = vec![String::new()];
            for segment in rest[open + 1..close].split(", ") {
                let segment = segment.trim();
                let choices: Vec<String> = if let Some(literal) = segment.strip_prefix('"') {
                    vec![literal.trim_end_matches('"').to_string()]
                } else if let Some((_, alternatives)) = segment.split_once(" @ ") {
                    alternatives
                        .trim_matches(['(', ')'])
                        .split(" | ")
                        .map(|a| a.trim_matches('"').to_string())
                        .collect()
                } else {
                    vec!["{}".to_string()]
                };
                paths = paths
                    .iter()
                    .flat_map(|p| choices.iter().map(move |c| format!("{p}/{c}")))
                    .collect();
            }
            for path in paths {
                found.insert((method.clone(), path));
            }
            rest = &rest[close..];
        }
        found
    }

    fn shape(path: &str) -> String {
        path.split('/')
            .map(|s| if s.starts_with('{') { "{}" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn the_document_has_every_route_of_the_table_and_nothing_else() {
        let table = routes();
        assert!(table.len() > 40, "the route table was read: {table:?}");
        let documented: BTreeSet<(String, String)> = OPERATIONS
            .iter()
            .map(|op| (op.method.to_string(), shape(op.path)))
            .collect();
        assert_eq!(
            documented.len(),
            OPERATIONS.len(),
            "an operation is listed twice"
        );
        let missing: Vec<_> = table.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&table).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "routes without a row in OPERATIONS: {missing:?}; rows without a route: {extra:?}"
        );
    }

    #[test]
    fn every_schema_named_exists_and_path_parameters_are_declared() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for op in OPERATIONS {
            for name in op.body.iter().chain(op.answers.iter().map(|(_, s)| s)) {
                assert!(
                    schemas.contains_key(*name),
                    "{} {}: no schema {name}",
                    op.method,
                    op.path
                );
            }
            let declared = parameters(op).iter().filter(|p| p["in"] == "path").count();
            assert_eq!(declared, op.path.matches('{').count(), "{}", op.path);
        }
        assert_eq!(doc["openapi"], "3.0.3");
    }
}
