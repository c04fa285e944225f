"""What the last commit of posts.yaml said, for a check that has no ledger to ask (a pre-commit hook)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class CommittedTimes:
    """`unchanged_times`, asked of git only when a post has a past time to excuse (most checks have none)."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self._found: frozenset[str] | None = None

    def __contains__(self, post_id: object) -> bool:
        if self._found is None:
            self._found = unchanged_times(self.config)
        return post_id in self._found


def unchanged_times(config: Path) -> frozenset[str]:
    """The posts whose `at` is the same in the last commit as in the file now: a past one is old news.
    Empty outside a git work tree, or when the committed file cannot be read."""
    import subprocess  # here, not at the top: most checks never ask git, and `validate` starts faster

    try:
        shown = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            ["git", "-C", str(config.resolve().parent), "show", f"HEAD:./{config.name}"],  # noqa: S607
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    if shown.returncode != 0:
        return frozenset()
    try:
        committed = _times(shown.stdout)
        current = _times(config.read_bytes())
    except (OSError, yaml.YAMLError):
        return frozenset()
    return frozenset(post_id for post_id, at in current.items() if committed.get(post_id) == at)


def _times(data: bytes) -> dict[str, str]:
    document: Any = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    posts = document.get("posts") if isinstance(document, dict) else None
    found = {}
    for post in posts if isinstance(posts, list) else []:
        if isinstance(post, dict) and "id" in post and "at" in post:
            found[str(post["id"])] = str(post["at"])
    return found
