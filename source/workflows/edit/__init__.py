"""Edit a video's frames: regenerate chosen frame ranges with VACE and splice them back
(docs/JOINING.md, "Editing frames").

edit_video_orchestrator (queued by `steerable_motion.py edit_video`) fans out one inpaint_frames row per
portion and an edit_video_splice row that puts the windows back: the edited video has exactly the
source's frame count. inpaint_frames on its own returns the regenerated window with its context.
"""
from .. import TaskType, Workflow

ORCHESTRATOR = "edit_video_orchestrator"
INPAINT = "inpaint_frames"
SPLICE = "edit_video_splice"

WORKFLOW = Workflow(
    name="edit",
    task_types=(
        TaskType(ORCHESTRATOR, handler="steps:handle_orchestrator", params="params:EditParams",
                 summary="regenerates portions of a video and splices them back (same frame count)",
                 example="params:EXAMPLE"),
        TaskType(INPAINT, handler="steps:handle_inpaint", params="params:InpaintParams",
                 summary="regenerates a frame range; the output is the window with its context (4n+1 frames)",
                 example="steps:example_inpaint"),
        TaskType(SPLICE, handler="steps:handle_splice", params="params:SpliceParams",
                 summary="puts an edit run's regenerated windows back into the video", internal=True,
                 example="steps:example_splice"),
    ),
    client="client:register",
)
