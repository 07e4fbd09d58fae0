"""The daemon's loop: blocks -> resample -> VAD -> segmenter -> windows -> worker -> events.

Thin glue around the pure pieces; it owns the timers (status heartbeat,
systemd watchdog, device recovery) and the shutdown order.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from typing import Any

import numpy as np
import webrtcvad

from ccser_core.audio import WORKING_RATE, float_to_pcm16
from ccser_core.events import EmotionEvent, StatusEvent, UtteranceEvent, VadEvent
from ccser_core.features import pitch_of
from ccser_core.gate import evidence, is_speech
from ccser_core.model import LoadedModel
from ccser_core.vad import frame_length
from daemon import sdnotify
from daemon.capture import END, Block, BlockQueue, StreamResampler
from daemon.config import DaemonConfig
from daemon.inference import Classifier, InferenceWorker, Job, Result
from daemon.publisher import Publisher
from daemon.segmenter import Boundary, Segmenter, SegmenterConfig
from daemon.windows import StreamBuffer, WindowPlanner

#: The no-speech gate on a pending VAD segment: first checked after GATE_MIN_S of it,
#: then every GATE_STEP_S of new audio, over at most its last GATE_SPAN_S (seconds); and
#: on each window that falls due while the segment is pending, over that window's audio.
GATE_MIN_S, GATE_STEP_S, GATE_SPAN_S = 0.3, 0.25, 1.0

log = logging.getLogger(__name__)


def segmenter_config(config: DaemonConfig) -> SegmenterConfig:
    """Millisecond/second settings -> VAD frame counts."""
    def frames(ms: float) -> int:
        return max(1, round(ms / config.vad_frame_ms))

    return SegmenterConfig(start_frames=frames(config.speech_start_ms),
                           end_frames=frames(config.hangover_ms),
                           pad_frames=round(config.preroll_ms / config.vad_frame_ms),
                           max_frames=frames(config.max_utterance * 1000))


class Daemon:
    """One session: a source, a model and a publisher, run until stopped or end of source."""

    def __init__(self, config: DaemonConfig, model: LoadedModel, source: Any,
                 publisher: Publisher) -> None:
        self.config, self.model, self.source, self.pub = config, model, source, publisher
        self.blocks = BlockQueue(config.capture_queue)
        self.worker = InferenceWorker(Classifier(model, config.smoothing), self._on_result,
                                      config.max_pending, source.lossless)
        self.resampler = StreamResampler(source.rate)
        self.buffer = StreamBuffer()
        self.vad = webrtcvad.Vad(config.vad_aggressiveness)
        self.frame = frame_length(WORKING_RATE, config.vad_frame_ms)
        self.segmenter = Segmenter(segmenter_config(config))
        self.keep_frames = self.segmenter.config.start_frames + self.segmenter.config.pad_frames + 1
        self.utterance_id = -1
        self.utterance_start: int | None = None
        self.gate = model.gate()
        self.pending = False  # the open VAD segment is not yet confirmed as speech
        self.gate_checked = 0  # stream sample up to which the pending segment was checked
        self.rejected_segments = 0  # VAD segments the gate found no speech in
        self.rejected_windows = 0  # windows of pending segments without speech (dropped)
        self.planner: WindowPlanner | None = None
        self.windows_sent = 0  # of the open utterance
        self.utterances = 0
        self.started = time.monotonic()
        self.stream_start_time: float | None = None
        self.state = "starting"
        self.message = ""
        self.latencies: collections.deque[float] = collections.deque(maxlen=200)

    # --- events -------------------------------------------------------------------------
    def status(self, state: str, message: str = "") -> None:
        self.state, self.message = state, message
        self.pub.poll()
        self.pub.publish(lambda seq, now: StatusEvent(
            seq=seq, time=now, state=state, uptime_s=time.monotonic() - self.started,
            audio_s=self.buffer.end / WORKING_RATE, overflows=self.blocks.overflows,
            dropped_windows=self.worker.dropped_windows, dropped_messages=self.pub.dropped,
            queue_depth=self.blocks.qsize() + self.worker.pending,
            windows=self.worker.done["window"], utterances=self.utterances,
            model_id=self.model.model_id, input=self.source.name,
            stream_start_time=self.stream_start_time, message=message,
            extra={"subscribers": self.pub.clients,
                   "dropped_utterances": self.worker.dropped_utterances,
                   "rejected_segments": self.rejected_segments,
                   "rejected_windows": self.rejected_windows,
                   **self._latency_summary()}))

    def _latency_summary(self) -> dict[str, float]:
        """Window audio complete -> published, ms, over the last 200 windows."""
        if not self.latencies:
            return {}
        p50, p95 = np.percentile(np.asarray(self.latencies) * 1000, [50, 95])
        return {"window_latency_p50_ms": float(p50), "window_latency_p95_ms": float(p95)}

    def _on_result(self, result: Result) -> None:
        job, proba = result.job, result.probabilities
        emotions = self.model.emotions
        best = int(proba.argmax())
        fields = dict(
            t_start=job.start / WORKING_RATE, t_end=job.end / WORKING_RATE,
            utterance_id=job.utterance_id, emotion=emotions[best], confidence=float(proba[best]),
            probabilities={e: float(p) for e, p in zip(emotions, proba, strict=True)},
            model_id=self.model.model_id,
            features=[float(v) for v in result.features.ravel()] if self.config.emit_features
            else None)
        if job.kind == "window":
            event = self.pub.publish(lambda seq, now: EmotionEvent(seq=seq, time=now, **fields))
            self.latencies.append(event.time - job.ready)
        else:
            self.pub.publish(lambda seq, now: UtteranceEvent(seq=seq, time=now, **fields,
                                                             n_windows=job.n_windows))
            log.info("utterance %d [%.2f-%.2f s]: %s (%.2f)", job.utterance_id,
                     fields["t_start"], fields["t_end"], fields["emotion"], fields["confidence"])

    # --- audio path ---------------------------------------------------------------------
    def process(self, block: Block, last: bool = False) -> None:
        """Feed one capture block through resampling, VAD, segmentation and windowing."""
        if self.stream_start_time is None:
            self.stream_start_time = block.captured - len(block.samples) / self.source.rate
        self.buffer.append(self.resampler(block.samples, last=last))
        pos = self.segmenter.frame * self.frame
        while pos + self.frame <= self.buffer.end:
            pcm = float_to_pcm16(self.buffer.slice(pos, pos + self.frame))
            for boundary in self.segmenter.push(self.vad.is_speech(pcm, WORKING_RATE)):
                self._boundary(boundary, block.captured)
            pos += self.frame
        if self.pending:
            self._confirm(self.buffer.end)
        if self.planner is not None:
            for start, end in self.planner.due(self.buffer.end):
                self._window(start, end, block.captured)
        keep = self.utterance_start if self.utterance_start is not None else \
            pos - self.keep_frames * self.frame
        self.buffer.discard_before(keep)

    def _window(self, start: int, end: int, captured: float) -> None:
        """A window that fell due. While its segment is pending, the gate judges the
        window's own audio at once (no later than the window is due, so nothing waits for
        confirmation): speech confirms the segment and the window is published, anything
        else is dropped and counted. The gate's pitch track goes on to the features."""
        samples = self.buffer.slice(start, end)
        pitch = None
        if self.pending:
            cfg = self.model.feature_config
            pitch = pitch_of(samples, WORKING_RATE, cfg)
            if not evidence(samples, WORKING_RATE, cfg, pitch=pitch).passes(self.gate):
                self.rejected_windows += 1
                return
            self._open()
        self.windows_sent += 1
        self.worker.submit(Job("window", self.utterance_id, start, end, samples, captured,
                               pitch=pitch))

    def _confirm(self, end: int, final: bool = False) -> bool:
        """Open the pending VAD segment as an utterance once its audio holds speech
        (`ccser_core.gate`: WebRTC VAD alone takes noise, tones and hum for speech).
        Checked every GATE_STEP_S of new audio over at most the last GATE_SPAN_S, and once
        more at the segment's end; windows due meanwhile are judged by `_window`."""
        start = self.utterance_start
        assert start is not None
        if not final and (end - start < GATE_MIN_S * WORKING_RATE
                          or end - self.gate_checked < GATE_STEP_S * WORKING_RATE):
            return False
        self.gate_checked = end
        audio = self.buffer.slice(max(start, end - round(GATE_SPAN_S * WORKING_RATE)), end)
        if not is_speech(audio, WORKING_RATE, self.model.feature_config, self.gate):
            return False
        self._open()
        return True

    def _open(self) -> None:
        """The pending segment holds speech: it becomes an utterance (vad start published
        with the segment's start time)."""
        start = self.utterance_start
        assert start is not None and self.pending
        self.pending = False
        self.utterance_id += 1
        uid = self.utterance_id
        self.pub.publish(lambda seq, now: VadEvent(seq=seq, time=now, state="start",
                                                   t=start / WORKING_RATE, utterance_id=uid))

    def _boundary(self, boundary: Boundary, captured: float) -> None:
        sample = boundary.frame * self.frame
        if boundary.kind == "start":
            self.utterance_start = self.gate_checked = sample
            self.pending = True  # until the gate hears speech
            self.planner = WindowPlanner(sample, round(self.config.window * WORKING_RATE),
                                         round(self.config.hop * WORKING_RATE))
            self.windows_sent = 0
            return
        start = self.utterance_start
        assert start is not None
        rejected = self.pending and not self._confirm(sample, final=True)
        self.utterance_start, self.planner, self.pending = None, None, False
        if rejected:
            self.rejected_segments += 1
            return
        if sample - start >= self.config.min_utterance * WORKING_RATE:
            audio = self.buffer.slice(start, sample)
            if self.windows_sent == 0:  # shorter than a window, or no window held speech
                first = max(start, sample - round(self.config.window * WORKING_RATE))
                self.windows_sent = 1
                self.worker.submit(Job("window", self.utterance_id, first, sample,
                                       audio[first - start:], captured))
            self.utterances += 1
            self.worker.submit(Job("utterance", self.utterance_id, start, sample, audio,
                                   captured, n_windows=self.windows_sent))
        uid = self.utterance_id
        self.pub.publish(lambda seq, now: VadEvent(seq=seq, time=now, state=boundary.kind,
                                                   t=sample / WORKING_RATE, utterance_id=uid))

    def finish_stream(self) -> None:
        """End of the source or a stop signal: close the open utterance (vad end, and
        its utterance event if it is long enough)."""
        for boundary in self.segmenter.flush():
            self._boundary(boundary, time.time())

    # --- lifecycle ----------------------------------------------------------------------
    def run(self, stop: threading.Event) -> int:
        """Process until `stop` is set or the source ends; returns the exit status."""
        self.worker.classifier.warm_up(self.config.window)
        self.worker.start()
        self.source.start(self.blocks)
        self.status("running")
        sdnotify.notify("READY=1\nSTATUS=listening on " + self.pub.address)
        log.info("ccserd running: source %s, model %s, publishing on %s",
                 self.source.name, self.model.model_id, self.pub.address)
        watchdog = sdnotify.watchdog_period()
        next_status = next_ping = next_poll = time.monotonic()
        next_status += self.config.status_interval
        retry_at, backoff, ended = None, 0.5, False
        while not stop.is_set():
            try:
                block = self.blocks.get(timeout=0.05)
                if block is END:
                    ended = True
                    break
                self.process(block)
            except queue.Empty:
                pass
            now = time.monotonic()
            if watchdog is not None and now >= next_ping:
                sdnotify.notify("WATCHDOG=1")
                next_ping = now + watchdog
            if now >= next_poll:  # a new subscriber gets the current status at once
                next_poll = now + 0.05
                if self.pub.poll():
                    self.status(self.state, self.message)
            if now >= next_status:
                self.status(self.state, self.message)
                next_status = now + self.config.status_interval
            problem = self.source.health()
            if problem and retry_at is None:
                log.warning("%s; retrying", problem)
                self.source.stop()
                self.status("device_lost", problem)
                retry_at = now + backoff
            elif retry_at is not None and now >= retry_at:
                retry_at, backoff = self._reopen(now, backoff)
        return self._shutdown(ended)

    def _reopen(self, now: float, backoff: float) -> tuple[float | None, float]:
        try:
            self.source.start(self.blocks)
        except Exception as exc:  # PortAudio/device errors vary by host API
            backoff = min(backoff * 2, self.config.retry_max)
            log.warning("reopening %s failed (%s); next try in %.1f s",
                        self.source.name, exc, backoff)
            return now + backoff, backoff
        log.info("%s: input restored", self.source.name)
        self.status("running", "device restored")
        return None, 0.5

    def _shutdown(self, ended: bool) -> int:
        sdnotify.notify("STOPPING=1")
        self.source.stop()
        if ended and self.resampler.in_rate != WORKING_RATE:  # the resampler's last samples
            self.process(Block(np.zeros(0, dtype=np.float32), time.time()), last=True)
        self.finish_stream()
        self.worker.drain(timeout=60.0 if ended and self.source.lossless else 1.5)
        self.worker.stop()
        error = getattr(self.source, "error", None)
        self.status("stopping", error or ("end of source" if ended else "signal"))
        if error:
            log.error("%s", error)
        log.info("ccserd stopped after %.1f s of audio", self.buffer.end / WORKING_RATE)
        return 1 if error else 0
