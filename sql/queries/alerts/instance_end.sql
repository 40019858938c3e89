-- The instance ended and its workflow's `notify` asks for an alert.
insert into pgdag.alert (kind, workflow_instance_id, alert_group, payload)
values ('workflow_end', $1, $2,
        jsonb_build_object('instance', pgdag.alert_instance_context($1),
                           'failed_tasks', pgdag.alert_failed_tasks($1, $3)))
