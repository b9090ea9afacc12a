"""The local microphone as a badge: sound card blocks become protocol frames for the assembler.

A USB microphone or a badge dock on the gateway records through PortAudio (``sounddevice``).
Each block of ``frame_ms`` is wrapped in the same :class:`~gateway.protocol.frames.AudioFrame`
a badge sends and goes through an :class:`~gateway.protocol.assembler.Assembler` into the
:class:`~gateway.ingest.recorder.Recorder`, so the microphone's audio is spooled encrypted,
queued and transcribed exactly like a badge's. A long recording is cut into conversations of at
most ``session_s`` seconds. The capture thread owns its own assembler and recorder (badge ids are
disjoint, so it never shares state with the MQTT thread).

PortAudio is imported only when a device is opened: the gateway runs without a sound library.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.errors import GatewayError
from gateway.ingest.recorder import Recorder
from gateway.protocol.assembler import Assembler
from gateway.protocol.control import SessionStart, SessionStop
from gateway.protocol.frames import AudioFrame, Codec, check_format

log = logging.getLogger(__name__)
FLUSH_EVERY_S = 1.0  #: how often the microphone's audio and progress are made durable


class CaptureError(GatewayError):
    """The microphone could not be opened or read."""


@dataclass(frozen=True)
class CaptureFormat:
    """What is asked of the device: 16-bit PCM at this rate and channel count, in frames."""

    sample_rate: int = 16000
    channels: int = 1
    frame_ms: int = 100

    def __post_init__(self) -> None:
        check_format(self.sample_rate, self.channels)
        if not 10 <= self.frame_ms <= 1000:
            raise ValueError("frame_ms must be 10..1000")

    @property
    def frame_samples(self) -> int:
        """Samples per channel in one frame."""
        return self.sample_rate * self.frame_ms // 1000

    @property
    def frame_bytes(self) -> int:
        return self.frame_samples * self.channels * 2


class AudioInput(Protocol):
    """A source of interleaved PCM16 blocks."""

    def read(self, samples: int) -> bytes:
        """Block until ``samples`` samples per channel are read; return their bytes."""

    def close(self) -> None:
        """Release the device."""


class SoundDeviceInput:
    """A PortAudio input stream (blocking reads, no callback thread)."""

    def __init__(self, device: str | int | None, fmt: CaptureFormat) -> None:
        try:
            import sounddevice
        except OSError as exc:  # PortAudio itself is missing
            raise CaptureError(f"PortAudio is not available: {exc}") from exc
        self.overflows = 0
        self._error: type[Exception] = sounddevice.PortAudioError
        try:
            self._stream: Any = sounddevice.RawInputStream(
                device=device, samplerate=fmt.sample_rate, channels=fmt.channels,
                dtype="int16", blocksize=fmt.frame_samples)
            self._stream.start()
        except (self._error, ValueError) as exc:
            raise CaptureError(f"cannot open input device {device!r}: {exc}") from exc

    def read(self, samples: int) -> bytes:
        try:
            data, overflowed = self._stream.read(samples)
        except self._error as exc:
            raise CaptureError(f"input device failed: {exc}") from exc
        if overflowed:
            self.overflows += 1
        return bytes(data)

    def close(self) -> None:
        try:
            self._stream.stop()
        finally:
            self._stream.close()


def parse_device(value: str) -> str | int | None:
    """A config device string as sounddevice wants it: None (default), an index, or a name."""
    value = value.strip()
    if not value:
        return None
    return int(value) if value.isdigit() else value


class MicSession:
    """The control messages and frames of one microphone recording (pure)."""

    def __init__(self, fmt: CaptureFormat, *, rep_id: str, started_at: float,
                 session_id: str | None = None) -> None:
        self.fmt = fmt
        self.session_id = session_id or uuid.uuid4().hex
        self.rep_id = rep_id
        self.started_at = started_at
        self.next_seq = 0

    def start(self) -> SessionStart:
        return SessionStart(session_id=self.session_id, rep_id=self.rep_id,
                            started_at=self.started_at, codec=Codec.PCM16,
                            sample_rate=self.fmt.sample_rate, channels=self.fmt.channels)

    def frame(self, payload: bytes, *, final: bool) -> AudioFrame:
        frame = AudioFrame(session_id=self.session_id, seq=self.next_seq,
                           timestamp_ms=self.next_seq * self.fmt.frame_ms, codec=Codec.PCM16,
                           sample_rate=self.fmt.sample_rate, channels=self.fmt.channels,
                           final=final, payload=payload)
        self.next_seq += 1
        return frame

    def stop(self) -> SessionStop:
        return SessionStop(session_id=self.session_id,
                           last_seq=self.next_seq - 1 if self.next_seq else None)


@dataclass
class CaptureStats:
    """What a capture run did."""

    frames: int = 0
    sessions: list[str] = field(default_factory=list)


class MicCapture:
    """Reads the microphone and feeds its frames through an assembler into the recorder."""

    def __init__(self, *, open_input: Callable[[], AudioInput], assembler: Assembler,
                 recorder: Recorder, fmt: CaptureFormat, badge_id: str = "local-mic",
                 rep_id: str = "local-mic", session_s: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.open_input = open_input
        self.assembler = assembler
        self.recorder = recorder
        self.fmt = fmt
        self.badge_id = badge_id
        self.rep_id = rep_id
        self.session_frames = max(1, int(session_s * 1000) // fmt.frame_ms)
        self.clock = clock
        self.stats = CaptureStats()

    def run(self, stop: threading.Event, max_frames: int | None = None) -> CaptureStats:
        """Record until ``stop`` is set (or ``max_frames`` frames); every session is finished."""
        source = self.open_input()
        session: MicSession | None = None
        next_flush = time.monotonic() + FLUSH_EVERY_S
        try:
            while not stop.is_set() and (max_frames is None or self.stats.frames < max_frames):
                payload = source.read(self.fmt.frame_samples)
                if len(payload) != self.fmt.frame_bytes:
                    raise CaptureError(f"device returned {len(payload)} bytes, "
                                       f"not {self.fmt.frame_bytes}")
                now = self.clock()
                if session is None:
                    session = self._start(now)
                self.stats.frames += 1
                final = (stop.is_set() or session.next_seq + 1 >= self.session_frames
                         or (max_frames is not None and self.stats.frames >= max_frames))
                self.recorder.handle(
                    self.assembler.add(self.badge_id, session.frame(payload, final=final), now))
                if final or time.monotonic() >= next_flush:
                    self.recorder.flush()  # what a crash may lose: at most this much audio
                    next_flush = time.monotonic() + FLUSH_EVERY_S
                if final:
                    session = None
        finally:
            if session is not None:  # stopped by an error between frames: close what we have
                self.recorder.handle(self.assembler.stop(self.badge_id, session.stop(),
                                                         self.clock()))
            source.close()
        return self.stats

    def _start(self, now: float) -> MicSession:
        session = MicSession(self.fmt, rep_id=self.rep_id, started_at=now)
        self.recorder.handle(self.assembler.start(self.badge_id, session.start(), now))
        self.stats.sessions.append(session.session_id)
        log.info("local microphone: conversation %s started", session.session_id,
                 extra={"conversation": session.session_id, "badge": self.badge_id})
        return session


def input_devices() -> list[tuple[int, str, int]]:
    """(index, name, input channels) of every device that can record."""
    try:
        import sounddevice
    except OSError as exc:
        raise CaptureError(f"PortAudio is not available: {exc}") from exc
    return [(index, str(info["name"]), int(info["max_input_channels"]))
            for index, info in enumerate(sounddevice.query_devices())
            if int(info["max_input_channels"]) > 0]
