"""Watch streams split newline-delimited events however the chunks fall."""

from __future__ import annotations

from collections.abc import AsyncIterator


async def test_watch_lines_split_across_and_within_chunks() -> None:
    from kubelite.client.watch import WatchStream

    class Content:
        def __init__(self, chunks: list[bytes]) -> None:
            self.chunks = chunks

        async def iter_any(self) -> AsyncIterator[bytes]:
            for c in self.chunks:
                yield c

    class Response:
        def __init__(self, chunks: list[bytes]) -> None:
            self.content = Content(chunks)

    stream = WatchStream(None, "/", {}, None, lambda b: b)  # type: ignore[arg-type]
    data = b'{"a":1}\n\n{"b":2}\n{"c":' + b"3" * 50 + b"}\n" + b'{"d":4}'
    for size in (1, 2, 5, 7, 64, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        lines = [line async for line in stream._line_iter(Response(chunks))]  # type: ignore[arg-type]
        assert lines == [b'{"a":1}', b'{"b":2}', b'{"c":' + b"3" * 50 + b"}", b'{"d":4}'], size
