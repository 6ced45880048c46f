-- Runs once, when the postgres container initialises an empty data directory
-- (/docker-entrypoint-initdb.d, as the superuser from POSTGRES_USER).
--
-- Plugboard must NOT connect as a superuser: superusers (and BYPASSRLS roles) bypass
-- row-level security, the database's own guard of tenant isolation. So the app gets a
-- plain login role that owns its database and nothing else. The migrations then create
-- the tables as that role, and FORCE ROW LEVEL SECURITY makes the owner obey the policies.
--
-- The password comes from the container's POSTGRES_APP_PASSWORD variable (\getenv needs
-- psql 15 or newer, which the postgres:16 image has).

\set ON_ERROR_STOP on
\set app_password ''
\getenv app_password POSTGRES_APP_PASSWORD

SELECT :'app_password' = '' AS missing_password \gset
\if :missing_password
  -- Fail the first start loudly rather than create a role nobody can log in as.
  DO $$ BEGIN
    RAISE EXCEPTION 'POSTGRES_APP_PASSWORD is empty: set it in .env, then remove the '
      'postgres volume and start again';
  END $$;
\endif

CREATE ROLE plugboard LOGIN PASSWORD :'app_password'
  NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;

CREATE DATABASE plugboard OWNER plugboard ENCODING 'UTF8' TEMPLATE template0;

-- Nobody else may connect to or create objects in the app's database.
REVOKE ALL ON DATABASE plugboard FROM PUBLIC;

\connect plugboard
-- Since PostgreSQL 15 the public schema belongs to the database owner and PUBLIC cannot
-- create in it; say so explicitly so the intent survives older servers too.
ALTER SCHEMA public OWNER TO plugboard;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
