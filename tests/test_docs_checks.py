"""The documents say what the code does: no note to an editor, no pointer outside the repository, and the
NaN message docs/LIMITS.md quotes is the one a person gets."""
from __future__ import annotations

import math
import re

import pytest

from source.queue.model import InvalidTask, check_storable
from tests.helpers.workers import ROOT


def test_supabase_doc_opens_with_its_subject():
    lines = (ROOT / "docs" / "SUPABASE.md").read_text().splitlines()
    assert lines[0].startswith("# ") and "lead" not in " ".join(lines[:5]) and "README" not in lines[2]


def test_docs_and_skip_reasons_point_inside_the_repository():
    texts = {path: path.read_text() for path in [*(ROOT / "docs").glob("*.md"), ROOT / "README.md",
                                                 ROOT / "tests" / "test_wan2gp_real.py"]}
    for path, text in texts.items():
        assert "../shared" not in text, path


def test_the_nan_message_is_the_one_limits_quotes():
    quoted = re.search(r"\| NaN and infinities \| refused everywhere: `([^`]+)`", (ROOT / "docs" / "LIMITS.md").read_text())
    assert quoted is not None
    with pytest.raises(InvalidTask) as info:
        check_storable({"guidance_scale": math.nan})
    assert str(info.value).startswith(quoted.group(1))
    with pytest.raises(InvalidTask, match=r"^a\.b\[1\] must be a finite number, got -inf"):
        check_storable({"a": {"b": [1, -math.inf]}})


def test_the_readme_has_a_troubleshooting_section():
    text = (ROOT / "README.md").read_text()
    section = text.split("## When something is off", 1)[1].split("\n## ", 1)[0]
    for topic in ("No worker is running", "grey", "failed row", "Where things are"):
        assert topic in section, topic
