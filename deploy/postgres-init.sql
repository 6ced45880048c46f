-- Runs once, when the postgres container initialises an empty data directory
-- (/docker-entrypoint-initdb.d, as the superuser from POSTGRES_USER). Outside Docker, run
-- it the same way: `POSTGRES_OWNER_PASSWORD=… POSTGRES_APP_PASSWORD=… psql -U postgres
-- -f deploy/postgres-init.sql` (psql 15 or newer: it reads the environment with \getenv).
--
-- Two roles, neither a superuser (superusers and BYPASSRLS roles bypass row-level
-- security, the database's own guard between tenants):
--
--   plugboard_owner  owns the database, the schema and every table. Only migrations
--                    (`plugboard db upgrade`, the compose `migrate` service) use it.
--   plugboard        the api, worker and cron. It may read and write rows (SELECT,
--                    INSERT, UPDATE, DELETE) and nothing else: it cannot create, alter or
--                    drop a table, so no app or plugin SQL can switch row-level security
--                    off (`ALTER TABLE … NO FORCE ROW LEVEL SECURITY`) or drop a policy.
--                    Default privileges extend the grants to the tables plugins' migrations
--                    create later. Its statements and idle transactions are time-limited.
--
-- Row-level security stops a forgotten tenant filter; it does not stop hostile SQL run as
-- a role that may set `plugboard.all_tenants` (as the app role may): plugins are code you
-- trust (see docs/operations.md#database-roles).
--
-- Every name and limit below can be changed from the container's environment.

\set ON_ERROR_STOP on
\set owner_role plugboard_owner
\set app_role plugboard
\set db plugboard
\set owner_password ''
\set app_password ''
\set app_statement_timeout 30s
\set app_idle_timeout 60s
\getenv owner_role POSTGRES_OWNER_USER
\getenv app_role POSTGRES_APP_USER
\getenv db POSTGRES_APP_DB
\getenv owner_password POSTGRES_OWNER_PASSWORD
\getenv app_password POSTGRES_APP_PASSWORD
\getenv app_statement_timeout POSTGRES_APP_STATEMENT_TIMEOUT
\getenv app_idle_timeout POSTGRES_APP_IDLE_IN_TRANSACTION_TIMEOUT

SELECT :'owner_password' = '' OR :'app_password' = '' AS missing_password \gset
\if :missing_password
  -- Fail the first start loudly rather than create roles nobody can log in as.
  DO $$ BEGIN
    RAISE EXCEPTION 'POSTGRES_OWNER_PASSWORD or POSTGRES_APP_PASSWORD is empty: set both '
      'in .env, then remove the postgres volume and start again';
  END $$;
\endif

CREATE ROLE :"owner_role" LOGIN PASSWORD :'owner_password'
  NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE ROLE :"app_role" LOGIN PASSWORD :'app_password'
  NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
-- A runaway query or a transaction left open by a bug holds locks and a connection;
-- end them instead (a migration's role has no such limit).
ALTER ROLE :"app_role" SET statement_timeout = :'app_statement_timeout';
ALTER ROLE :"app_role" SET idle_in_transaction_session_timeout = :'app_idle_timeout';

CREATE DATABASE :"db" OWNER :"owner_role" ENCODING 'UTF8' TEMPLATE template0;
-- Nobody else may connect to or create objects in the app's database.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app_role";

\connect :"db"
-- Since PostgreSQL 15 the public schema belongs to the database owner and PUBLIC cannot
-- create in it; say so explicitly so the intent survives older servers too.
ALTER SCHEMA public OWNER TO :"owner_role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app_role";
-- Rows, not tables: for every table and sequence the owner creates from now on.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA public
  GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO :"app_role";
