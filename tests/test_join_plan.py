"""The join arithmetic (source/workflows/join/plan.py) on docs/JOINING.md's worked examples, frame by frame."""
import pytest

from source.media.retime import resample_indices
from source.workflows.join.plan import INSERT, REPLACE, JoinPlanError, plan_chain, plan_join, snap_gap


def test_insert_two_81_frame_clips_ctx8_gap16_makes_175():
    plan = plan_join(81, 81, context=8, gap=16)
    assert plan.mode == INSERT and plan.gap == 13 and plan.length == 29 and (plan.length - 1) % 4 == 0
    assert list(plan.context_a) == list(range(73, 81)) and list(plan.context_b) == list(range(0, 8))
    layout = plan.guide_layout()
    assert layout[:8] == [("a", i) for i in range(73, 81)]
    assert layout[8:21] == [None] * 13
    assert layout[21:] == [("b", j) for j in range(8)]
    assert plan.kept_in_guide == list(range(8)) + list(range(21, 29))
    assert plan.removed == (range(81, 81), range(0, 0))
    assert list(plan.kept_a) == list(range(81)) and list(plan.kept_b) == list(range(81))
    out = plan.output_layout()
    assert len(out) == plan.final_frames == 175 == 81 + 81 + 13
    assert out[72] == ("a", 72) and out[73] == ("fade", ("a", 73), ("t", 0)) and out[80] == ("fade", ("a", 80), ("t", 7))
    assert out[81] == ("t", 8) and out[93] == ("t", 20)
    assert out[94] == ("fade", ("t", 21), ("b", 0)) and out[101] == ("fade", ("t", 28), ("b", 7))
    assert out[102] == ("b", 8) and out[174] == ("b", 80)


def test_replace_two_81_frame_clips_ctx8_gap16_makes_162():
    plan = plan_join(81, 81, context=8, gap=16, replace=True)
    assert plan.mode == REPLACE and plan.gap == 13 and (plan.removed_a, plan.removed_b) == (6, 7)
    assert list(plan.context_a) == list(range(67, 75)) and list(plan.context_b) == list(range(7, 15))
    assert plan.removed == (range(75, 81), range(0, 7))
    assert list(plan.kept_a) == list(range(75)) and list(plan.kept_b) == list(range(7, 81))
    # removed + kept = every source frame; g1 + g2 = the gap
    assert len(plan.kept_a) + len(plan.removed[0]) == 81 and len(plan.kept_b) + len(plan.removed[1]) == 81
    assert plan.removed_a + plan.removed_b == plan.gap
    out = plan.output_layout()
    assert len(out) == plan.final_frames == 162 == 81 + 81
    assert out[66] == ("a", 66) and out[67] == ("fade", ("a", 67), ("t", 0)) and out[74] == ("fade", ("a", 74), ("t", 7))
    assert out[75] == ("t", 8) and out[87] == ("t", 20)
    assert out[88] == ("fade", ("t", 21), ("b", 7)) and out[95] == ("fade", ("t", 28), ("b", 14))
    assert out[96] == ("b", 15) and out[161] == ("b", 80)


def test_blend_regions_show_the_same_source_frames_on_both_sides():
    for replace in (False, True):
        plan = plan_join(81, 81, context=8, gap=16, replace=replace)
        layout = plan.guide_layout()
        for kind, *pair in plan.output_layout():
            if kind == "fade":
                (c1, i1), (c2, i2) = pair
                # the transition frame blended with a source frame holds that very source frame in the guide
                if c2 == "t":
                    assert layout[i2] == (c1, i1)
                else:
                    assert layout[i1] == (c2, i2)


def test_bridging_pins_a_third_and_two_thirds_into_the_gap():
    insert = plan_join(81, 81, context=8, gap=16, bridging=True)
    assert insert.pins == {12: ("a", 80), 16: ("b", 0)}
    assert insert.kept_in_guide == list(range(8)) + [12, 16] + list(range(21, 29))
    replace = plan_join(81, 81, context=8, gap=16, replace=True, bridging=True)
    assert replace.pins == {12: ("a", 74), 16: ("b", 7)}


