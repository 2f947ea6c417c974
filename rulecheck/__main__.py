"""`python -m rulecheck`: the same command as the `rulecheck` console script."""

from rulecheck.cli import main

if __name__ == "__main__":
    main()
