"""The arithmetic of joining clips (docs/JOINING.md): pure functions over frame counts and indices.

One join bridges clip A into clip B. The transition T is a VACE render of `ctx_a + gap + ctx_b` frames:
A's context frames, `gap` generated frames, B's context frames. The stitch then joins [A', T, B'] with a
cross-fade over each context (A' is A without the frames REPLACE removes from its tail, B' is B without
those it removes from its head), so the blended frames on each side show the same source frames.

Wan renders 4n+1 frames. The rounding is taken out of the requested gap (down to the next 4n+1), never
out of a context; only when the gap is smaller than the rounding does the gap grow instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ...errors import InvalidParams

INSERT = "insert"
REPLACE = "replace"


class JoinPlanError(InvalidParams):
    """Clips and settings that cannot be joined; the message says why in one line."""


def snap_gap(ctx_a: int, gap: int, ctx_b: int) -> int:
    """The gap that makes ctx_a + gap + ctx_b a 4n+1 length: the requested one shortened by the
    rounding (8 + 16 + 8 = 32 -> gap 13, 29 frames), or lengthened when it is too short to give it."""
    desired = ctx_a + gap + ctx_b
    shift = (desired - 1) % 4
    return gap - shift if gap >= shift else gap - shift + 4


@dataclass(frozen=True)
class JoinPlan:
    """Which frames of A and B a join keeps, removes, shows as context and generates."""

    mode: str            # INSERT or REPLACE
    len_a: int           # clip A's frames (after resampling to the join's frame rate)
    len_b: int
    ctx_a: int           # context frames taken from A (and cross-faded at the A/T seam)
    ctx_b: int
    gap_requested: int
    gap: int             # generated frames in T (the requested gap after the 4n+1 rounding)
    removed_a: int       # frames REPLACE removes from A's tail (g1), 0 in INSERT
    removed_b: int       # frames REPLACE removes from B's head (g2), 0 in INSERT
    bridging: bool = False

    # ---- the transition ---------------------------------------------------------------------------
    @property
    def length(self) -> int:
        """T's frames: what the render is asked for (always 4n+1)."""
        return self.ctx_a + self.gap + self.ctx_b

    @property
    def context_a(self) -> range:
        """A's frames shown at T[0 .. ctx_a-1]: the ones just before the removed tail."""
        end = self.len_a - self.removed_a
        return range(end - self.ctx_a, end)

    @property
    def context_b(self) -> range:
        """B's frames shown at T[ctx_a + gap ..]: the ones just after the removed head."""
        return range(self.removed_b, self.removed_b + self.ctx_b)

    @property
    def pins(self) -> dict[int, tuple[str, int]]:
        """keep_bridging_images: T index -> (clip, frame) pinned inside the gap (A's last context frame a
        third of the way in, B's first two thirds in); none when the gap is under 3 frames."""
        if not self.bridging or self.gap < 3:
            return {}
        return {self.ctx_a + self.gap // 3: ("a", self.context_a[-1]),
                self.ctx_a + 2 * self.gap // 3: ("b", self.context_b[0])}

    def guide_layout(self) -> list[Optional[tuple[str, int]]]:
        """What each guide frame holds: ("a", i) / ("b", j) a source frame (kept), None grey (generated)."""
        layout: list[Optional[tuple[str, int]]] = [("a", i) for i in self.context_a]
        layout += [None] * self.gap
        layout += [("b", j) for j in self.context_b]
        for index, source in self.pins.items():
            layout[index] = source
        return layout

    @property
    def kept_in_guide(self) -> list[int]:
        """Guide indices the mask keeps (black): the contexts and the pins."""
        return [k for k, source in enumerate(self.guide_layout()) if source is not None]

    # ---- the stitch -------------------------------------------------------------------------------
    @property
    def kept_a(self) -> range:
        """A' : A's frames that stay in the output."""
        return range(0, self.len_a - self.removed_a)

    @property
    def kept_b(self) -> range:
        return range(self.removed_b, self.len_b)

    @property
    def removed(self) -> tuple[range, range]:
        return range(self.len_a - self.removed_a, self.len_a), range(0, self.removed_b)

    @property
    def clip_lengths(self) -> list[int]:
        """The three clips the stitch joins: A', T, B'."""
        return [len(self.kept_a), self.length, len(self.kept_b)]

    @property
    def overlaps(self) -> list[int]:
        """Cross-faded frames at the A'/T and T/B' seams: each context, whole."""
        return [self.ctx_a, self.ctx_b]

    @property
    def final_frames(self) -> int:
        return sum(self.clip_lengths) - sum(self.overlaps)

    def output_layout(self) -> list[tuple]:
        """What each output frame is: ("a", i), ("t", k), ("b", j) copied, or ("fade", (clip, i), ("t", k))
        / ("fade", ("t", k), ("b", j)) cross-faded."""
        out: list[tuple] = []
        a_copy = len(self.kept_a) - self.ctx_a
        out += [("a", i) for i in range(a_copy)]
        out += [("fade", ("a", i), ("t", k)) for k, i in enumerate(self.context_a)]
        out += [("t", k) for k in range(self.ctx_a, self.ctx_a + self.gap)]
        out += [("fade", ("t", self.ctx_a + self.gap + k), ("b", j)) for k, j in enumerate(self.context_b)]
        out += [("b", j) for j in range(self.context_b.stop, self.len_b)]
        return out

    def to_json(self) -> dict:
        return {"mode": self.mode, "len_a": self.len_a, "len_b": self.len_b, "ctx_a": self.ctx_a,
                "ctx_b": self.ctx_b, "gap_requested": self.gap_requested, "gap": self.gap,
                "removed_a": self.removed_a, "removed_b": self.removed_b, "bridging": self.bridging,
                "length": self.length, "final_frames": self.final_frames}


def plan_join(len_a: int, len_b: int, *, context: int = 8, gap: int = 53, replace: bool = False,
              bridging: bool = False) -> JoinPlan:
    """The plan of one join of clips of `len_a` and `len_b` frames (at the join's frame rate)."""
    if len_a < 1 or len_b < 1:
        raise JoinPlanError(f"clips need at least 1 frame each, got {len_a} and {len_b}")
    if context < 1:
        raise JoinPlanError(f"context_frame_count must be >= 1, got {context}")
    if gap < 1:
        raise JoinPlanError(f"gap_frame_count must be >= 1, got {gap}")
    if not replace:
        ctx = min(context, len_a, len_b)
        return JoinPlan(INSERT, len_a, len_b, ctx, ctx, gap, snap_gap(ctx, gap, ctx), 0, 0, bridging)

    # REPLACE: the gap's frames come out of A's tail (g1) and B's head (g2), each clip keeping at least
    # one frame; the contexts are the frames just outside the removed ones, as many as the clips have.
    # Contexts, rounding and split depend on each other: repeated until they agree.
    ctx_a = ctx_b = min(context, len_a, len_b)
    for _ in range(16):
        gap_used = snap_gap(ctx_a, gap, ctx_b)
        if gap_used > (len_a - 1) + (len_b - 1):
            raise JoinPlanError(f"replace mode removes {gap_used} frames but the clips ({len_a} and {len_b} "
                                f"frames) can give at most {len_a - 1 + len_b - 1}; use a smaller "
                                f"gap_frame_count or insert mode")
        g1 = gap_used // 2
        g2 = gap_used - g1
        if g1 > len_a - 1:
            g1, g2 = len_a - 1, g2 + g1 - (len_a - 1)
        if g2 > len_b - 1:
            g1, g2 = g1 + g2 - (len_b - 1), len_b - 1
        new_a, new_b = min(context, len_a - g1), min(context, len_b - g2)
        if (new_a, new_b) == (ctx_a, ctx_b):
            return JoinPlan(REPLACE, len_a, len_b, ctx_a, ctx_b, gap, gap_used, g1, g2, bridging)
        ctx_a, ctx_b = new_a, new_b
    raise JoinPlanError(f"no replace-mode plan for clips of {len_a} and {len_b} frames with "
                        f"gap_frame_count {gap}; use insert mode")


def chain_frames(plans: list[JoinPlan]) -> int:
    """The final length of a chain: each join's output is the next join's clip A."""
    return plans[-1].final_frames if plans else 0


def plan_chain(lengths: list[int], *, context: int = 8, gaps: list[int], replace: list[bool],
               bridging: Optional[list[bool]] = None, contexts: Optional[list[int]] = None) -> list[JoinPlan]:
    """The plans of a chain of joins over clips of `lengths` frames: join i joins the output of join
    i-1 (clip 0 for the first) to clip i+1. Per-join lists: gaps, replace, bridging, contexts."""
    plans: list[JoinPlan] = []
    current = lengths[0]
    for i, following in enumerate(lengths[1:]):
        plan = plan_join(current, following, context=contexts[i] if contexts else context, gap=gaps[i],
                         replace=replace[i], bridging=bool(bridging and bridging[i]))
        plans.append(plan)
        current = plan.final_frames
    return plans
