"""Join clips: a VACE-generated transition between clips, chained over N clips (docs/JOINING.md).

join_clips_orchestrator (also queued as join_clips, and by `steerable_motion.py join_clips`) fans out
one join_clips_segment row per pair of neighbouring clips, each depending on the one before; the last
one's output is the run's video.
"""
from .. import TaskType, Workflow

ORCHESTRATOR = "join_clips_orchestrator"
ALIAS = "join_clips"
SEGMENT = "join_clips_segment"

WORKFLOW = Workflow(
    name="join",
    task_types=(
        TaskType(ORCHESTRATOR, handler="steps:handle_orchestrator", params="params:JoinOrchestratorParams",
                 summary="joins N clips into one video by a chain of generated transitions",
                 example="params:EXAMPLE"),
        TaskType(ALIAS, handler="steps:handle_orchestrator", params="params:JoinOrchestratorParams",
                 summary=f"the same as {ORCHESTRATOR}", example="params:EXAMPLE"),
        TaskType(SEGMENT, handler="steps:handle_segment", params="params:JoinSegmentParams",
                 summary="one join: clip A, a generated transition, clip B (insert or replace mode)",
                 example="steps:example_segment"),
    ),
    client="client:register",
)
