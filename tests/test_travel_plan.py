"""The travel arithmetic: segment lengths, overlaps, kept frames, the stitch plan."""
import pytest

from source.media.easing import crossfade_weights
from source.media.stitch import stitch_plan
from source.workflows.travel.params import FadeParams, OrchestratorDetails
from source.workflows.travel.plan import PlanError, TravelPlan, expand_list, plan_travel


def test_three_images_81_frames_overlap_16_make_146():
    plan = plan_travel(3, [81], [16])
    assert plan.segment_lengths == [81, 81]
    assert plan.overlaps == [16]
    assert plan.final_frames == 146
    first, second = plan.segments
    assert (first.carry_in, first.start_anchor, first.end_anchor) == (0, 0, 1)
    assert first.kept_frames == [0, 80]
    assert (second.carry_in, second.start_anchor, second.end_anchor) == (16, None, 2)
    assert second.kept_frames == list(range(16)) + [80]
    assert second.depends_on_previous and not first.depends_on_previous


def test_per_segment_lengths_and_overlaps_differ_and_snap_to_4k_plus_1():
    plan = plan_travel(4, [81, 50, 33], [16, 8])
    assert plan.segment_lengths == [81, 49, 33]
    assert plan.overlaps == [16, 8]
    assert plan.final_frames == 81 + 49 + 33 - 16 - 8
    assert [s.length for s in plan.segments] == [81, 49, 33]


def test_odd_overlaps_are_made_even():
    plan = plan_travel(3, [81], [15])
    assert plan.overlaps == [14]
    assert plan.final_frames == 162 - 14


def test_overlap_capped_by_the_shorter_neighbour():
    plan = plan_travel(3, [81, 17], [40])
    assert plan.overlaps == [16]             # even, and one less than 17: the short clip keeps a frame
    assert plan.final_frames == 81 + 17 - 16


@pytest.mark.parametrize("asked", [80, 81, 82, 100, 10_000])
def test_asking_for_more_overlap_never_gives_less(asked):
    """81-frame segments: 80, 81, 82 or 100 all give 80 (each clip keeps a frame of its own)."""
    plan = plan_travel(3, [81], [asked])
    assert plan.overlaps == [80]
    assert plan.final_frames == 82


def test_overlap_never_decreases_as_the_request_grows():
    for lengths in ([81], [81, 17], [5, 9], [1, 81]):
        results = [plan_travel(3, lengths, [asked]).overlaps[0] for asked in range(0, 120)]
        assert results == sorted(results), lengths
        assert all(o % 2 == 0 and o <= min(plan_travel(3, lengths, [0]).segment_lengths) - 1 for o in results)


def test_overlaps_are_one_per_join():
    # 4 images: 3 segments, 2 joins
    assert plan_travel(4, [81], [16, 8]).overlaps == [16, 8]
    # one value per segment (the original tool's shape) is read as one per join before the plan
    # (source/tasks/original_keys.py); the plan itself takes one per join
    with pytest.raises(PlanError, match=r"has 3 values; give 1 \(used for every join\) or 2"):
        plan_travel(4, [81], [16, 8, 4])
    # with a continued video the clips are the video and 3 segments: 3 joins
    assert plan_travel(3, [81], [16, 8, 4], continue_video_frames=40).overlaps == [16, 8, 4]
    with pytest.raises(PlanError, match=r"has 2 values; give 1 \(used for every join\) or 3 \(one per join: "
                                        r"3 segment\(s\) and the continued video make 3\)"):
        plan_travel(3, [81], [16, 8], continue_video_frames=40)
    with pytest.raises(PlanError, match=r"has 4 values; give 1 \(used for every join\) or 2"):
        plan_travel(4, [81], [16, 8, 4, 2])


def test_zero_overlap_concatenates():
    plan = plan_travel(3, [17], [0])
    assert plan.overlaps == [0]
    assert plan.final_frames == 34
    assert plan.segments[1].kept_frames == [0, 16]   # starts again from its own anchor
    assert [(s.fade_in, s.fade_out, s.copied) for s in stitch_plan(plan.clip_lengths, plan.overlaps)] \
        == [(0, 0, 17), (0, 0, 17)]


def test_continue_from_video_adds_65_frames():
    plan = plan_travel(1, [81], [16], continue_video_frames=40)
    assert plan.num_segments == 1
    assert plan.overlaps == [16]
    assert plan.final_frames == 40 + 65
    seg = plan.segments[0]
    assert seg.carry_in == 16 and seg.carry_from_video and seg.end_anchor == 0
    assert seg.kept_frames == list(range(16)) + [80]
    assert not seg.depends_on_previous


