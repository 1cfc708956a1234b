"""utilities: small single-step tasks on images and videos (pose skeleton, one frame of a video,
in-between frames, upscale).

Files: `params.py`, `steps.py`. No `plan.py`: each task is one call of a media tool, whose arithmetic
lives with it in source/media/. No `client.py`: rows are queued with `add_task.py --type <task type>`.
"""
from .. import TaskType, Workflow

WORKFLOW = Workflow(
    name="utilities",
    task_types=(
        TaskType("generate_openpose", handler="steps:handle_generate_openpose", params="params:OpenposeParams",
                 summary="pose skeleton PNG (and keypoints JSON) of an image",
                 example="params:EXAMPLE_OPENPOSE"),
        TaskType("extract_frame", handler="steps:handle_extract_frame", params="params:ExtractFrameParams",
                 summary="one frame of a video as a PNG",
                 example="params:EXAMPLE_EXTRACT_FRAME"),
        TaskType("rife_interpolate_images", handler="steps:handle_rife_interpolate_images",
                 params="params:InterpolateParams", summary="in-between frames of two images as an mp4",
                 example="params:EXAMPLE_INTERPOLATE"),
        TaskType("upscale", handler="steps:handle_upscale", params="params:UpscaleParams",
                 summary="an image or a video upscaled",
                 example="params:EXAMPLE_UPSCALE"),
    ),
)