def test_the_rounding_comes_out_of_the_gap_never_a_context():
    assert plan_join(81, 81, context=8, gap=53).gap == 53                 # 69 frames: no rounding
    for ctx in range(1, 12):
        for gap in range(1, 30):
            plan = plan_join(100, 100, context=ctx, gap=gap)
            assert (plan.ctx_a, plan.ctx_b) == (ctx, ctx)
            assert (plan.length - 1) % 4 == 0 and plan.gap >= 1
            assert plan.gap <= gap or gap < 4
    assert snap_gap(8, 2, 8) == 1                                         # 18 -> 17
    assert snap_gap(1, 1, 1) == 3                                         # 3 cannot lose 2: grows to 5


def test_context_is_clamped_to_the_shorter_clip():
    plan = plan_join(5, 81, context=8, gap=16)
    assert (plan.ctx_a, plan.ctx_b) == (5, 5) and (plan.length - 1) % 4 == 0
    assert list(plan.context_a) == list(range(0, 5))


def test_replace_with_a_short_clip_moves_the_excess_and_keeps_sides_consistent():
    plan = plan_join(6, 81, context=8, gap=16, replace=True)
    # A keeps at least one frame; its context is what is left before the removed tail
    assert plan.removed_a <= 5 and plan.removed_a + plan.removed_b == plan.gap
    assert plan.ctx_a == min(8, 6 - plan.removed_a) and plan.ctx_b == min(8, 81 - plan.removed_b)
    assert (plan.length - 1) % 4 == 0 and plan.length == plan.ctx_a + plan.gap + plan.ctx_b
    assert plan.context_a.start >= 0 and plan.context_a.stop == 6 - plan.removed_a
    assert plan.final_frames == 6 + 81
    with pytest.raises(JoinPlanError, match="replace mode removes"):
        plan_join(3, 3, context=1, gap=16, replace=True)


def test_three_81_frame_clips_chain_to_269():
    plans = plan_chain([81, 81, 81], context=8, gaps=[16, 16], replace=[False, False])
    assert [p.len_a for p in plans] == [81, 175] and plans[-1].final_frames == 269 == 3 * 81 + 2 * 13
    replace = plan_chain([81, 81, 81], context=8, gaps=[16, 16], replace=[True, True])
    assert replace[-1].final_frames == 243


def test_loop_chain_keeps_every_clip():
    # clips [c0, c1] with loop: [c0, c1, reversed c0]
    plans = plan_chain([81, 81, 81], context=8, gaps=[16, 16], replace=[False, False])
    assert plans[-1].final_frames == 269


def test_resampling_by_timestamp_30_to_16_fps():
    times = [n / 30 for n in range(152)]                   # 5.07 s at 30 fps
    picked = resample_indices(times, 16, 30)
    assert len(picked) == 81
    assert picked[0] == 0 and picked == sorted(picked)
    assert all(abs(times[i] - k / 16) < 1 / 30 + 1e-9 for k, i in enumerate(picked))
    assert resample_indices([n / 16 for n in range(81)], 16, 16) == list(range(81))


def test_the_rows_model_ids_on_each_engine():
    from source.errors import UserError
    from source.workflows.join.steps import render_model

    wan2gp_id = "wan_2_2_vace_lightning_baseline_2_2_2"
    assert render_model(wan2gp_id, "wan2gp") == f"wan2gp:{wan2gp_id}"          # as written
    assert render_model("wan2gp:tiny_vace", "wan2gp") == "wan2gp:tiny_vace"
    assert render_model(wan2gp_id, "tiny") == render_model(wan2gp_id, "preview") == "vace_14B"  # stand-ins
    assert render_model("vace_1.3B", "diffusers") == "vace_1.3B"
    with pytest.raises(UserError, match=r"--engine wan2gp \(this worker renders with engine diffusers\)"):
        render_model(wan2gp_id, "diffusers")
