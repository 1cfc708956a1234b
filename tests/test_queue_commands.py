"""Each command opens its queue with `open_migrated_queue`: the schema is migrated once per command."""
from __future__ import annotations

import pytest

from source.queue.sqlite_backend import SqliteQueue


@pytest.fixture
def migrations(monkeypatch, tmp_path):
    """Counts SqliteQueue.migrate calls; the environment points nowhere else."""
    for name in ("DB_TYPE", "SQLITE_DB_PATH", "DATABASE_URL", "SUPABASE_URL", "SUPABASE_SERVICE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env is read from the repository
    calls = []
    migrate = SqliteQueue.migrate

    def counted(queue):
        calls.append(queue.path)
        return migrate(queue)

    monkeypatch.setattr(SqliteQueue, "migrate", counted)
    return calls


def test_add_task_migrates_once(migrations, tmp_path, capsys):
    from source.cli.add_task_cli import main

    db = tmp_path / "tasks.db"
    assert main(["--db-file", str(db), "--type", "noop", "--params", "{}"]) == 0
    task_id = capsys.readouterr().out.strip()
    assert migrations == [db]
    assert main(["--db-file", str(db), "--status", task_id]) == 0
    assert migrations == [db, db]


def test_migrate_only_migrates_once_and_says_what_it_did(migrations, tmp_path, capfd):
    from source.cli.worker_cli import main
    from source.queue.sqlfiles import latest_version

    db = tmp_path / "tasks.db"
    latest = latest_version("sqlite")
    assert main(["--migrate-only", "--db-file", str(db)]) == 0
    assert migrations == [db]
    assert f"sqlite {db}: queue schema created (version {latest})" in capfd.readouterr().err
    assert main(["--migrate-only", "--db-file", str(db)]) == 0
    assert f"queue schema is current (version {latest})" in capfd.readouterr().err
    queue = SqliteQueue(db)
    assert str(queue.migrate()) == f"queue schema is current (version {latest})"
    queue.close()


def test_migrate_only_says_which_version_it_upgraded_from(migrations, tmp_path, capfd, monkeypatch):
    from source.cli.worker_cli import main
    from source.queue import sqlite_backend
    from source.queue.sqlfiles import latest_version, migration_files

    db = tmp_path / "tasks.db"
    first = migration_files("sqlite")[:1]
    with monkeypatch.context() as older:   # the schema an older checkout made
        older.setattr(sqlite_backend, "migration_files", lambda dialect: first)
        SqliteQueue(db).migrate()
    assert main(["--migrate-only", "--db-file", str(db)]) == 0
    assert (f"queue schema upgraded from version {first[0][0]} to {latest_version('sqlite')}"
            in capfd.readouterr().err)
