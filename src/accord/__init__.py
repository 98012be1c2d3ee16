"""Accord: IT service management for ISO/IEC 20000 service providers."""

__version__ = "0.1.0"
