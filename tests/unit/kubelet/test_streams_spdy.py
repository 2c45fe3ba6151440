"""SPDY/3.1: the header dictionary, header blocks, framing, and the server session in memory."""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest

from kubelite.kubelet.streams import spdy


def test_dictionary_is_the_spdy3_one() -> None:
    d = spdy.HEADER_DICTIONARY
    assert len(d) == 1423
    assert d.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert d.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")
    assert zlib.adler32(d) == 0xE3C6A7C2  # the dictionary id a Go peer checks in the zlib header


def test_header_blocks_share_one_compression_context() -> None:
    sender, receiver = spdy.HeaderCompressor(), spdy.HeaderDecompressor()
    first = {"streamType": "error", "Port": "80", "multi": ["a", "b"]}
    blocks = [sender.compress(first), sender.compress({"streamtype": "data", "port": "80"})]
    assert receiver.decompress(blocks[0]) == {"streamtype": ["error"], "port": ["80"], "multi": ["a", "b"]}
    assert receiver.decompress(blocks[1]) == {"streamtype": ["data"], "port": ["80"]}
    assert len(blocks[1]) < len(blocks[0])  # the second block leans on the first
    with pytest.raises(spdy.SpdyError):
        spdy.HeaderDecompressor().decompress(blocks[1])  # out of context


def test_frames_split_at_any_byte() -> None:
    compressor = spdy.HeaderCompressor()
    wire = (
        spdy.syn_stream_frame(compressor, 1, {"streamtype": "stdout"})
        + spdy.data_frame(1, b"hello")
        + spdy.data_frame(1, b"", fin=True)
        + spdy.ping_frame(7)
        + spdy.rst_stream_frame(3, spdy.CANCEL)
        + spdy.goaway_frame(1)
        + spdy.control_frame(spdy.SETTINGS, 0, struct.pack("!I", 0))
    )
    reader = spdy.FrameReader()
    frames = [f for i in range(len(wire)) for f in reader.feed(wire[i : i + 1])]
    assert [(f.control, f.type) for f in frames] == [
        (True, spdy.SYN_STREAM),
        (False, 0),
        (False, 0),
        (True, spdy.PING),
        (True, spdy.RST_STREAM),
        (True, spdy.GOAWAY),
        (True, spdy.SETTINGS),
    ]
    syn, data, fin, ping, rst = frames[:5]
    assert syn.stream_id == 1 and syn.headers == {"streamtype": ["stdout"]}
    assert (data.stream_id, data.payload, data.fin) == (1, b"hello", False)
    assert fin.fin and fin.payload == b""
    assert ping.value == 7
    assert (rst.stream_id, rst.value) == (3, spdy.CANCEL)


def test_other_versions_are_refused() -> None:
    frame = struct.pack("!HHI", 0x8000 | 2, spdy.PING, 4) + b"\0\0\0\1"
    with pytest.raises(spdy.SpdyError):
        spdy.FrameReader().feed(frame)


class MemoryChannel:
    """A ByteChannel whose peer is the test."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[bytes] = asyncio.Queue()
        self.sent = spdy.FrameReader()
        self.frames: list[spdy.Frame] = []
        self.closed = False

    async def read(self) -> bytes:
        return await self.incoming.get()

    async def write(self, data: bytes) -> None:
        self.frames += self.sent.feed(data)

    async def close(self) -> None:
        self.closed = True


async def test_session_streams_pings_resets_and_goaway() -> None:
    channel = MemoryChannel()
    conn = spdy.SpdyConnection(channel)
    runner = asyncio.ensure_future(conn.run())
    client = spdy.HeaderCompressor()
    channel.incoming.put_nowait(spdy.syn_stream_frame(client, 1, {"streamType": "stdin"}))
    stream = await conn.accept(1)
    assert stream is not None and stream.header("streamtype") == "stdin"
    assert channel.frames[-1].type == spdy.SYN_REPLY and channel.frames[-1].stream_id == 1

    channel.incoming.put_nowait(
        spdy.data_frame(1, b"abc") + spdy.ping_frame(5) + spdy.data_frame(1, b"", fin=True)
    )
    assert await stream.read() == b"abc"
    assert await stream.read() == b""
    assert any(f.type == spdy.PING and f.value == 5 for f in channel.frames if f.control)

    await stream.write(b"x" * (spdy.MAX_DATA + 10))
    await stream.close()
    data = [f for f in channel.frames if not f.control]
    assert [len(f.payload) for f in data] == [spdy.MAX_DATA, 10, 0] and data[-1].fin
    await stream.write(b"after the FIN")  # dropped
    assert len([f for f in channel.frames if not f.control]) == 3

    channel.incoming.put_nowait(spdy.syn_stream_frame(client, 3, {"streamType": "stdout"}))
    other = await conn.accept(1)
    assert other is not None
    channel.incoming.put_nowait(spdy.rst_stream_frame(3, spdy.CANCEL))
    assert await other.read() == b""
    assert other.reset

    channel.incoming.put_nowait(spdy.syn_stream_frame(client, 4, {}))  # even ids are the server's
    channel.incoming.put_nowait(spdy.goaway_frame(3))
    await asyncio.wait_for(runner, 5)
    assert any(f.type == spdy.RST_STREAM and f.stream_id == 4 for f in channel.frames if f.control)
    assert await conn.accept(0.1) is None
    await conn.close()
    assert channel.closed
