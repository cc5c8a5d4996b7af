"""The CRLM registry: database schema, migrations, repository, users, audit, import/export."""
