"""``python -m crlm``: the ``crlm`` command."""

from crlm.cli import main

if __name__ == "__main__":
    main()
