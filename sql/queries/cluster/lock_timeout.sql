-- For the rest of this transaction: give up on a lock after this long (a text interval).
select set_config('lock_timeout', $1, true)
