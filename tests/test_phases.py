"""Wan 2.2 phases: the arithmetic (docs/ENGINES.md "Phases"), the checks at enqueue, and tiny two-expert
renders whose per-step LoRA strengths are read back from the pipeline's LoRA layers as each expert runs."""
from __future__ import annotations

import pytest

from source.engines.phases import PhasePlan, parse_strength, solver_timesteps
from source.engines.residency import RESIDENT
from source.engines.wan2gp.mapping import multipliers_text
from source.errors import InvalidParams
from source.tasks.phase_params import all_loras
from source.wgp_utils import generate_single_video
from source.workflows.registry import parse_params

from .helpers.bridge import build_peft_lora

# LATER.md section 4.4: 2 phases of 3 steps, shift 5, euler, expert switch after phase 1;
# phase 1: HIGH 1.2 + X 0.5, phase 2: LOW 1.0 + X 0.5, guidance 1 throughout.
def worked_example(high="HIGH.safetensors", low="LOW.safetensors", x="X.safetensors", solver="euler") -> dict:
    return {"num_phases": 2, "steps_per_phase": [3, 3], "flow_shift": 5.0, "sample_solver": solver,
            "model_switch_phase": 1,
            "phases": [{"guidance_scale": 1.0, "loras": [{"url": high, "multiplier": 1.2}, {"url": x, "multiplier": 0.5}]},
                       {"guidance_scale": 1.0, "loras": [{"url": low, "multiplier": "1.0"}, {"url": x, "multiplier": 0.5}]}]}


TINY_A14B = {"model": "t2v_2_2", "prompt": "a red car on a street", "resolution": "64x64", "frames": 9, "seed": 5}


# ---- arithmetic ------------------------------------------------------------------------------------------

def test_worked_example_euler_thresholds_steps_and_strengths():
    params = parse_params("wgp", {**TINY_A14B, "phase_config": worked_example()})
    plan = params.phase_config.plan()
    assert [round(t, 1) for t in plan.timesteps] == [1000.0, 952.4, 882.5, 769.7, 556.8, 5.0]
    assert [round(t, 1) for t in plan.thresholds] == [826.1]
    assert plan.steps_per_phase == (3, 3) and plan.step_experts == [0, 0, 0, 1, 1, 1]
    loras = all_loras(params.additional_loras, params.phase_config)
    assert list(loras) == ["HIGH.safetensors", "X.safetensors", "LOW.safetensors"]
    assert multipliers_text(list(loras.values())) == "1.2;0 0.5;0.5 0;1"
    assert [plan.step_strengths(s) for s in loras.values()] == [[1.2] * 3 + [0.0] * 3, [0.5] * 6,
                                                                 [0.0] * 3 + [1.0] * 3]
    assert plan.wan2gp_settings() == {
        "num_inference_steps": 6, "guidance_phases": 2, "guidance_scale": 1.0, "guidance2_scale": 1.0,
        "switch_threshold": 826.1, "model_switch_phase": 1, "sample_solver": "euler", "flow_shift": 5.0}
    # the default three phases [2, 2, 2] (LATER.md: thresholds about 917.5 and 663.2)
    three = PhasePlan((2, 2, 2), (3.0, 1.0, 1.0), "euler", 5.0, 2)
    assert [round(t, 1) for t in three.thresholds] == [917.5, 663.2]
    assert three.step_experts == [0, 0, 0, 0, 1, 1] and three.step_guidance == [3, 3, 1, 1, 1, 1]
    # 'a;b' on three phases with the switch after phase 2 repeats the first value (Wan2GP's padding)
    assert three.step_strengths(parse_strength("1;0")) == [1, 1, 1, 1, 0, 0]
    assert PhasePlan((2, 2, 2), (3, 1, 1), "euler", 5.0, 1).step_strengths((1.0, 0.0)) == [1, 1, 0, 0, 0, 0]


