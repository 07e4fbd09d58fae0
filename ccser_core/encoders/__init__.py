"""Pretrained speech encoders: named bundles of weights + their exact preprocessing.

Each front end owns its input features (Whisper: 80-band log-mel), its loading
(package or directory, checked by sha256) and `embed(y, sr) -> vector`, so the
training cache, `ccser-predict` and `ccserd` build the same embedding from the
same samples through one function.
"""

from ccser_core.encoders.whisper import (
    ENCODER_NAMES,
    EncoderSpec,
    WhisperEncoder,
    load_encoder,
)

__all__ = ["ENCODER_NAMES", "EncoderSpec", "WhisperEncoder", "load_encoder"]
