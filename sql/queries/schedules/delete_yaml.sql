delete from pgdag.schedule where workflow_code = $1 and source = 'yaml'
