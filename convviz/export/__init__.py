"""Qt-free exports: the mirrored PyTorch module (torch.py)."""
