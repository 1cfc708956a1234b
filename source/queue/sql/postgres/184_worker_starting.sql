-- 184: a worker is registered as `starting` the moment it starts, while its self-check runs (seconds), then
-- beats `idle`: the state's CHECK gains the value, and registering takes the state it is given.

ALTER TABLE wq_workers DROP CONSTRAINT IF EXISTS wq_workers_state_check;
ALTER TABLE wq_workers ADD CONSTRAINT wq_workers_state_check
    CHECK (state IN ('starting', 'idle', 'busy', 'stopping', 'stopped'));

-- wq_register_worker_v1: record a worker at its start (state `starting` or `idle`, default idle); rows last
-- seen more than p_forget_after_seconds ago (long stopped or gone) are dropped on the way.
CREATE OR REPLACE FUNCTION wq_register_worker_v1(p_worker jsonb, p_forget_after_seconds float8)
RETURNS boolean LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_state text := coalesce(p_worker ->> 'state', 'idle');
BEGIN
    IF jsonb_typeof(p_worker) IS DISTINCT FROM 'object' OR coalesce(p_worker ->> 'worker_id', '') = '' THEN
        RAISE EXCEPTION 'a worker needs a worker_id' USING ERRCODE = '22023';
    END IF;
    DELETE FROM wq_workers
    WHERE last_seen_at < clock_timestamp() - make_interval(secs => p_forget_after_seconds);
    INSERT INTO wq_workers AS w (worker_id, host, pid, gpu_name, gpu_memory_total_mb, gpu_memory_used_mb,
                                 engine, model, version, task_types, lease_seconds, state, tasks_run)
    VALUES (p_worker ->> 'worker_id', coalesce(p_worker ->> 'host', '?'), (p_worker ->> 'pid')::integer,
            p_worker ->> 'gpu_name', (p_worker ->> 'gpu_memory_total_mb')::integer,
            (p_worker ->> 'gpu_memory_used_mb')::integer, p_worker ->> 'engine', p_worker ->> 'model',
            p_worker ->> 'version', p_worker ->> 'task_types', (p_worker ->> 'lease_seconds')::float8,
            v_state, 0)
    ON CONFLICT (worker_id) DO UPDATE SET
        host = excluded.host, pid = excluded.pid, gpu_name = excluded.gpu_name,
        gpu_memory_total_mb = excluded.gpu_memory_total_mb, engine = excluded.engine,
        version = excluded.version, task_types = excluded.task_types, lease_seconds = excluded.lease_seconds,
        state = v_state, last_seen_at = clock_timestamp();
    RETURN true;
END $$;

SELECT wq_secure_queue_v1();