def test_worked_example_unipc():
    plan = parse_params("wgp", {**TINY_A14B, "phase_config": worked_example(solver="unipc")}).phase_config.plan()
    # sigma = linspace(0.999, 0, 7)[:6], shifted by 5, x 1000
    assert [round(t, 1) for t in plan.timesteps] == [999.8, 961.3, 908.8, 833.1, 714.0, 499.7]
    assert [round(t, 1) for t in plan.thresholds] == [870.9]
    assert [round(t, 1) for t in solver_timesteps("dpm++", 6, 5.0)][:2] == [1000.0, 961.5]
    # the split the thresholds imply is the one asked for, for every solver and a range of shifts
    for solver in ("euler", "unipc", "dpm++"):
        for shift in (1.0, 3.0, 5.0, 8.0, 12.0):
            for steps in ((1, 1), (3, 3), (2, 5), (2, 2, 2), (1, 3, 4)):
                switch = 2 if len(steps) == 3 else 1
                assert PhasePlan(steps, (1.0,) * len(steps), solver, shift, switch).steps_per_phase == steps


# ---- bad input: one line at enqueue -----------------------------------------------------------------------

@pytest.mark.parametrize("extra, message", [
    ({"model": "t2v_1.3B", "activated_loras": ["h"], "loras_multipliers": "1;0"}, "need a two-expert model"),
    ({"model": "vace_14B", "phase_config": worked_example()}, "need a two-expert model"),
    ({"activated_loras": ["h", "l"], "loras_multipliers": "1;0"}, "1 strengths for 2 activated_loras"),
    ({"activated_loras": ["h"], "loras_multipliers": "1;0,0;1"}, "commas make a per-step schedule"),
    ({"additional_loras": {"h": "1,0.5"}}, "commas make a per-step schedule"),
    ({"additional_loras": {"h": "1;0;1"}}, "without phase_config the run has 2 phases"),
    ({"phase_config": {**worked_example(), "steps_per_phase": [3, 2]}, "steps": 6}, "does not match"),
    ({"phase_config": {**worked_example(), "steps_per_phase": [3, 3, 2]}}, "disagree on the number of phases"),
    ({"phase_config": {**worked_example(), "model_switch_phase": 2}}, "never switches to the low-noise expert"),
    ({"phase_config": worked_example(), "use_causvid_lora": True}, "without the accelerator"),
    ({"phase_config": {**worked_example(), "phases": [
        {"loras": [{"url": "a", "multiplier": "1,0.5"}]}, {}]}}, "2 per-step strengths for 3 steps"),
    ({"phase_config": worked_example(), "additional_loras": {"HIGH.safetensors": 1}}, "given in both"),
])
def test_bad_phases_are_one_line_at_enqueue(extra, message):
    with pytest.raises(InvalidParams, match=message) as caught:
        parse_params("wgp", {**TINY_A14B, **extra})
    assert "\n" not in str(caught.value)


def test_phased_strengths_in_every_task_that_takes_loras():
    row = parse_params("wgp", {**TINY_A14B, "activated_loras": ["h", "l"], "loras_multipliers": "1;0 0;1"})
    assert row.additional_loras == {"h.safetensors": (1.0, 0.0), "l.safetensors": (0.0, 1.0)}
    travel = parse_params("travel_orchestrator", {"orchestrator_details": {
        "input_image_paths_resolved": ["a.png", "b.png"], "base_prompts_expanded": ["x"], "segment_frames_expanded": [17],
        "model_name": "wan2gp:vace_fun_14B_2_2", "additional_loras": {"h.safetensors": "1;0"},
        "phase_config": worked_example()}})
    assert travel.orchestrator_details.additional_loras == {"h.safetensors": (1.0, 0.0)}
    assert travel.orchestrator_details.phase_config.plan().total_steps == 6
    with pytest.raises(InvalidParams, match="need a two-expert model"):
        parse_params("travel_orchestrator", {"orchestrator_details": {
            "input_image_paths_resolved": ["a.png", "b.png"], "base_prompts_expanded": ["x"],
            "segment_frames_expanded": [17], "additional_loras": {"h.safetensors": "1;0"}}})
    with pytest.raises(InvalidParams, match="need a two-expert model"):
        parse_params("different_perspective_orchestrator", {
            "input_image_path": "a.png", "prompt": "x",
            "additional_loras": {"h.safetensors": "0;1"}})


# ---- tiny two-expert renders ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def a14b_loras(tiny_settings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("a14b_loras")
    return {name: build_peft_lora(tiny_settings.tiny_models_dir, "t2v_a14b", folder / f"{name}.safetensors", seed=seed)
            for name, seed in (("HIGH", 11), ("LOW", 12), ("X", 13))}