def test_continue_overlap_capped_by_a_short_video():
    plan = plan_travel(2, [81], [16], continue_video_frames=9)
    assert plan.overlaps == [8, 16]        # even(min(16, 9 - 1, 81 - 1)): all but the video's first frame
    assert plan.final_frames == 9 + 81 + 81 - 8 - 16


def test_one_image_keeps_only_frame_zero():
    plan = plan_travel(1, [81], [16])
    assert plan.num_segments == 1 and plan.overlaps == []
    assert plan.final_frames == 81
    assert plan.segments[0].kept_frames == [0]
    assert plan.segments[0].end_anchor is None


def test_independent_segments_are_anchored_on_their_own_images():
    plan = plan_travel(4, [17], [4], independent=True)
    assert plan.overlaps == [4, 4]
    assert plan.final_frames == 51 - 8
    for i, seg in enumerate(plan.segments):
        assert seg.carry_in == 0 and not seg.depends_on_previous
        assert (seg.start_anchor, seg.end_anchor) == (i, i + 1)
        assert seg.kept_frames == [0, 16]


def test_plan_round_trips_through_a_dict():
    plan = plan_travel(3, [81], [16], independent=False)
    assert TravelPlan.parse(plan.to_json()) == plan


@pytest.mark.parametrize("lengths,overlaps,field", [
    ([81, 81, 81], [16], "segment_frames_expanded"),
    ([81], [16, 16, 16], "frame_overlap_expanded"),
    ([0], [16], "segment_frames_expanded[0]"),
    ([81], [-2], "frame_overlap_expanded[0]"),
])
def test_bad_lists_name_the_field(lengths, overlaps, field):
    with pytest.raises(PlanError, match=r"^" + field.replace("[", r"\[").replace("]", r"\]")):
        plan_travel(3, lengths, overlaps)


def test_overlaps_that_would_share_frames_are_refused():
    with pytest.raises(PlanError, match="frame_overlap_expanded"):
        plan_travel(4, [81, 17, 81], [16])      # 16 + 16 > 17


def test_expand_list_repeats_one_value():
    assert expand_list("base_prompts_expanded", ["a"], 3) == ["a", "a", "a"]
    assert expand_list("x", "a", 2) == ["a", "a"]
    with pytest.raises(PlanError, match="^base_prompts_expanded has 2 values; give 1 or 3"):
        expand_list("base_prompts_expanded", ["a", "b"], 3)


def test_stitch_plan_counts():
    spans = stitch_plan([81, 81, 81], [16, 16])
    assert [(s.fade_in, s.copied, s.fade_out) for s in spans] == [(0, 65, 16), (16, 49, 16), (16, 65, 0)]
    assert sum(s.copied + s.fade_in for s in spans) == 243 - 32


def test_crossfade_weights_raised_cosine_ending_on_the_new_clip():
    w = crossfade_weights(4)
    assert w[-1] == pytest.approx(1.0)
    assert w == pytest.approx([0.5 - 0.5 * __import__("math").cos(__import__("math").pi * k / 4)
                               for k in (1, 2, 3, 4)])
    assert all(a < b for a, b in zip(w, w[1:]))
    assert 0 < w[0] < 0.2


def test_fade_weights():
    fade = FadeParams(low_point=0.0, high_point=1.0, curve_type="linear", duration_factor=0.5)
    out = fade.weights(8, fading_out=True)
    assert out == pytest.approx([1.0, 0.75, 0.5, 0.25, 0, 0, 0, 0])
    inn = fade.weights(8, fading_out=False)
    assert inn == list(reversed(out))
    assert FadeParams().weights(8, fading_out=True) == [0.0] * 8


def _fade(field, value):
    """The fade settings `field` of orchestrator_details, as the params model reads them."""
    details = {"input_image_paths_resolved": ["a.png", "b.png"], "base_prompts_expanded": ["a"],
               "segment_frames_expanded": [17], "parsed_resolution_wh": "64x64", "model_name": "vace_14B",
               field: value}
    return getattr(OrchestratorDetails.parse(details), field)


def test_fade_params_parse_errors_name_the_field():
    assert _fade("fade_in_params_json_str", '{"duration_factor": 0.5}').duration_factor == 0.5
    with pytest.raises(PlanError, match="^fade_in_params_json_str is not valid JSON"):
        _fade("fade_in_params_json_str", "{nope")
    with pytest.raises(PlanError, match="^fade_out_params_json_str.curve_type"):
        _fade("fade_out_params_json_str", {"curve_type": "wobbly"})
    with pytest.raises(PlanError, match="^fade_out_params_json_str.low_point"):
        _fade("fade_out_params_json_str", {"low_point": 2})
