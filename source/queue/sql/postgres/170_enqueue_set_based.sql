-- 170: enqueue checks and inserts a batch with set-based statements, so its cost grows with the batch
-- (wq_enqueue_v2 compared every id with the whole id list and took one lock per id: 8,000 rows took
-- seconds). Same refusals, same messages, nothing written when one is refused.

-- wq_enqueue_v3: insert a batch of rows in one transaction; returns their ids, in order (the id a row
-- got: params.task_id when it has one, as the tasks_assign_id trigger makes it). Refused with 22023,
-- nothing written: a malformed item (the first one, with wq_insert_tasks_v1's message), an id that
-- comes twice in the batch or exists already (the first such id in the batch's order).
CREATE OR REPLACE FUNCTION wq_enqueue_v3(p_tasks jsonb)
RETURNS text[] LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_bad record;
    v_id text;
    v_given text[];
    v_ids text[];
BEGIN
    IF p_tasks IS NULL OR jsonb_typeof(p_tasks) <> 'array' THEN
        RAISE EXCEPTION 'tasks must be a JSON array of task objects' USING ERRCODE = '22023';
    END IF;

    -- the first malformed item (one pass)
    SELECT item,
           CASE WHEN jsonb_typeof(item) <> 'object' THEN 'object'
                WHEN jsonb_typeof(item -> 'task_type') IS DISTINCT FROM 'string'
                     OR btrim(item ->> 'task_type') = '' THEN 'task_type'
                ELSE 'params' END AS problem
    INTO v_bad
    FROM jsonb_array_elements(p_tasks) WITH ORDINALITY AS given(item, position)
    WHERE jsonb_typeof(item) <> 'object'
       OR jsonb_typeof(item -> 'task_type') IS DISTINCT FROM 'string' OR btrim(item ->> 'task_type') = ''
       OR (item ? 'params' AND jsonb_typeof(item -> 'params') NOT IN ('object', 'null'))
    ORDER BY position LIMIT 1;
    IF FOUND THEN
        IF v_bad.problem = 'object' THEN
            RAISE EXCEPTION 'each task must be a JSON object, got %', left(v_bad.item::text, 80)
                USING ERRCODE = '22023';
        ELSIF v_bad.problem = 'task_type' THEN
            RAISE EXCEPTION 'task_type must be a non-empty string' USING ERRCODE = '22023';
        END IF;
        RAISE EXCEPTION 'params must be a JSON object, got %', jsonb_typeof(v_bad.item -> 'params')
            USING ERRCODE = '22023';
    END IF;

    -- the ids as the rows will get them: params.task_id (the tasks_assign_id trigger), else the item's
    -- id; NULL: a new one is made at the insert
    SELECT array_agg(CASE WHEN jsonb_typeof(item -> 'params' -> 'task_id') = 'string'
                               AND btrim(item -> 'params' ->> 'task_id') <> ''
                          THEN btrim(item -> 'params' ->> 'task_id')
                          ELSE nullif(btrim(item ->> 'id'), '') END ORDER BY position)
    INTO v_given
    FROM jsonb_array_elements(p_tasks) WITH ORDINALITY AS given(item, position);

    -- an id twice in the batch (one grouping)
    SELECT id INTO v_id
    FROM unnest(v_given) WITH ORDINALITY AS batch(id, position)
    WHERE id IS NOT NULL
    GROUP BY id HAVING count(*) > 1
    ORDER BY min(position) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a task with id % already exists', v_id USING ERRCODE = '22023';
    END IF;

    BEGIN
        -- an id already in the table (one join on the primary key)
        SELECT batch.id INTO v_id
        FROM unnest(v_given) WITH ORDINALITY AS batch(id, position)
        JOIN tasks AS t ON t.id = batch.id
        ORDER BY batch.position LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'a task with id % already exists', v_id USING ERRCODE = '22023';
        END IF;
        -- the insert: one statement, in the batch's order (a row may depend on one before it)
        WITH batch AS MATERIALIZED (
            SELECT given.position, given.item, coalesce(ids.id, gen_random_uuid()::text) AS id
            FROM jsonb_array_elements(p_tasks) WITH ORDINALITY AS given(item, position)
            JOIN unnest(v_given) WITH ORDINALITY AS ids(id, position) ON ids.position = given.position
        ), inserted AS (
            INSERT INTO tasks (id, task_type, params, dependant_on, run_id, project_id, parent_task_id,
                               priority, max_attempts)
            SELECT id,
                   item ->> 'task_type',
                   coalesce(nullif(item -> 'params', 'null'::jsonb), '{}'::jsonb),
                   CASE WHEN item -> 'dependant_on' IS NULL OR jsonb_typeof(item -> 'dependant_on') = 'null' THEN NULL
                        WHEN jsonb_typeof(item -> 'dependant_on') = 'string' THEN item #>> '{dependant_on}'
                        ELSE (item -> 'dependant_on')::text END,
                   item ->> 'run_id',
                   item ->> 'project_id',
                   item ->> 'parent_task_id',
                   coalesce((item ->> 'priority')::integer, 0),
                   coalesce((item ->> 'max_attempts')::integer, 3)
            FROM batch ORDER BY position
            RETURNING 1
        )
        SELECT array_agg(id ORDER BY position) INTO v_ids FROM batch;
    EXCEPTION WHEN unique_violation THEN
        -- another transaction inserted one of these ids after the check and committed first
        SELECT batch.id INTO v_id
        FROM unnest(v_given) WITH ORDINALITY AS batch(id, position)
        JOIN tasks AS t ON t.id = batch.id
        ORDER BY batch.position LIMIT 1;
        RAISE EXCEPTION 'a task with id % already exists', coalesce(v_id, '(one of the batch)') USING ERRCODE = '22023';
    END;
    RETURN coalesce(v_ids, '{}');
END $$;

-- its call (queries.sql: enqueue) is wq_enqueue_v3 now
DROP FUNCTION IF EXISTS wq_enqueue_v2(jsonb);

SELECT wq_secure_queue_v1();
