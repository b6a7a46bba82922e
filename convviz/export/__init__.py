"""Qt-free exports: the live PyTorch mirror of an architecture (torch.py), the standalone PyTorch file
(torch_code.py), the ONNX model (onnx.py), the one export the command line and the app share
(network.py), and `convviz export` (command.py)."""
