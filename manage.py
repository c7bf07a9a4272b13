#!/usr/bin/env python
"""Same as the `medtrace` console script."""

from medtrace.cli import main

if __name__ == "__main__":
    main()
