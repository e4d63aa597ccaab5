"""Report test results to IntelliBrowse: a pytest plugin that streams them while the tests run
(plugin.py) and an uploader for any runner's JUnit XML (cli.py). Standard library only."""

__version__ = "0.1.0"
