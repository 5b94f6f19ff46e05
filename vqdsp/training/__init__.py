"""Training: the speech corpus, noise and the training loop."""
