"""The index format and search: one version directory written by batch, read by everyone."""

from core.artifacts import read_live_version
from core.errors import IndexLoadError
from core.index.format import (
    IDMAP_COLUMNS,
    LEXICAL_CONFIG_FILE,
    read_manifest,
    sha256_file,
    verify_artifacts,
)
from core.index.lexical import (
    STOPWORDS,
    LexicalConfig,
    Tokenizer,
    default_lexical_config,
    lexical_text,
)
from core.index.loader import load_index
from core.index.search import DEFAULT_FUSION, FusionParams, Hit, LoadedIndex

__all__ = [
    "DEFAULT_FUSION",
    "IDMAP_COLUMNS",
    "LEXICAL_CONFIG_FILE",
    "STOPWORDS",
    "FusionParams",
    "Hit",
    "IndexLoadError",
    "LexicalConfig",
    "LoadedIndex",
    "Tokenizer",
    "default_lexical_config",
    "lexical_text",
    "load_index",
    "read_live_version",
    "read_manifest",
    "sha256_file",
    "verify_artifacts",
]
