"""The network of `--models rnn`, readable in one sitting.

frames (B, T, D), already session-normalised
  -> fixed input scaling (training statistics of those frames; a buffer, so ONNX has it)
  -> 2 x [Conv1d(kernel 5, stride 2) + ReLU]       local spectral-temporal patterns, 25 Hz
  -> bidirectional GRU(C -> 2H, `layers` deep)      context over the utterance
  -> attention pooling (masked softmax over time)   which frames carry the emotion
  -> dropout -> Linear(2H -> K)                     class logits

Padded batches and a single unpadded sequence give the same numbers: padding
is zeroed before each convolution (so it sees the zeros its own padding would
add), the GRU runs on packed sequences and attention ignores padding.
The ONNX export runs one sequence at a time, without lengths.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

KERNEL, STRIDE, N_CONV = 5, 2, 2


@dataclass(frozen=True)
class NetConfig:
    n_inputs: int
    n_classes: int
    hidden: int = 64
    layers: int = 1
    dropout: float = 0.3
    conv_channels: int = 64


def conv_lengths(lengths: torch.Tensor) -> torch.Tensor:
    """Output frames of the strided convolution for inputs of `lengths` frames."""
    return (lengths + 2 * (KERNEL // 2) - KERNEL) // STRIDE + 1


class EmotionRnn(nn.Module):
    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("in_mean", torch.zeros(cfg.n_inputs))
        self.register_buffer("in_std", torch.ones(cfg.n_inputs))
        self.convs = nn.ModuleList(
            nn.Conv1d(n_in, cfg.conv_channels, KERNEL, STRIDE, KERNEL // 2)
            for n_in in [cfg.n_inputs] + [cfg.conv_channels] * (N_CONV - 1))
        self.gru = nn.GRU(cfg.conv_channels, cfg.hidden, num_layers=cfg.layers, batch_first=True,
                          bidirectional=True, dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.attend = nn.Linear(2 * cfg.hidden, 1)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(2 * cfg.hidden, cfg.n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, K) of frames (B, T, D); `lengths` (B,) for a padded batch."""
        h = ((x - self.in_mean) / self.in_std).transpose(1, 2)  # (B, D, T)
        out_len = lengths
        for conv in self.convs:
            if out_len is not None:
                h = h * (torch.arange(h.shape[2])[None, :] < out_len[:, None])[:, None, :]
                out_len = conv_lengths(out_len)
            h = torch.relu(conv(h))
        h = self.drop(h).transpose(1, 2)  # (B, T', C)
        if out_len is None:
            h, _ = self.gru(h)
            weights = torch.softmax(self.attend(h), dim=1)
        else:
            packed = pack_padded_sequence(h, out_len, batch_first=True, enforce_sorted=False)
            h, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True,
                                       total_length=h.shape[1])
            valid = torch.arange(h.shape[1])[None, :] < out_len[:, None]
            scores = self.attend(h).masked_fill(~valid[..., None], float("-inf"))
            weights = torch.softmax(scores, dim=1)
        pooled = (weights * h).sum(dim=1)
        return self.out(self.drop(pooled))


class Exported(nn.Module):
    """What model.onnx computes: (label, probabilities) like the scikit-learn models."""

    def __init__(self, net: EmotionRnn) -> None:
        super().__init__()
        self.net = net

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        proba = torch.softmax(self.net(frames), dim=-1)
        return proba.argmax(dim=-1), proba
