"""The errors ``rag`` raises; the CLI and the API translate them at their edges."""


class RagError(Exception):
    """Base class: the message is meant to be shown to the user as is; ``field`` names the input at
    fault, when there is one (the API reports it)."""

    def __init__(self, message: str = "", field: str | None = None):
        super().__init__(message)
        self.field = field


class CorpusNotFoundError(RagError):
    pass


class EmptyCorpusError(RagError):
    pass


class ModelNotFoundError(RagError):
    pass


class IndexNotFoundError(RagError):
    pass


class IndexMismatchError(RagError):
    """The index on disk was built with another model, other settings or an older corpus.

    ``cause`` is the mismatch alone, without the advice to rebuild: what a rebuild reports as its reason."""

    def __init__(self, message: str, cause: str | None = None):
        super().__init__(message)
        self.cause = cause or message


class EmptyQueryError(RagError):
    pass


class InvalidInputError(RagError):
    pass


class IndexCorruptError(RagError):
    """A file of the index is missing, truncated or altered: named in the message, with the fix."""

    def __init__(self, message: str, file: str | None = None):
        super().__init__(message)
        self.file = file


class StoreUnavailableError(RagError):
    """The server that keeps the index (Milvus) cannot be reached, or failed the request."""
