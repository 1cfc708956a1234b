"""Audio laid under a finished video: the video's packets copied untouched, the audio encoded as AAC.

The video is never shortened: audio longer than the video is cut at the video's end, shorter audio
leaves the rest silent (the player simply has no audio there).
"""
from __future__ import annotations

from pathlib import Path

import av

from ..errors import UserError


def mux_audio(video: str | Path, audio: str | Path, output: str | Path, bitrate: int = 192_000) -> Path:
    """`video` with the first audio stream of `audio` (any file PyAV decodes), written to `output`."""
    output = Path(output)
    tmp = output.with_name(output.stem + ".partial" + output.suffix)
    try:
        with av.open(str(video)) as vin, av.open(str(audio)) as ain, av.open(str(tmp), "w", format="mp4") as out:
            if not ain.streams.audio:
                raise UserError(f"audio file {Path(audio).name} has no audio stream", field="audio_url")
            v_in = vin.streams.video[0]
            duration = float(v_in.frames / v_in.average_rate) if v_in.frames and v_in.average_rate else None
            if duration is None and vin.duration:
                duration = vin.duration / av.time_base
            v_out = out.add_stream_from_template(v_in)
            a_in = ain.streams.audio[0]
            rate = a_in.codec_context.sample_rate or 44100
            a_out = out.add_stream("aac", rate=rate)
            a_out.bit_rate = bitrate
            a_out.layout = "stereo"
            for packet in vin.demux(v_in):
                if packet.dts is None:
                    continue
                packet.stream = v_out
                out.mux(packet)
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
            written = 0
            limit = int(duration * rate) if duration else None
            for frame in ain.decode(a_in):
                if limit is not None and written >= limit:
                    break
                frame.pts = None
                for chunk in resampler.resample(frame):
                    if limit is not None and written + chunk.samples > limit:
                        break
                    written += chunk.samples
                    for packet in a_out.encode(chunk):
                        out.mux(packet)
            for packet in a_out.encode(None):
                out.mux(packet)
    except av.error.FFmpegError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot add audio {Path(audio).name}: {exc}", field="audio_url") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(output)
    return output
