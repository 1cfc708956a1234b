"""Redo one leg of a travel: individual_travel_segment (the original tool's standalone leg: the raw
segment, no stitch) and travel_redo (a finished run's leg rendered again with the run's own plan, and
the final video stitched again as a new version of the run: `steerable_motion.py redo_segment`)."""
from .. import TaskType, Workflow

INDIVIDUAL = "individual_travel_segment"
REDO = "travel_redo"

WORKFLOW = Workflow(
    name="redo",
    task_types=(
        TaskType(INDIVIDUAL, handler="steps:handle_individual", params="params:IndividualSegmentParams",
                 summary="renders one leg of a travel on its own (the raw segment, no stitch)",
                 example="params:INDIVIDUAL_EXAMPLE"),
        TaskType(REDO, handler="steps:handle_redo", params="params:RedoParams",
                 summary="a finished travel's leg rendered again and its final stitched again, as a new "
                         "version of the run", example="params:REDO_EXAMPLE"),
    ),
    client="client:register",
)
