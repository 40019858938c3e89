-- A successful login from an address: the attempt it took was not a failure.
update pgdag.login_throttle set failures = greatest(failures - 1, 0) where key = $1
