-- The database role pgwalstreams connects as, and the publication it reads. Run once, as a
-- superuser, in the database pgwalstreams streams from (here `app`).
--
-- The same statements are the bitnami init script in deploy/k8s/postgres-values.yaml
-- (primary.initdb.scripts) and run at first start of docker-compose.yml's postgres;
-- test/deploy/deploy.test.ts checks that the copies are identical.
--
-- The password is for local development only; it matches the Secret in
-- deploy/k8s/pgwalstreams.yaml and the environment in docker-compose.yml. Anywhere else, create
-- the role with a password of your own (or ALTER ROLE pgwalstreams PASSWORD ...).

-- LOGIN and REPLICATION, nothing more: not a superuser, cannot create roles or databases.
-- REPLICATION is what lets it open a replication connection and use a logical slot.
CREATE ROLE pgwalstreams WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE
  PASSWORD 'pgwalstreams-dev-password';

-- Logical replication connects to one database: the role must be allowed to connect to it.
GRANT CONNECT ON DATABASE app TO pgwalstreams;

-- Read access to the published tables, as PostgreSQL asks of a replication role (SELECT on
-- published tables), for the tables that exist now and those the owner creates later. If your
-- application creates tables as another role, repeat the last line FOR ROLE <that role>.
GRANT USAGE ON SCHEMA public TO pgwalstreams;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgwalstreams;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO pgwalstreams;

-- The publication pgwalstreams reads (its default name). FOR ALL TABLES needs a superuser, so it is
-- created here rather than by pgwalstreams at start, which would fail as a non-superuser. It also
-- covers tables created later. For a narrower set, use FOR TABLE ... instead and recreate the slot.
CREATE PUBLICATION "wal-listener" FOR ALL TABLES;
