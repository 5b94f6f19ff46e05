"""The model: the SE-U-Net with its VQ bottleneck, its config, the custom ops it runs on, and checkpoints."""
