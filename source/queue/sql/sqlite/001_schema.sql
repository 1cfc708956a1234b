-- SQLite schema of the task queue, version 1.
--
-- `tasks` holds exactly the columns of source/queue/model.py COLUMNS plus one internal counter,
-- `unmet_dependencies` (how many of the row's dependencies are not Complete), kept by triggers so that
-- a claim reads one partial index however many rows wait on unfinished parents.
-- Timestamps are UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (sortable as text). The backend writes them
-- with microseconds; the triggers below (and defaults for rows a client inserts directly) use SQLite's
-- clock, which has millisecond resolution, padded to the same shape.
--
-- Rows inserted directly by a client (only task_type, params and dependant_on given) work: the id, the
-- status and the timestamps have defaults, and the insert trigger normalises dependant_on (one id or a
-- JSON list) and records the dependency edges.
--
-- The triggers do all their work in one pass (recursive CTEs) and never rely on recursive_triggers.

CREATE TABLE IF NOT EXISTS tasks (
    id                 TEXT PRIMARY KEY NOT NULL DEFAULT (
                           lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
                           substr(lower(hex(randomblob(2))), 2) || '-' ||
                           substr('89ab', 1 + (abs(random()) % 4), 1) ||
                           substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
    task_type          TEXT NOT NULL,
    params             TEXT NOT NULL DEFAULT '{}',
    status             TEXT NOT NULL DEFAULT 'Queued'
                           CHECK (status IN ('Queued', 'In Progress', 'Complete', 'Failed', 'Cancelled')),
    dependant_on       TEXT,
    run_id             TEXT,
    project_id         TEXT,
    parent_task_id     TEXT,
    awaiting_task_id   TEXT,
    priority           INTEGER NOT NULL DEFAULT 0,
    attempts           INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER NOT NULL DEFAULT 3,
    worker_id          TEXT,
    lease_expires_at   TEXT,
    scheduled_at       TEXT,
    progress           REAL,
    progress_message   TEXT,
    output_location    TEXT,
    error_message      TEXT,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'),
    started_at         TEXT,
    finished_at        TEXT,
    unmet_dependencies INTEGER NOT NULL DEFAULT 0
);

-- One edge per (row, dependency).
CREATE TABLE IF NOT EXISTS task_dependencies (
    task_id    TEXT NOT NULL,
    depends_on TEXT NOT NULL,
    PRIMARY KEY (task_id, depends_on)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS task_dependencies_by_parent ON task_dependencies (depends_on, task_id);

-- The claim reads this index in order (rowid breaks created_at ties: insertion order).
CREATE INDEX IF NOT EXISTS tasks_claimable ON tasks (priority DESC, created_at)
    WHERE status = 'Queued' AND unmet_dependencies = 0;
CREATE INDEX IF NOT EXISTS tasks_leases ON tasks (lease_expires_at) WHERE status = 'In Progress';
CREATE INDEX IF NOT EXISTS tasks_scheduled ON tasks (scheduled_at)
    WHERE status = 'Queued' AND scheduled_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_by_run ON tasks (run_id, created_at);
CREATE INDEX IF NOT EXISTS tasks_by_parent ON tasks (parent_task_id) WHERE parent_task_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_by_awaited ON tasks (awaiting_task_id) WHERE awaiting_task_id IS NOT NULL;

-- New row: normalise dependant_on, refuse unknown dependencies, record edges, count the unmet ones, and
-- end the row at once when a dependency already failed or was cancelled.
CREATE TRIGGER IF NOT EXISTS tasks_after_insert AFTER INSERT ON tasks
BEGIN
    UPDATE tasks SET dependant_on = CASE
            WHEN NEW.dependant_on IS NULL OR trim(NEW.dependant_on) IN ('', '[]') THEN NULL
            WHEN json_valid(NEW.dependant_on) AND json_type(NEW.dependant_on) = 'array'
                THEN json(NEW.dependant_on)
            WHEN json_valid(NEW.dependant_on) AND json_type(NEW.dependant_on) = 'text'
                THEN json_array(trim(json_extract(NEW.dependant_on, '$')))
            ELSE json_array(trim(NEW.dependant_on))
        END
    WHERE id = NEW.id AND NEW.dependant_on IS NOT NULL;

    SELECT RAISE(ABORT, 'dependant_on names a task that does not exist (or the task itself)')
    WHERE EXISTS (
        SELECT 1 FROM json_each((SELECT dependant_on FROM tasks WHERE id = NEW.id)) AS dep
        WHERE dep.value = NEW.id OR NOT EXISTS (SELECT 1 FROM tasks AS p WHERE p.id = dep.value));

    INSERT OR IGNORE INTO task_dependencies (task_id, depends_on)
    SELECT NEW.id, dep.value FROM json_each((SELECT dependant_on FROM tasks WHERE id = NEW.id)) AS dep;

    UPDATE tasks SET unmet_dependencies = (
        SELECT count(*) FROM task_dependencies AS d JOIN tasks AS p ON p.id = d.depends_on
        WHERE d.task_id = NEW.id AND p.status <> 'Complete')
    WHERE id = NEW.id AND dependant_on IS NOT NULL;

    UPDATE tasks SET
        (status, error_message) = (
            SELECT p.status, 'dependency ' || p.id || ' ' || lower(p.status) || ': ' ||
                             coalesce(p.error_message, lower(p.status))
            FROM task_dependencies AS d JOIN tasks AS p ON p.id = d.depends_on
            WHERE d.task_id = NEW.id AND p.status IN ('Failed', 'Cancelled')
            ORDER BY p.id LIMIT 1),
        finished_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000',
        updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'
    WHERE id = NEW.id AND status IN ('Queued', 'In Progress') AND EXISTS (
        SELECT 1 FROM task_dependencies AS d JOIN tasks AS p ON p.id = d.depends_on
        WHERE d.task_id = NEW.id AND p.status IN ('Failed', 'Cancelled'));
END;

-- A row became Complete (or stopped being Complete): orchestrators awaiting it complete with its output
-- (transitively), and the dependants of all of them are recounted (a recount is idempotent).
CREATE TRIGGER IF NOT EXISTS tasks_after_complete AFTER UPDATE OF status ON tasks
WHEN (NEW.status = 'Complete') <> (OLD.status = 'Complete')
BEGIN
    UPDATE tasks SET
        status = 'Complete',
        output_location = NEW.output_location,
        error_message = NULL,
        progress = 1.0,
        lease_expires_at = NULL,
        finished_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000',
        updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'
    WHERE NEW.status = 'Complete' AND status = 'In Progress' AND id IN (SELECT id FROM (
        WITH RECURSIVE waiting(id) AS (
            SELECT t.id FROM tasks AS t WHERE t.awaiting_task_id = NEW.id AND t.status = 'In Progress'
            UNION
            SELECT t.id FROM tasks AS t JOIN waiting AS w ON t.awaiting_task_id = w.id
            WHERE t.status = 'In Progress')
        SELECT id FROM waiting));

    UPDATE tasks SET unmet_dependencies = (
        SELECT count(*) FROM task_dependencies AS d JOIN tasks AS p ON p.id = d.depends_on
        WHERE d.task_id = tasks.id AND p.status <> 'Complete')
    WHERE id IN (SELECT d.task_id FROM task_dependencies AS d WHERE d.depends_on IN (SELECT id FROM (
        WITH RECURSIVE ended(id) AS (
            SELECT NEW.id
            UNION
            SELECT t.id FROM tasks AS t JOIN ended AS e ON t.awaiting_task_id = e.id
            WHERE NEW.status = 'Complete' AND t.status = 'Complete')
        SELECT id FROM ended)));
END;

-- A row Failed or was Cancelled: every row still Queued or In Progress that depends on it, awaits it,
-- or (on cancel) was fanned out by it, transitively, ends the same way, naming the row it waited for
-- and the row where it started.
CREATE TRIGGER IF NOT EXISTS tasks_after_end AFTER UPDATE OF status ON tasks
WHEN NEW.status IN ('Failed', 'Cancelled') AND OLD.status IN ('Queued', 'In Progress')
BEGIN
    UPDATE tasks SET
        status = NEW.status,
        error_message = c.relation || ' ' || c.via || ' ' || lower(NEW.status) || ': ' ||
            CASE WHEN c.via = NEW.id THEN '' ELSE NEW.id || ' ' || lower(NEW.status) || ': ' END ||
            coalesce(NEW.error_message, lower(NEW.status)),
        lease_expires_at = NULL,
        finished_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000',
        updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'
    FROM (
        SELECT id, via, relation FROM (
            SELECT id, via, relation,
                   row_number() OVER (PARTITION BY id ORDER BY via <> NEW.id, via, relation) AS pick
            FROM (
                WITH RECURSIVE reach(id, via, relation) AS (
                    SELECT NEW.id, NULL, NULL
                    UNION
                    SELECT d.task_id, r.id, 'dependency'
                    FROM reach AS r JOIN task_dependencies AS d ON d.depends_on = r.id
                    JOIN tasks AS t ON t.id = d.task_id
                    WHERE t.status IN ('Queued', 'In Progress')
                    UNION
                    SELECT t.id, r.id, 'awaited task'
                    FROM reach AS r JOIN tasks AS t ON t.awaiting_task_id = r.id
                    WHERE t.status IN ('Queued', 'In Progress')
                    UNION
                    SELECT t.id, r.id, 'parent task'
                    FROM reach AS r JOIN tasks AS t ON t.parent_task_id = r.id
                    WHERE NEW.status = 'Cancelled' AND t.status IN ('Queued', 'In Progress'))
                SELECT id, via, relation FROM reach WHERE via IS NOT NULL AND id <> NEW.id))
        WHERE pick = 1) AS c
    WHERE tasks.id = c.id AND tasks.status IN ('Queued', 'In Progress');
END;
