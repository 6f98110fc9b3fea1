"""Measuring a model: ground-truth PSNR/SSIM, realism, the attribute classifier."""