def adapter_names(paths) -> dict:
    """Our LoRA files -> the adapter names the resident pipeline loaded them under."""
    names = {}
    for identity, adapter in RESIDENT.adapters.loaded.items():
        for label, path in paths.items():
            if identity.startswith(str(path.resolve()) + "|"):
                names[label] = adapter
    return names


def read_back(pipe, labels_by_adapter: dict) -> tuple[list, callable]:
    """Hooks on both experts recording, at every forward, which expert ran and each LoRA's weight in it
    (peft's `scaling`, i.e. weight x alpha / rank; these LoRAs have alpha = rank)."""
    seen, handles = [], []
    for expert, transformer in enumerate((pipe.transformer, pipe.transformer_2)):
        layer = next(m for m in transformer.modules() if hasattr(m, "scaling") and m.scaling)

        def hook(_module, _args, _kwargs, expert=expert, layer=layer):
            active = set(layer.active_adapters)
            seen.append((expert, {label: round(layer.scaling[name], 4) if name in active else 0.0
                                  for name, label in labels_by_adapter.items()}))
        handles.append(transformer.register_forward_pre_hook(hook, with_kwargs=True))
    return seen, lambda: [h.remove() for h in handles]


@pytest.mark.parametrize("solver", ["euler", "unipc"])
def test_per_step_strengths_reach_each_expert(tiny_settings, tmp_path, a14b_loras, solver):
    config = worked_example(*(str(a14b_loras[k]) for k in ("HIGH", "LOW", "X")), solver=solver)
    params = parse_params("wgp", {**TINY_A14B, "phase_config": config})
    kwargs = dict(model="t2v_2_2", prompt=params.prompt, resolution="64x64", frames=9, seed=5,
                  loras=all_loras(params.additional_loras, params.phase_config), phases=params.phase_config.plan(),
                  settings=tiny_settings)
    generate_single_video(output_path=tmp_path / "warm.mp4", **kwargs)   # loads the model and the LoRAs
    names = adapter_names(a14b_loras)
    seen, remove = read_back(RESIDENT.pipeline, {v: k for k, v in names.items()})
    try:
        generate_single_video(output_path=tmp_path / "phased.mp4", **kwargs)
    finally:
        remove()
    assert seen == [(0, {"HIGH": 1.2, "LOW": 0.0, "X": 0.5})] * 3 + [(1, {"HIGH": 0.0, "LOW": 1.0, "X": 0.5})] * 3


def capture(pipe) -> tuple[list, callable]:
    """Every expert forward: (expert, its inputs, its output)."""
    calls, handles = [], []
    for expert, transformer in enumerate((pipe.transformer, pipe.transformer_2)):
        def hook(_module, _args, kwargs, output, expert=expert):
            calls.append((expert, {k: v.clone() if hasattr(v, "clone") else v for k, v in kwargs.items()},
                          output[0].clone()))
        handles.append(transformer.register_forward_hook(hook, with_kwargs=True))
    return calls, lambda: [h.remove() for h in handles]


def test_high_and_low_loras_change_only_their_own_experts_steps(tiny_settings, tmp_path, a14b_loras):
    import torch

    base = dict(model="t2v_2_2", prompt="a red car on a street", resolution="64x64", frames=9, seed=5, steps=6,
                guidance_scale=1.0, settings=tiny_settings)
    generate_single_video(output_path=tmp_path / "warm.mp4", **base,
                          loras={str(a14b_loras["HIGH"]): "1;0", str(a14b_loras["LOW"]): "0;1"})
    pipe = RESIDENT.pipeline

    def run(loras):
        calls, remove = capture(pipe)
        try:
            generate_single_video(output_path=tmp_path / "r.mp4", loras=loras, **base)
        finally:
            remove()
        return calls

    plain = run({})
    low = run({str(a14b_loras["LOW"]): "0;1"})
    high = run({str(a14b_loras["HIGH"]): "1;0"})
    experts = [e for e, _, _ in plain]
    assert experts == [e for e, _, _ in low] == [e for e, _, _ in high] and 0 in experts and 1 in experts
    switch = experts.index(1)
    # LOW "0;1": the high-noise steps are the plain render's to the bit; every low-noise step differs
    for i, ((_, _, out_plain), (_, _, out_low)) in enumerate(zip(plain, low)):
        assert torch.equal(out_plain, out_low) == (i < switch), i
    # HIGH "1;0": every high-noise step differs from the plain render; each low-noise step is what the
    # low-noise expert computes without any LoRA on the same inputs
    for i, ((_, _, out_plain), (expert, inputs, out_high)) in enumerate(zip(plain, high)):
        if i < switch:
            assert not torch.equal(out_plain, out_high), i
            continue
        loaded = list(RESIDENT.adapters.loaded.values())
        pipe.transformer_2.set_adapters(loaded, [0.0] * len(loaded))
        with torch.inference_mode():
            bare = pipe.transformer_2(**inputs)[0]
        assert torch.equal(bare, out_high), i


