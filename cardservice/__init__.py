"""cardservice: reads, personalizes and re-signs RP1 residence-permit cards."""

__version__ = "0.1.0"
