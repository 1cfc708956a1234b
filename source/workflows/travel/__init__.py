"""Travel between images: a video through N anchor images, rendered as VACE segments and stitched.

travel_orchestrator (queued by `steerable_motion.py travel_between_images`) fans out one
travel_segment row per leg and a travel_stitch row that joins them (docs/TRAVEL.md).

Files: `params.py`, `plan.py` (segment lengths, overlaps, the stitch plan), `steps.py`, `client.py`
(`steerable_motion.py travel_between_images`).
"""
from .. import TaskType, Workflow

ORCHESTRATOR = "travel_orchestrator"
SEGMENT = "travel_segment"
STITCH = "travel_stitch"

WORKFLOW = Workflow(
    name="travel",
    task_types=(
        TaskType(ORCHESTRATOR, handler="steps:handle_orchestrator", params="params:TravelOrchestratorParams",
                 summary="a travel between images: checks the run and fans out its segments and stitch",
                 example="params:EXAMPLE"),
        TaskType(SEGMENT, handler="steps:handle_segment", params="params:TravelSegmentParams",
                 summary="renders one leg of a travel run", internal=True, example="steps:example_segment"),
        TaskType(STITCH, handler="steps:handle_stitch", params="params:TravelStitchParams",
                 summary="joins a travel run's legs into {run_id}_final.mp4", internal=True,
                 example="steps:example_stitch"),
    ),
    client="client:register",
)
