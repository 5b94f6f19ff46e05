"""The audio path: STFT, segment framing, the denoiser, the pedalboard-compatible effect and chain, file streaming."""
