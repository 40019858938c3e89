select pgdag.client_revoke($1, $2, $3)
