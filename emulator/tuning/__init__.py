"""Hyperparameter tuning jobs: ranges, strategies (Optuna), the loop, records, the service."""
