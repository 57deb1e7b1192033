"""``python -m dqaudit`` and the ``dqaudit`` command."""

from .memory import numpy_without_huge_pages

numpy_without_huge_pages()  # first: numpy reads its page setting when imported, and the commands import it

from .cli import main  # noqa: E402

if __name__ == "__main__":
    main()
