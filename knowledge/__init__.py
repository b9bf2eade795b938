"""The knowledge base: articles in Redis, an embedding index over their question
variants, and the answer policy (answer / clarify / fall back).

Exceptions::

    KnowledgeError
    ├── ArticleInvalid      an article file or payload does not validate
    ├── ArticleNotFound     no article with that id
    └── VersionConflict     someone else saved the article first
"""


class KnowledgeError(Exception):
    """Root of every error raised by the knowledge package."""


class ArticleInvalid(KnowledgeError):
    pass


class ArticleNotFound(KnowledgeError):
    pass


class VersionConflict(KnowledgeError):
    pass
