"""The on-device sentence-embedding model: its offline catalogue and its onnxruntime adapter."""
