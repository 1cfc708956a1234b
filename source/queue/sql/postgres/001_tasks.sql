-- 001: the tasks table, its dependency edges, and the triggers that keep the dependency counters, the
-- cascades and the wake-up notifications. Rows a client inserts directly (only task_type, params and
-- dependant_on) get an id, a status and timestamps from the defaults and are normalised here.
--
-- `unmet_dependencies` (internal) counts the row's dependencies that are not Complete, so a claim reads
-- one partial index however many rows wait on unfinished parents.

CREATE TABLE IF NOT EXISTS tasks (
    id                 text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    task_type          text NOT NULL,
    params             jsonb NOT NULL DEFAULT '{}'::jsonb,
    status             text NOT NULL DEFAULT 'Queued'
                           CHECK (status IN ('Queued', 'In Progress', 'Complete', 'Failed', 'Cancelled')),
    dependant_on       text,
    run_id             text,
    project_id         text,
    parent_task_id     text,
    awaiting_task_id   text,
    priority           integer NOT NULL DEFAULT 0,
    attempts           integer NOT NULL DEFAULT 0,
    max_attempts       integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    worker_id          text,
    lease_expires_at   timestamptz,
    scheduled_at       timestamptz,
    progress           double precision,
    progress_message   text,
    output_location    text,
    error_message      text,
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at         timestamptz,
    finished_at        timestamptz,
    unmet_dependencies integer NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS task_dependencies (
    task_id    text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    depends_on text NOT NULL,
    PRIMARY KEY (task_id, depends_on)
);

CREATE INDEX IF NOT EXISTS task_dependencies_by_parent ON task_dependencies (depends_on, task_id);
-- The claim walks this index in order.
CREATE INDEX IF NOT EXISTS tasks_claimable ON tasks (priority DESC, created_at, id)
    WHERE status = 'Queued' AND unmet_dependencies = 0;
CREATE INDEX IF NOT EXISTS tasks_leases ON tasks (lease_expires_at) WHERE status = 'In Progress';
CREATE INDEX IF NOT EXISTS tasks_scheduled ON tasks (scheduled_at)
    WHERE status = 'Queued' AND scheduled_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_by_run ON tasks (run_id, created_at);
CREATE INDEX IF NOT EXISTS tasks_by_parent ON tasks (parent_task_id) WHERE parent_task_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_by_awaited ON tasks (awaiting_task_id) WHERE awaiting_task_id IS NOT NULL;

-- wq_parse_dependencies_v1: dependant_on as clients write it (one id, or a JSON list of ids) -> text[].
CREATE OR REPLACE FUNCTION wq_parse_dependencies_v1(p_value text)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
DECLARE
    v_json jsonb;
    v_item jsonb;
    v_ids text[] := '{}';
BEGIN
    IF p_value IS NULL OR btrim(p_value) IN ('', '[]') THEN
        RETURN '{}';
    END IF;
    IF left(btrim(p_value), 1) NOT IN ('[', '"') THEN
        RETURN ARRAY[btrim(p_value)];
    END IF;
    BEGIN
        v_json := p_value::jsonb;
    EXCEPTION WHEN others THEN
        RAISE EXCEPTION 'dependant_on is not valid JSON: %', left(p_value, 80) USING ERRCODE = '22023';
    END;
    IF jsonb_typeof(v_json) = 'string' THEN
        RETURN ARRAY[btrim(v_json #>> '{}')];
    END IF;
    FOR v_item IN SELECT value FROM jsonb_array_elements(v_json) LOOP
        IF jsonb_typeof(v_item) <> 'string' OR btrim(v_item #>> '{}') = '' THEN
            RAISE EXCEPTION 'dependant_on must hold task ids (strings), got %', v_item USING ERRCODE = '22023';
        END IF;
        IF NOT btrim(v_item #>> '{}') = ANY (v_ids) THEN
            v_ids := v_ids || btrim(v_item #>> '{}');
        END IF;
    END LOOP;
    RETURN v_ids;
END $$;

-- wq_tasks_before_insert_v1: normalise dependant_on, refuse unknown dependencies, count the unmet ones,
-- and end the row at once when a dependency already failed or was cancelled. The dependencies are
-- locked (FOR SHARE) so a parent completing concurrently waits and then sees this row's edges.
CREATE OR REPLACE FUNCTION wq_tasks_before_insert_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_deps text[] := wq_parse_dependencies_v1(NEW.dependant_on);
    v_dep record;
    v_found integer := 0;
    v_unmet integer := 0;
    v_missing text;
BEGIN
    NEW.dependant_on := CASE WHEN cardinality(v_deps) = 0 THEN NULL ELSE to_jsonb(v_deps)::text END;
    NEW.unmet_dependencies := 0;
    IF cardinality(v_deps) = 0 THEN
        RETURN NEW;
    END IF;
    IF NEW.id = ANY (v_deps) THEN
        RAISE EXCEPTION 'task % lists itself in dependant_on', NEW.id USING ERRCODE = '22023';
    END IF;
    FOR v_dep IN
        SELECT t.id, t.status, t.error_message FROM tasks AS t
        WHERE t.id = ANY (v_deps) ORDER BY t.id COLLATE "C" FOR SHARE
    LOOP
        v_found := v_found + 1;
        IF v_dep.status <> 'Complete' THEN
            v_unmet := v_unmet + 1;
        END IF;
        IF v_dep.status IN ('Failed', 'Cancelled') AND NEW.status IN ('Queued', 'In Progress') THEN
            NEW.status := v_dep.status;
            NEW.error_message := 'dependency ' || v_dep.id || ' ' || lower(v_dep.status) || ': ' ||
                                 coalesce(v_dep.error_message, lower(v_dep.status));
            NEW.finished_at := now();
        END IF;
    END LOOP;
    IF v_found < cardinality(v_deps) THEN
        SELECT d INTO v_missing FROM unnest(v_deps) AS d
        WHERE NOT EXISTS (SELECT 1 FROM tasks AS t WHERE t.id = d) LIMIT 1;
        RAISE EXCEPTION 'task %: dependant_on names task %, which does not exist (it must exist already or come earlier in the same batch)',
            NEW.id, v_missing USING ERRCODE = '22023';
    END IF;
    NEW.unmet_dependencies := v_unmet;
    RETURN NEW;
END $$;

-- wq_tasks_after_insert_v1: record the new row's dependency edges.
CREATE OR REPLACE FUNCTION wq_tasks_after_insert_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.dependant_on IS NOT NULL THEN
        INSERT INTO task_dependencies (task_id, depends_on)
        SELECT NEW.id, d FROM unnest(wq_parse_dependencies_v1(NEW.dependant_on)) AS d
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

-- wq_notify_v1: wake idle workers (LISTEN wq_tasks); identical notifications in a transaction merge.
CREATE OR REPLACE FUNCTION wq_notify_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pg_notify('wq_tasks', '');
    RETURN NULL;
END $$;

-- wq_reach_v1: the rows still Queued/In Progress that end when p_root ends with p_status: its dependants,
-- the orchestrators awaiting it and, on cancel, the rows it fanned out, transitively; each with the row
-- it waited for (via) and how (relation).
CREATE OR REPLACE FUNCTION wq_reach_v1(p_root text, p_status text)
RETURNS TABLE (id text, via text, relation text)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    WITH RECURSIVE reach(id, via, relation) AS (
        SELECT p_root, NULL::text, NULL::text
        UNION
        SELECT e.id, r.id, e.relation
        FROM reach AS r
        CROSS JOIN LATERAL (
            SELECT d.task_id AS id, 'dependency'::text AS relation
            FROM task_dependencies AS d WHERE d.depends_on = r.id
            UNION ALL
            SELECT t.id, 'awaited task'::text FROM tasks AS t WHERE t.awaiting_task_id = r.id
            UNION ALL
            SELECT t.id, 'parent task'::text FROM tasks AS t
            WHERE p_status = 'Cancelled' AND t.parent_task_id = r.id
        ) AS e
        JOIN tasks AS t ON t.id = e.id
        WHERE t.status IN ('Queued', 'In Progress'))
    SELECT DISTINCT ON (reach.id) reach.id, reach.via, reach.relation
    FROM reach
    WHERE reach.via IS NOT NULL AND reach.id <> p_root
    ORDER BY reach.id, reach.via <> p_root, reach.via COLLATE "C", reach.relation COLLATE "C";
$$;

-- wq_tasks_after_status_v1: a row's status changed. Complete: dependants count one unmet dependency
-- less and awaiting orchestrators complete with its output (their own trigger carries it further).
-- Failed/Cancelled: everything wq_reach_v1 finds ends the same way, naming the row it waited for.
CREATE OR REPLACE FUNCTION wq_tasks_after_status_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_verb text := lower(NEW.status);
BEGIN
    IF NEW.status = 'Complete' AND OLD.status <> 'Complete' THEN
        UPDATE tasks SET unmet_dependencies = unmet_dependencies - 1
        WHERE tasks.id IN (SELECT d.task_id FROM task_dependencies AS d WHERE d.depends_on = NEW.id);
        UPDATE tasks SET status = 'Complete', output_location = NEW.output_location, error_message = NULL,
                         progress = 1.0, lease_expires_at = NULL, finished_at = now(), updated_at = now()
        WHERE tasks.awaiting_task_id = NEW.id AND tasks.status = 'In Progress';
    ELSIF OLD.status = 'Complete' AND NEW.status <> 'Complete' THEN
        UPDATE tasks SET unmet_dependencies = unmet_dependencies + 1
        WHERE tasks.id IN (SELECT d.task_id FROM task_dependencies AS d WHERE d.depends_on = NEW.id);
    END IF;
    IF NEW.status IN ('Failed', 'Cancelled') AND OLD.status IN ('Queued', 'In Progress') THEN
        UPDATE tasks SET
            status = NEW.status,
            error_message = r.relation || ' ' || r.via || ' ' || v_verb || ': ' ||
                CASE WHEN r.via = NEW.id THEN '' ELSE NEW.id || ' ' || v_verb || ': ' END ||
                coalesce(NEW.error_message, v_verb),
            lease_expires_at = NULL,
            finished_at = now(),
            updated_at = now()
        FROM wq_reach_v1(NEW.id, NEW.status) AS r
        WHERE tasks.id = r.id AND tasks.status IN ('Queued', 'In Progress');
    END IF;
    IF NEW.status IN ('Queued', 'Complete', 'Cancelled') THEN
        PERFORM pg_notify('wq_tasks', '');
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS tasks_before_insert ON tasks;
CREATE TRIGGER tasks_before_insert BEFORE INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION wq_tasks_before_insert_v1();
DROP TRIGGER IF EXISTS tasks_after_insert ON tasks;
CREATE TRIGGER tasks_after_insert AFTER INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION wq_tasks_after_insert_v1();
DROP TRIGGER IF EXISTS tasks_notify_insert ON tasks;
CREATE TRIGGER tasks_notify_insert AFTER INSERT ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION wq_notify_v1();
DROP TRIGGER IF EXISTS tasks_after_status ON tasks;
CREATE TRIGGER tasks_after_status AFTER UPDATE OF status ON tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION wq_tasks_after_status_v1();