def test_lightning_puts_high_and_low_on_their_experts(tiny_settings, tmp_path):
    from source.engines.loras import lightning_lora_files

    kwargs = dict(model="t2v_2_2", prompt="a red car", resolution="64x64", frames=9, seed=5, steps=30,
                  guidance_scale=5.0, use_lightning_lora=True, settings=tiny_settings)
    generate_single_video(output_path=tmp_path / "warm.mp4", **kwargs)
    files = lightning_lora_files("t2v_a14b", tiny_settings, tiny_kind="t2v_a14b")
    names = adapter_names({("HIGH" if s == (1.0, 0.0) else "LOW"): p for p, s in files.items()})
    seen, remove = read_back(RESIDENT.pipeline, {v: k for k, v in names.items()})
    try:
        generate_single_video(output_path=tmp_path / "lightning.mp4", **kwargs)
    finally:
        remove()
    # 4 steps (2 + 2) whatever was asked; guidance 1 (one forward per step, no CFG pass)
    assert seen == [(0, {"HIGH": 1.0, "LOW": 0.0})] * 2 + [(1, {"HIGH": 0.0, "LOW": 1.0})] * 2
    with pytest.raises(InvalidParams, match="Lightning is for two-expert models"):
        parse_params("wgp", {**TINY_A14B, "model": "t2v_1.3B", "use_lightning_lora": True})


class _Quiet(__import__("http.server").server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_a_phase_config_row_with_lora_urls_runs_as_written(tiny_settings, tmp_path, a14b_loras):
    """The original tool's payload shape: phase_config whose LoRAs are URLs (served here by a local
    http.server standing in for Hugging Face), queued with add_task.py and run by a tiny worker."""
    import functools
    import json
    import threading
    from http.server import ThreadingHTTPServer

    from source.media.video_io import count_frames
    from source.queue.model import Status
    from tests.helpers.workers import make_backend

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(a14b_loras["HIGH"].parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        config = worked_example(base + "HIGH.safetensors", base + "LOW.safetensors", base + "X.safetensors")
        with make_backend("sqlite", tmp_path) as backend:
            queued = backend.run_cli("add_task.py", "--type", "wgp", "--params", json.dumps({
                "model": "t2v_2_2", "prompt": "a red car", "resolution": "64x64", "video_length": 9,
                "phase_config": config}))
            assert queued.returncode == 0, queued.stderr
            task_id = queued.stdout.strip().splitlines()[0]
            worker = backend.start_worker("--until-idle", "--engine", "tiny",
                                          TINY_MODELS_DIR=tiny_settings.tiny_models_dir,
                                          LORA_DIR=str(tmp_path / "fetched"))
            assert worker.wait(timeout=240) == 0, worker.log_path.read_text()[-3000:]
            row = backend.queue().get(task_id)
            assert row.status == Status.COMPLETE, row.error_message
            assert count_frames(row.output_location) == 9
            fetched = sorted(p.name.split("_", 1)[-1] for p in (tmp_path / "fetched").iterdir())
            assert fetched == ["HIGH.safetensors", "LOW.safetensors", "X.safetensors"]      # each URL fetched
            refused = backend.run_cli("add_task.py", "--type", "wgp", "--params", json.dumps({
                "model": "t2v_1.3B", "prompt": "x", "activated_loras": ["a"], "loras_multipliers": "1;0"}))
            assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
            assert "two-expert model" in refused.stderr
    finally:
        server.shutdown()
