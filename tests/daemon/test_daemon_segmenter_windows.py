"""Pure pieces: utterance boundaries from VAD flags, sliding windows, the sample buffer."""

import numpy as np
import pytest

from daemon.segmenter import Segmenter, SegmenterConfig, segments
from daemon.windows import StreamBuffer, WindowPlanner

CFG = SegmenterConfig(start_frames=3, end_frames=10, pad_frames=2, max_frames=100)


def test_two_utterances_with_pause_and_click():
    flags = [0] * 20 + [1] * 40 + [0] * 5 + [1] * 20 + [0] * 30 + [1, 1] + [0] * 20 \
        + [1] * 30 + [0] * 20
    assert segments(flags, CFG) == [(18, 87), (135, 169)]


def test_short_pause_is_bridged_and_click_ignored():
    flags = [1] * 10 + [0] * 9 + [1] * 10 + [0] * 15 + [1, 0, 1, 0] + [0] * 10
    assert segments(flags, CFG) == [(0, 31)]


def test_long_speech_is_split_and_flush_closes():
    got = segments([1] * 250, CFG)
    assert got == [(0, 100), (100, 200), (200, 250)]


def test_streaming_equals_offline():
    rng = np.random.default_rng(0)
    flags = list(rng.random(2000) < 0.5)
    seg = Segmenter(CFG)
    events = [b for f in flags for b in seg.push(f)] + seg.flush()
    kinds = [b.kind for b in events]
    assert kinds == ["start", "end"] * (len(kinds) // 2)
    assert len(segments(flags, CFG)) == len(kinds) // 2


def test_config_validation():
    with pytest.raises(ValueError):
        SegmenterConfig(start_frames=0)


def test_windows_slide_by_hop_as_audio_arrives():
    planner = WindowPlanner(start=100, length=32, hop=8)
    assert planner.due(131) == []
    assert planner.due(132) == [(100, 132)]
    assert planner.due(150) == [(108, 140), (116, 148)]
    assert planner.count == 3


def test_buffer_addresses_absolute_samples():
    buf = StreamBuffer()
    buf.append(np.arange(10, dtype=np.float32))
    buf.discard_before(4)
    buf.append(np.arange(10, 15, dtype=np.float32))
    assert buf.base == 4 and buf.end == 15
    assert buf.slice(8, 12).tolist() == [8, 9, 10, 11]
    with pytest.raises(IndexError):
        buf.slice(2, 6)


def test_buffer_grows_and_compacts_without_losing_samples():
    buf = StreamBuffer(capacity=8)
    stream = np.arange(1000, dtype=np.float32)
    for i in range(0, 1000, 7):
        buf.append(stream[i:i + 7])
        buf.discard_before(buf.end - 30)
        assert buf.slice(buf.base, buf.end).tolist() == stream[buf.base:buf.end].tolist()
    assert buf.end == 1000
