"""`python -m bench [workload ...] [--rounds R] [--write]`: see bench/runner.py."""

from bench.runner import main

if __name__ == "__main__":
    main()
