"""TMRVC: models, export, fixtures and training for the TMRVC Swift runtime."""
