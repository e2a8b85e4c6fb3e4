"""Shared SCPI layer."""
