"""One settings object reaches the engines: a key works whichever way it is given (flag, environment,
.env) and whichever way the render is started (the bridge called directly, or a worker process)."""
from __future__ import annotations

from pathlib import Path

from source.config import options, resolve_settings
from source.queue.model import NewTask, Status
from source.wgp_utils import generate_single_video

from .helpers.workers import make_backend, wait_terminal


def _render(settings, out: Path) -> Path:
    return generate_single_video(model="tiny", prompt="a cat", output_path=out, frames=1, resolution="32x32",
                                 steps=1, settings=settings)


def _built_in(folder: Path) -> bool:
    return (folder / "t2v-v2" / "model_index.json").is_file()


def test_tiny_models_dir_from_the_environment_and_from_dotenv_reaches_the_bridge(tmp_path):
    from_env = tmp_path / "from-env"
    settings = resolve_settings({"engine": "tiny"}, env={"TINY_MODELS_DIR": str(from_env), "HF_HUB_OFFLINE": "1"},
                                dotenv_path=tmp_path / "none")
    _render(settings, tmp_path / "a.png")
    assert _built_in(from_env)

    from_dotenv = tmp_path / "from-dotenv"
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"TINY_MODELS_DIR={from_dotenv}\nENGINE=tiny\n")
    settings = resolve_settings({}, env={"HF_HUB_OFFLINE": "1"}, dotenv_path=dotenv)
    assert settings.engine == "tiny"
    _render(settings, tmp_path / "b.png")
    assert _built_in(from_dotenv)


def test_tiny_models_dir_reaches_the_engine_through_a_worker_process(tmp_path):
    folder = tmp_path / "worker-tiny"
    with make_backend("sqlite", tmp_path) as backend:
        queue = backend.queue()
        task = NewTask("single_image", {"model": "tiny", "prompt": "a cat", "resolution": "32x32", "steps": 1})
        queue.enqueue([task])
        proc = backend.start_worker("--until-idle", "--engine", "tiny", TINY_MODELS_DIR=str(folder))
        row = wait_terminal(queue, task.id, timeout=120)
        assert proc.wait(timeout=30) == 0, proc.log_path.read_text()[-2000:]
    assert row.status == Status.COMPLETE, row.error_message
    assert _built_in(folder)


def test_every_setting_has_an_environment_key_documented_in_env_example():
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    missing = [o.env for o in options().values() if f"\n{o.env}=" not in example]
    assert missing == []
