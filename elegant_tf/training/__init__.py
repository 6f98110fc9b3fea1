"""Training: settings, losses, the GAN train step, checkpoints, the run."""
