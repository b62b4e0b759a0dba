"""TMRVC training pipeline: ``python -m tmrvc.train all --size smoke`` (docs/training.md)."""
