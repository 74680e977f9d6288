"""``python -m convcli``: the same as the ``convcli`` command."""

from convcli.cli.main import main

if __name__ == "__main__":
    main()
