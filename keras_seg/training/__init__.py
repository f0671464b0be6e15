"""Fine-tuning: datasets, augmentation, losses, metrics, checkpoints, the trainer."""
