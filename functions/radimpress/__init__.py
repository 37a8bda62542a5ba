"""radimpress: write radiology report impressions from findings, and measure how good they are."""

__version__ = "0.1.0"
