select pgdag.client_grant($1, $2, $3)
