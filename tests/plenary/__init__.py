"""The plenary meetings: the series, venues, minutes, the one calendar."""
