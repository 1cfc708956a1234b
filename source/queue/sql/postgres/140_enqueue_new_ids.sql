-- 140: enqueue refuses an id that exists already (wq_enqueue_v1 left the existing row as it was and
-- answered as if it had inserted one). Fan-out keeps leaving existing ids alone (wq_insert_tasks_v1),
-- which makes a re-run orchestrator insert nothing twice.

-- wq_enqueue_v2: insert a batch of rows in one transaction; returns their ids; an id that exists (or
-- comes twice in the batch) is refused, 22023, nothing written.
CREATE OR REPLACE FUNCTION wq_enqueue_v2(p_tasks jsonb)
RETURNS text[] LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_id text;
    v_ids text[];
BEGIN
    IF p_tasks IS NULL OR jsonb_typeof(p_tasks) <> 'array' THEN
        RAISE EXCEPTION 'tasks must be a JSON array of task objects' USING ERRCODE = '22023';
    END IF;
    -- the ids as wq_insert_tasks_v1 and the tasks_assign_id trigger will make them
    SELECT array_agg(CASE WHEN jsonb_typeof(item -> 'params' -> 'task_id') = 'string'
                               AND btrim(item -> 'params' ->> 'task_id') <> ''
                          THEN btrim(item -> 'params' ->> 'task_id')
                          ELSE nullif(btrim(item ->> 'id'), '') END ORDER BY position)
    INTO v_ids
    FROM jsonb_array_elements(p_tasks) WITH ORDINALITY AS given(item, position)
    WHERE jsonb_typeof(item) = 'object';
    FOREACH v_id IN ARRAY coalesce(v_ids, '{}') LOOP
        CONTINUE WHEN v_id IS NULL;
        -- one enqueue of an id at a time, so two at once cannot both find it free
        PERFORM pg_advisory_xact_lock(hashtextextended('wq_enqueue:' || v_id, 0));
        IF EXISTS (SELECT 1 FROM tasks WHERE id = v_id)
           OR (SELECT count(*) FROM unnest(v_ids) AS other(id) WHERE other.id = v_id) > 1 THEN
            RAISE EXCEPTION 'a task with id % already exists', v_id USING ERRCODE = '22023';
        END IF;
    END LOOP;
    RETURN wq_insert_tasks_v1(p_tasks);
END $$;

-- its call (queries.sql: enqueue) is wq_enqueue_v2 now
DROP FUNCTION IF EXISTS wq_enqueue_v1(jsonb);

SELECT wq_secure_queue_v1();
