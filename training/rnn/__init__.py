"""`--models rnn`: a recurrent network over `ccser_core.features.frames` (PyTorch, from
the [deep] extra), exported to ONNX so the daemon and ccser-predict never import torch.

net.py is the network, train.py its training loop, export.py the ONNX export and
check, data.py the frames and their normalisation, run.py its place in a run.
"""
