"""`python -m thpwatch`: the same command as `thpwatch`."""

from thpwatch.cli import main

if __name__ == "__main__":
    main(prog_name="thpwatch")
