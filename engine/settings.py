"""All configuration in one typed object, read from the environment (prefix ``CAMPAIGNBOT_``) and ``.env``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

HOUSE_DIR = Path(__file__).resolve().parent / "inference" / "house"
HOUSE_COPY_MODEL = HOUSE_DIR / "copy-en"
HOUSE_VISUAL_MODEL = HOUSE_DIR / "visual" / "generator.pt"


class Settings(BaseSettings):
    """Model and runtime settings. Secrets added later (tokens) must be ``SecretStr`` so they never print."""

    model_config = SettingsConfigDict(env_prefix="CAMPAIGNBOT_", env_file=".env", extra="ignore")

    copy_model: str = Field(default=str(HOUSE_COPY_MODEL), description="hub id or local directory of a causal LM")
    copy_model_zh: str | None = Field(
        default=None, description="model used for --lang zh briefs; unset means Chinese copy is not supported"
    )
    visual_model: str = Field(default=str(HOUSE_VISUAL_MODEL), description="GAN generator checkpoint path")
    device: str = Field(default="auto", description="auto, cpu, cuda or cuda:N")
    dtype: str = Field(default="auto", description="auto, fp32, bf16 or fp16")
    data_dir: Path = Field(default=Path("data"))

    def copy_model_for(self, language: str) -> str | None:
        if language == "en":
            return self.copy_model
        if language == "zh":
            return self.copy_model_zh
        return None
