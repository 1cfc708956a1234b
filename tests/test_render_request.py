"""The render bridge takes one frozen, pre-snapped RenderRequest and hands it to an engine picked by name
from the registry; the engine is given the caller's settings."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from source.config import ENGINES, Settings
from source.engines import registry
from source.engines.request import RenderRequest
from source.errors import UserError
from source.wgp_utils import CannotServe, generate_single_video


class RecordingEngine:
    """A stand-in engine (registered by the test): records what the bridge hands it."""

    name = "recording"

    def __init__(self) -> None:
        self.seen: list = []

    def check(self, settings) -> None:
        self.seen.append(("check", settings))

    def serves(self, request):
        return None if request.model != "refused" else "model refused is not served by the recording engine"

    def load(self, request, settings):
        return None

    def render(self, request, settings, progress_callback=None) -> Path:
        self.seen.append(("render", request, settings))
        for step in (1, 2):
            if progress_callback:
                progress_callback(step, 2)
        request.output_path.write_bytes(b"x")
        return request.output_path


@pytest.fixture
def recording(monkeypatch):
    engine = RecordingEngine()
    monkeypatch.setitem(registry._ENGINES, "recording", engine)
    return engine


def test_the_bridge_hands_the_snapped_request_and_the_given_settings_to_the_named_engine(recording, tmp_path):
    settings = Settings(tiny_models_dir=str(tmp_path))
    steps = []
    path = generate_single_video(model="vace_14B", prompt="p", output_path=tmp_path / "o.mp4", resolution="130x100",
                                 frames=10, engine="recording", settings=settings,
                                 progress_callback=lambda s, t: steps.append((s, t)))
    assert path == tmp_path / "o.mp4" and steps == [(1, 2), (2, 2)]
    (_, check_settings), (_, request, render_settings) = recording.seen
    assert check_settings is settings and render_settings is settings
    assert (request.width, request.height, request.frames) == (128, 96, 9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.frames = 81


def test_a_built_request_is_passed_as_is_and_an_engine_may_refuse_it(recording, tmp_path):
    request = RenderRequest.build(model="refused", prompt="", output_path=tmp_path / "r.png", frames=1,
                                  use_causvid_lora=True, engine="recording")
    assert request.accelerator == "causvid" and request.frames == 1
    with pytest.raises(CannotServe, match="^model refused is not served by the recording engine$"):
        generate_single_video(request, settings=Settings())
    with pytest.raises(TypeError):
        generate_single_video(request, settings=Settings(), frames=5)


def test_requests_are_checked_when_built():
    with pytest.raises(UserError, match="a .png output holds one frame; 9 frames were asked for"):
        RenderRequest.build(model="tiny", prompt="", output_path="x.png", frames=9)
    with pytest.raises(UserError, match="use_causvid_lora, use_lighti2x_lora and use_lightning_lora: set one at most"):
        RenderRequest.build(model="tiny", prompt="", output_path="x.mp4", use_causvid_lora=True,
                            use_lighti2x_lora=True)
    # phases and per-phase strengths: two-expert models only; Lightning brings its own phases
    with pytest.raises(UserError, match="need a two-expert model"):
        RenderRequest.build(model="t2v_1.3B", prompt="", output_path="x.mp4", loras={"a.safetensors": "1;0"})
    lightning = RenderRequest.build(model="t2v_2_2", prompt="", output_path="x.mp4", use_lightning_lora=True,
                                    loras={"a.safetensors": "1;0"})
    assert lightning.accelerator == "lightning" and lightning.phases.steps_per_phase == (2, 2)
    assert dict(lightning.loras) == {"a.safetensors": (1.0, 0.0)}


def test_every_engine_name_is_registered_and_follows_the_protocol():
    assert set(registry.engine_names()) >= set(ENGINES)
    for name in ENGINES:
        engine = registry.engine_named(name)
        assert engine.name == name
        for method in ("check", "serves", "load", "render"):
            assert callable(getattr(engine, method)), (name, method)


def test_the_bridge_never_reads_settings_itself(tmp_path):
    with pytest.raises(TypeError):
        generate_single_video(model="tiny", prompt="", output_path=tmp_path / "o.mp4")  # settings is required
