"""Configuration precedence: flag > environment > .env > default, resolved in one place."""
import pytest

from source.config import redact_dsn, resolve_settings, scrub_secrets


def test_default_when_nothing_given(tmp_path):
    settings = resolve_settings({}, env={}, dotenv_path=tmp_path / "missing.env")
    assert settings.db_type == "sqlite"
    assert settings.db_file == "tasks.db"
    assert settings.poll_interval == 10.0
    assert settings.lease_seconds == 60.0


def test_dotenv_beats_default_env_beats_dotenv_flag_beats_env(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text('SQLITE_DB_PATH="from-dotenv.db"\nPOLL_INTERVAL=3\n# comment\nLEASE_SECONDS=7\n')
    settings = resolve_settings({}, env={}, dotenv_path=dotenv)
    assert (settings.db_file, settings.poll_interval, settings.lease_seconds) == ("from-dotenv.db", 3.0, 7.0)

    env = {"SQLITE_DB_PATH": "from-env.db", "POLL_INTERVAL": "2"}
    settings = resolve_settings({}, env=env, dotenv_path=dotenv)
    assert (settings.db_file, settings.poll_interval, settings.lease_seconds) == ("from-env.db", 2.0, 7.0)

    settings = resolve_settings({"db_file": "from-flag.db", "poll_interval": None}, env=env, dotenv_path=dotenv)
    assert (settings.db_file, settings.poll_interval) == ("from-flag.db", 2.0)


@pytest.mark.parametrize("env, message", [
    ({"DB_TYPE": "mysql"}, "DB_TYPE must be one of"),
    ({"DB_TYPE": "postgres"}, "needs DATABASE_URL"),
    ({"DB_TYPE": "supabase", "SUPABASE_URL": "http://x"}, "needs SUPABASE_URL and SUPABASE_SERVICE_KEY"),
    ({"POLL_INTERVAL": "soon"}, "POLL_INTERVAL must be a float"),
    ({"ENGINE": "magic"}, "engine must be one of"),
])
def test_bad_settings_are_one_clear_line(tmp_path, env, message):
    with pytest.raises(ValueError, match=message):
        resolve_settings({}, env=env, dotenv_path=tmp_path / "none")


def test_secrets_never_appear_in_redacted_forms(tmp_path):
    env = {"DB_TYPE": "postgres", "DATABASE_URL": "postgresql://bob:hunter2secret@db.example:5432/x",
           "SUPABASE_SERVICE_KEY": "eyJhbGciOiJIUzI1NiJ9.secretpayload.sig"}
    settings = resolve_settings({}, env=env, dotenv_path=tmp_path / "none")
    shown = str(settings.redacted())
    assert "hunter2secret" not in shown and "secretpayload" not in shown
    assert redact_dsn("host=db password=abc123 user=x") == "host=db password=*** user=x"
    message = f"connect failed for {env['DATABASE_URL']} with key {env['SUPABASE_SERVICE_KEY']}"
    scrubbed = scrub_secrets(message, settings)
    assert "hunter2secret" not in scrubbed and "secretpayload" not in scrubbed


def test_model_folders_are_settings_like_any_other(tmp_path):
    """TINY_MODELS_DIR, LORA_DIR and DEPTH_MODEL_PATH follow the same precedence (a .env file works)."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("TINY_MODELS_DIR=/cache/tiny\nLORA_DIR=/loras\nDEPTH_MODEL_PATH=/depth\n")
    settings = resolve_settings({}, env={"LORA_DIR": "/env-loras"}, dotenv_path=dotenv)
    assert (settings.tiny_models_dir, settings.lora_dir, settings.depth_model_path) == (
        "/cache/tiny", "/env-loras", "/depth")
