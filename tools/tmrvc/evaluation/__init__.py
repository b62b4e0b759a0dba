"""Objective evaluation of exported models (speaker similarity, WER/CER, F0, MCD); see run.py."""
