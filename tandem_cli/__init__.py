"""The ``tandem`` command line: one entry point for the offline and online sides."""
