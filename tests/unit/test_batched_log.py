"""The server's log handler: lines held and written in batches of whole lines, each one write of
at most a pipe's atomic size, at once for a warning, and all of them on flush."""

from __future__ import annotations

import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from agentkeep.entrypoints.http.logs import ATOMIC_WRITE, BatchedStreamHandler


class Writes:
    """A stream that records each write."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def _logger(stream: Writes) -> tuple[logging.Logger, BatchedStreamHandler]:
    handler = BatchedStreamHandler(stream)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.Logger("test.batched", logging.INFO)
    logger.addHandler(handler)
    return logger, handler


def test_info_lines_wait_for_a_flush_and_come_out_in_order() -> None:
    stream = Writes()
    logger, handler = _logger(stream)
    logger.info("one")
    logger.info("two")
    assert stream.writes == []
    handler.flush()
    assert stream.writes == ["one\ntwo\n"]
    handler.flush()
    assert stream.writes == ["one\ntwo\n"]  # nothing held, nothing written


def test_a_warning_is_written_at_once_with_the_lines_before_it() -> None:
    stream = Writes()
    logger, _ = _logger(stream)
    logger.info("before")
    logger.warning("trouble")
    assert stream.writes == ["before\ntrouble\n"]


@settings(max_examples=50)
@given(st.lists(st.text(min_size=0, max_size=900), min_size=1, max_size=60))
def test_every_write_is_whole_lines_within_the_atomic_size(messages: list[str]) -> None:
    messages = [m.replace("\n", " ").replace("\r", " ") for m in messages]
    stream = Writes()
    logger, handler = _logger(stream)
    for message in messages:
        logger.info(message)
    handler.flush()

    assert "".join(stream.writes) == "".join(f"{m}\n" for m in messages)
    for write in stream.writes:
        assert write.endswith("\n")
        assert len(write.encode("utf-8", "surrogatepass")) <= ATOMIC_WRITE or write.count("\n") == 1
