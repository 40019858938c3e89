-- Session-level, as SET would be, but preparable: $1 is in milliseconds, as text.
select set_config('idle_session_timeout', $1, false)
