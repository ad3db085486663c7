"""`python -m spacesd ...` is the `spacesd` command."""

from spacesd.cli import main

if __name__ == "__main__":
    main()
