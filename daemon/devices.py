"""Input device lookup with messages that list what is available."""

from __future__ import annotations

from typing import Any

from ccser_core.errors import CcserError

#: What to do on a machine without a microphone (containers, servers).
NO_DEVICE_HINT = ("to run without a microphone, replay a file with --source FILE or read "
                  "raw 16-bit PCM from stdin with --source -")


class DeviceError(CcserError):
    """No usable input device (message lists the available ones)."""


def input_devices() -> list[tuple[int, dict[str, Any]]]:
    """(index, info) of devices with input channels; empty if PortAudio has none."""
    import sounddevice as sd

    try:
        devices = sd.query_devices()
    except Exception:  # PortAudio without any host API raises; means "no devices"
        return []
    return [(i, d) for i, d in enumerate(devices) if d.get("max_input_channels", 0) > 0]


def describe_devices() -> str:
    rows = [f"  {i}: {d['name']} ({d['max_input_channels']} ch, "
            f"{int(d['default_samplerate'])} Hz)" for i, d in input_devices()]
    return "\n".join(rows) if rows else "  (no input devices found)"


def resolve_device(device: str | None) -> tuple[int, dict[str, Any]]:
    """Index and info of `device` (index or case-insensitive name part), or the default."""
    import sounddevice as sd

    available = input_devices()
    listing = f"available input devices:\n{describe_devices()}"
    if not available:
        listing += f"\n{NO_DEVICE_HINT}"
    if device is None:
        try:
            default = sd.default.device[0]
        except Exception:
            default = -1
        if default is None or default < 0:
            if available:
                return available[0]
            raise DeviceError(f"no input device found; {listing}")
        device = str(default)
    if device.strip().lstrip("-").isdigit():
        for i, info in available:
            if i == int(device):
                return i, info
        raise DeviceError(f"input device {device} does not exist; {listing}")
    matches = [(i, d) for i, d in available if device.lower() in d["name"].lower()]
    if len(matches) != 1:
        problem = "matches several devices" if matches else "does not exist"
        raise DeviceError(f"input device {device!r} {problem}; {listing}")
    return matches[0]
