"""Helpers for the wordcount example."""
