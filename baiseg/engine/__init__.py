"""Training engine: trainer, LR schedule, atomic checkpoints, released weights (safetensors), DDP helpers."""
