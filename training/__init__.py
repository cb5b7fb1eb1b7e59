"""ITER-M training and fine-tuning of core_model's interactive segmentation models."""
