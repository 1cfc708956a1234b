"""perspective: a character from one image, re-posed as a prompt describes.

The orchestrator checks its input at once and fans out four rows, each waiting for the one before:

  1. different_perspective_still   one-frame render of the prompt (a text-to-video model)   -> still.png
  2. different_perspective_guide   poses of the input image and of the still, interpolated over the
                                   clip and drawn as OpenPose skeletons (or depth maps); frame 0 is the
                                   real input image                                          -> guide.mp4
  3. different_perspective_render  VACE render: the guide, a mask that keeps frame 0 and generates the
                                   rest, the input image as reference                      -> render.mp4
  4. different_perspective_final   the render's last frame                      -> {run_id}_final.png

Row 4 is the awaited row: its PNG becomes the orchestrator's output.

Files: `params.py`, `plan.py` (the four rows and their ids), `steps.py`, `client.py`
(`steerable_motion.py different_perspective`).
"""
from .. import TaskType, Workflow

ORCHESTRATOR = "different_perspective_orchestrator"
STEP_STILL = "different_perspective_still"
STEP_GUIDE = "different_perspective_guide"
STEP_RENDER = "different_perspective_render"
STEP_FINAL = "different_perspective_final"
STEPS = (STEP_STILL, STEP_GUIDE, STEP_RENDER, STEP_FINAL)

WORKFLOW = Workflow(
    name="perspective",
    task_types=(
        TaskType(ORCHESTRATOR, handler="steps:handle_orchestrator", params="params:PerspectiveParams",
                 summary="a character from one image in a new pose or view, as a PNG", example="params:EXAMPLE"),
        TaskType(STEP_STILL, handler="steps:handle_still", params="params:StepParams", internal=True,
                 summary="step 1: a still of the prompt",
                 example="steps:example_step"),
        TaskType(STEP_GUIDE, handler="steps:handle_guide", params="params:StepParams", internal=True,
                 summary="step 2: the pose (or depth) guide video",
                 example="steps:example_step"),
        TaskType(STEP_RENDER, handler="steps:handle_render", params="params:StepParams", internal=True,
                 summary="step 3: the VACE render",
                 example="steps:example_step"),
        TaskType(STEP_FINAL, handler="steps:handle_final", params="params:StepParams", internal=True,
                 summary="step 4: the render's last frame as the run's PNG",
                 example="steps:example_step"),
    ),
    client="client:register",
)
