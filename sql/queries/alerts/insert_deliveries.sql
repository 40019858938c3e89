insert into pgdag.alert_delivery (alert_id, alert_group, channel_index, channel_type, channel, secret)
select * from unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::jsonb[], $6::bytea[])
