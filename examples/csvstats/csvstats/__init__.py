"""Helpers for the csvstats example."""
