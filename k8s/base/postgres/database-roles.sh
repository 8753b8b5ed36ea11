#!/usr/bin/env bash
# Makes each service's role and database (see database-roles.yaml). Safe to run again: it only
# creates what is missing and sets each role's password and limits to what the secrets say.
set -euo pipefail
until pg_isready -q; do sleep 2; done
for service in $SERVICES; do
  name="piaoju_${service//-/_}"
  password=$(cat "${PASSWORDS_DIR:-/passwords}/$service")
  psql -v ON_ERROR_STOP=1 -q -d postgres -v name="$name" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'name') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', :'name', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'name', :'name') \gexec
SQL
  echo "role and database $name ready"
done
