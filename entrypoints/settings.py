"""The service's settings: flags (passed in as keyword arguments) win over `AGENTKEEP_*` environment
variables, which win over the defaults below (SPEC §6).

| variable | default | what |
|---|---|---|
| `AGENTKEEP_DATABASE_URL` | `sqlite:///agentkeep.db` | SQLite or PostgreSQL, with or without a driver |
| `AGENTKEEP_API_KEY`, `AGENTKEEP_API_KEYS` | none | one key; several, comma-separated (rotation) |
| `AGENTKEEP_OPENAI_BASE_URL`, `AGENTKEEP_OPENAI_API_KEY` | none | the OpenAI-compatible server |
| `AGENTKEEP_MODEL_TIMEOUT` | 60 | seconds a model call may take (then 504) |
| `AGENTKEEP_SESSION_WAIT` | 30 | seconds a run waits for its turn on a session (then 409) |
| `AGENTKEEP_MAX_BODY` | 1048576 | bytes of a request body (then 413) |
| `AGENTKEEP_LOG_FORMAT` | `text` | `text` or `json` |
| `AGENTKEEP_IDEMPOTENCY_TTL` | 86400 | seconds an `Idempotency-Key` is remembered |

Secrets are `SecretStr`: they print as `**********`. `database_url` may hold a password: print
`masked_database_url`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from agentkeep.adapters.storage.sql.dialect import mask_url

MIB = 1024 * 1024


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="AGENTKEEP_", extra="ignore", frozen=True)

    database_url: str = Field("sqlite:///agentkeep.db", min_length=1)
    api_key: SecretStr | None = Field(None, description="A single API key; folded into `api_keys`.")
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), description="Every accepted API key: AGENTKEEP_API_KEYS (comma-separated) and AGENTKEEP_API_KEY."
    )
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    model_timeout: float = Field(60.0, gt=0)
    session_wait: float = Field(30.0, ge=0)
    max_body: int = Field(MIB, gt=0)
    log_format: Literal["text", "json"] = "text"
    idempotency_ttl: float = Field(24 * 3600.0, gt=0)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(key.strip() for key in value.split(",") if key.strip())
        return value

    @field_validator("api_key", "openai_base_url", "openai_api_key", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        # `AGENTKEEP_API_KEY=` (set but empty) means no key, not the empty key.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _fold_single_key(self) -> Settings:
        if self.api_key is not None:
            keys = [key.get_secret_value() for key in self.api_keys]
            if self.api_key.get_secret_value() not in keys:
                object.__setattr__(self, "api_keys", (self.api_key, *self.api_keys))
        return self

    @property
    def masked_database_url(self) -> str:
        """The database URL as it may be printed or logged: without its password."""
        return mask_url(self.database_url)


class IsolatedSettings(Settings):
    """Settings from keyword arguments and the defaults only: no `AGENTKEEP_*` variable of the
    machine running the tests leaks in (`Container.for_tests`)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)
