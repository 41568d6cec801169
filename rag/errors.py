"""The errors ``rag`` raises; the CLI and the API translate them at their edges."""


class RagError(Exception):
    """Base class: the message is meant to be shown to the user as is."""


class CorpusNotFoundError(RagError):
    pass


class EmptyCorpusError(RagError):
    pass


class ModelNotFoundError(RagError):
    pass


class IndexNotFoundError(RagError):
    pass


class IndexMismatchError(RagError):
    """The index on disk was built with another model, other settings or an older corpus."""


class EmptyQueryError(RagError):
    pass


class InvalidInputError(RagError):
    pass
