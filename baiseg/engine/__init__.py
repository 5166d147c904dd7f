"""Training engine: trainer, LR schedule, atomic checkpoints, DDP helpers (released weights: baiseg.weights_io)."""
