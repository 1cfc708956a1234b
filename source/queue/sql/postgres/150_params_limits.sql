-- 150: params past the size limits (source/queue/model.py: MAX_PARAMS_DEPTH, MAX_PARAMS_BYTES) are
-- refused when a row is written, whoever writes it (an app inserting into the table directly too), with
-- the message the clients give. A reader could not decode such a row (too deep for its JSON parser).

-- wq_tasks_check_params_v1: 22023 when NEW.params nests more than 32 levels or is over 1 MiB of JSON.
CREATE OR REPLACE FUNCTION wq_tasks_check_params_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_size integer;
BEGIN
    -- an object or list at level 32 below the top one is the 33rd level
    IF jsonb_path_exists(NEW.params, 'strict $.**{32} ? (@.type() == "array" || @.type() == "object")') THEN
        RAISE EXCEPTION 'params are nested more than 32 levels deep (the limit)' USING ERRCODE = '22023';
    END IF;
    v_size := octet_length(NEW.params::text);
    IF v_size > 1048576 THEN
        RAISE EXCEPTION 'params are % bytes of JSON, above the limit of 1048576 (give large inputs as files)',
            v_size USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS tasks_check_params ON tasks;
CREATE TRIGGER tasks_check_params BEFORE INSERT OR UPDATE OF params ON tasks
    FOR EACH ROW EXECUTE FUNCTION wq_tasks_check_params_v1();

SELECT wq_secure_queue_v1();
