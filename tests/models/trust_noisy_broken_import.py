"""Prints why, then fails while imported."""

print("trust_noisy_broken_import: CUDA_HOME is not set")
raise RuntimeError("broken after printing")
