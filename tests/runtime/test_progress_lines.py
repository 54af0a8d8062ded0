"""The progress fallback's line reader (runtime/progress.py ``line_reader``) on chunks of output
as the log pump hands them over: lines split across chunks, many per chunk, reports among
ordinary lines, and the pattern read per line."""

from __future__ import annotations

from supervisord_lite.config import ProgressConfig
from supervisord_lite.runtime.progress import ProgressKeeper, line_reader


def _read(config: ProgressConfig, *chunks: bytes) -> list[tuple[float | None, str | None]]:
    keeper = ProgressKeeper()
    seen: list[tuple[float | None, str | None]] = []

    def heard() -> None:
        progress = keeper.progress()
        assert progress is not None
        seen.append((progress.done, progress.phase))

    keeper.listener = heard
    watcher, _ = line_reader(config, keeper, lambda: 1.0)
    for chunk in chunks:
        watcher(chunk)
    return seen


JSON = ProgressConfig(format="json")
REGEX = ProgressConfig(format="regex", pattern=r"^step (?P<done>\d+) (?P<phase>\w+)$")


def test_json_reports_among_ordinary_lines_and_split_across_chunks() -> None:
    seen = _read(
        JSON,
        b'noise\n{"progress": {"done": 1, "phase": "a"}}\nmore "progress" talk\n{"progr',
        b'ess": {"done": 2}}\n',
        b'{"progress": {"done": 3, "phase": "b"}}',  # no newline yet: not a whole line
    )
    assert seen == [(1.0, "a"), (2.0, "a")]


def test_regex_is_matched_per_line_and_every_report_line_counts() -> None:
    seen = _read(
        REGEX,
        b"step 1 load\nnot step 2 x\nstep 3 index\nstep 4 index and more\nstep 5 wr",
        b"ite\n",
    )
    assert seen == [(1.0, "load"), (3.0, "index"), (5.0, "write")]


def test_a_match_spanning_lines_counts_only_as_its_own_line_would() -> None:
    spanning = ProgressConfig(format="regex", pattern=r"step (?P<done>\d+)\s+(?P<phase>\w+)")
    assert _read(spanning, b"step 7\nfinish\nstep 8 end\n") == [(8.0, "end")]


def test_output_without_a_byte_every_match_holds_is_skipped_and_with_it_read() -> None:
    bracket = ProgressConfig(format="regex", pattern=r"\[(?P<done>\d+)\] (?P<phase>\w+)")
    assert _read(bracket, b"no brackets here\nnone\n") == []
    assert _read(bracket, b"noise\n[4] load\n") == [(4.0, "load")]
    assert _read(bracket, b"[4]load\n[5 load]\n") == []  # each needed byte, never all
    assert _read(JSON, b'"progress" but no object\n') == []
