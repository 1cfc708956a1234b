-- Supabase security: who may touch the queue through PostgREST.
--
-- A Supabase project exposes every table and function of the `public` schema over its REST API, and
-- its default privileges grant them to `anon` and `authenticated` (the keys shipped to browsers). Here:
--   * row-level security is enabled on the queue's tables with no policy for anon/authenticated, and
--     their table privileges are revoked: the anon key can neither read nor change rows (service_role
--     bypasses RLS and keeps table privileges, so an app holding the service key can insert rows);
--   * every queue function (wq_*) is SECURITY DEFINER with a fixed search_path (so a caller's
--     search_path cannot redirect the names inside it), and only `service_role` (and the role that ran
--     the migrations, which the `postgres` backend uses) may execute it.
--
-- Harmless for plain PostgreSQL (the `postgres` backend applies every migration): the Supabase roles
-- are created when missing and the migrating role may create roles, else skipped with a notice; the
-- table owner is not subject to RLS (not FORCEd), and SECURITY DEFINER runs as that same owner.
--
-- Numbered 090 so it runs after the queue's functions. A later migration that adds a wq_* function
-- ends with `SELECT wq_secure_queue_v1();` to give it the same treatment. (005_pending_count.sql
-- and 080_rpc_wakeup.sql come before this file, so it covers them.)

DO $roles$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', role_name);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN NULL;  -- created concurrently
                WHEN insufficient_privilege THEN
                    RAISE NOTICE 'role % is missing and cannot be created here; skipped', role_name;
            END;
        END IF;
    END LOOP;
    -- service_role must see every row through RLS (Supabase creates it so).
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role' AND NOT rolbypassrls) THEN
        BEGIN
            ALTER ROLE service_role BYPASSRLS;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'service_role lacks BYPASSRLS and it cannot be granted here';
        END;
    END IF;
END
$roles$;


-- Not itself SECURITY DEFINER (it is excluded from the loop below): only the migrating role runs it.
CREATE OR REPLACE FUNCTION wq_secure_queue_v1(target_schema text DEFAULT current_schema()) RETURNS void
LANGUAGE plpgsql
AS $fn$
DECLARE
    -- pg_catalog first: nothing created in the schema can shadow a built-in (now(), count(), ...)
    fixed_path text := format('pg_catalog, %I, pg_temp', target_schema);
    item record;
    grantee text;
    has_role boolean;
BEGIN
    -- Tables: RLS on, no policy for the client roles, their privileges revoked.
    FOR item IN
        SELECT c.oid::regclass AS rel
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = target_schema AND c.relkind IN ('r', 'p')
           AND (c.relname IN ('tasks', 'task_dependencies', 'queue_migrations') OR c.relname LIKE 'wq\_%')
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', item.rel);
        EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', item.rel);
        FOREACH grantee IN ARRAY ARRAY['anon', 'authenticated'] LOOP
            SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee) INTO has_role;
            CONTINUE WHEN NOT has_role;
            EXECUTE format('REVOKE ALL ON TABLE %s FROM %I', item.rel, grantee);
        END LOOP;
        -- An app holding the service key may still read rows or insert them directly (as clients of
        -- the original tool do); workers go through the functions, which carry the fencing.
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO service_role', item.rel);
        END IF;
    END LOOP;

    -- Sequences: not for client roles either (the wq_* functions use them as their owner).
    FOR item IN
        SELECT c.oid::regclass AS rel
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = target_schema AND c.relkind = 'S' AND c.relname LIKE 'wq\_%'
    LOOP
        EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM PUBLIC', item.rel);
        FOREACH grantee IN ARRAY ARRAY['anon', 'authenticated'] LOOP
            SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee) INTO has_role;
            CONTINUE WHEN NOT has_role;
            EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM %I', item.rel, grantee);
        END LOOP;
    END LOOP;

    -- Functions: SECURITY DEFINER, fixed search_path, execute for service_role and the migrating role.
    FOR item IN
        SELECT p.oid::regprocedure AS fn, p.prokind
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = target_schema AND p.proname LIKE 'wq\_%'
           AND p.prokind IN ('f', 'p') AND p.proname <> 'wq_secure_queue_v1'
    LOOP
        IF item.prokind = 'p' THEN
            EXECUTE format('ALTER PROCEDURE %s SECURITY DEFINER SET search_path = %s', item.fn, fixed_path);
        ELSE
            EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %s', item.fn, fixed_path);
        END IF;
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', item.fn);
        FOREACH grantee IN ARRAY ARRAY['anon', 'authenticated'] LOOP
            SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee) INTO has_role;
            CONTINUE WHEN NOT has_role;
            EXECUTE format('REVOKE ALL ON ROUTINE %s FROM %I', item.fn, grantee);
        END LOOP;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
            EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO service_role', item.fn);
        END IF;
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %I', item.fn, current_user);
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION wq_secure_queue_v1(text) FROM PUBLIC;
DO $revoke$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('REVOKE ALL ON FUNCTION wq_secure_queue_v1(text) FROM %I', role_name);
        END IF;
    END LOOP;
END
$revoke$;

SELECT wq_secure_queue_v1();

-- PostgREST caches the schema; this makes it see the functions at once (Supabase also reloads on DDL).
NOTIFY pgrst, 'reload schema';
