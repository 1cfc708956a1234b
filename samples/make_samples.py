#!/usr/bin/env python3
"""Write the sample images the README's examples use (samples/README.md says where each comes from).

`.venv/bin/python samples/make_samples.py` rewrites them deterministically:
- anchor_{0,1,2}.png: dawn, noon and dusk over the same hills (256x256 RGB), drawn here, so the
  repository carries no third-party pictures for them;
- person.png: scikit-image's astronaut photograph (512x512 RGB, public domain: NASA), when scikit-image
  is installed (`make test` installs it); skipped otherwise.
"""
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 256
# (sky top, sky bottom, sun colour, sun centre, hill colour)
SCENES = [
    ((40, 30, 90), (250, 150, 90), (255, 210, 120), (48, 176), (40, 70, 50)),     # dawn
    ((40, 110, 220), (170, 210, 250), (255, 250, 210), (128, 56), (60, 140, 60)),  # noon
    ((30, 20, 60), (230, 90, 60), (255, 120, 60), (208, 176), (50, 40, 60)),       # dusk
]


def draw_scene(top, bottom, sun, centre, hills) -> Image.Image:
    t = np.linspace(0.0, 1.0, SIZE, dtype=np.float32)[:, None, None]
    sky = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    img = Image.fromarray(np.repeat(sky, SIZE, axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    x, y = centre
    draw.ellipse((x - 26, y - 26, x + 26, y + 26), fill=sun)
    img = img.filter(ImageFilter.GaussianBlur(1.5))
    draw = ImageDraw.Draw(img)
    xs = np.arange(SIZE + 1)
    back = 190 + 18 * np.sin(xs / 37.0) + 10 * np.sin(xs / 13.0 + 1.0)
    front = 215 + 14 * np.sin(xs / 29.0 + 2.0)
    darker = tuple(int(c * 0.7) for c in hills)
    draw.polygon([(0, SIZE)] + [(int(i), float(v)) for i, v in zip(xs, back)] + [(SIZE, SIZE)], fill=darker)
    draw.polygon([(0, SIZE)] + [(int(i), float(v)) for i, v in zip(xs, front)] + [(SIZE, SIZE)], fill=hills)
    return img


def person() -> Image.Image:
    """scikit-image's bundled astronaut photograph (Eileen Collins, NASA; public domain)."""
    import skimage.data

    return Image.fromarray(skimage.data.astronaut())


def main() -> None:
    folder = Path(__file__).resolve().parent
    for i, scene in enumerate(SCENES):
        draw_scene(*scene).save(folder / f"anchor_{i}.png", optimize=True)
        print(folder / f"anchor_{i}.png")
    try:
        image = person()
    except ImportError:
        print("person.png kept as it is: scikit-image is not installed")
        return
    image.save(folder / "person.png", optimize=True)
    print(folder / "person.png")


if __name__ == "__main__":
    main()
