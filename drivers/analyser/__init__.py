"""The spectrum-analyser family: trace formats, vendor dialects (data) and the driver."""
