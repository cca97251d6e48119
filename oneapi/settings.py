"""Every environment variable the gateway reads, validated once at start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from ipaddress import IPv4Network, IPv6Network

    from ._egress import Allowance

__all__ = ["Settings", "SettingsError", "load_settings"]


class SettingsError(Exception):
    """A bad environment variable; the message is one line naming it."""


class Settings(BaseSettings):
    """The gateway's configuration, from the environment (names as in One API)."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True, populate_by_name=True)

    PORT: int = Field(3000, ge=1, le=65535)
    LOG_DIR: str = ""
    DEBUG: bool = False

    SQL_DSN: str = ""
    SQLITE_PATH: str = "./data/one-api.db"
    SQLITE_BUSY_TIMEOUT: int = Field(3000, ge=0)
    SQL_MAX_OPEN_CONNS: int = Field(1000, ge=1)
    SQL_MAX_IDLE_CONNS: int = Field(100, ge=0)
    SQL_CONN_MAX_LIFETIME: int = Field(
        60, ge=0, validation_alias=AliasChoices("SQL_CONN_MAX_LIFETIME", "SQL_MAX_LIFETIME")
    )

    SESSION_SECRET: str = ""
    # Encrypts channel keys and secret options at rest (oneapi/crypto.py); empty: plaintext.
    CRYPTO_SECRET: str = ""
    # "auto": the login cookie is Secure when the request came over HTTPS (to a trusted proxy).
    SESSION_COOKIE_SECURE: Literal["auto", "true", "false"] = "auto"
    REDIS_CONN_STRING: str = ""
    MEMORY_CACHE_ENABLED: bool = True
    SYNC_FREQUENCY: int = Field(600, ge=1)
    NODE_TYPE: Literal["master", "slave"] = "master"
    FRONTEND_BASE_URL: str = ""

    CHANNEL_UPDATE_FREQUENCY: float = Field(0, ge=0)
    CHANNEL_TEST_FREQUENCY: float = Field(0, ge=0)
    POLLING_INTERVAL: float = Field(0, ge=0)
    BATCH_UPDATE_ENABLED: bool = False
    BATCH_UPDATE_INTERVAL: float = Field(5, gt=0)
    LEDGER_LEASE_SECONDS: int = Field(60, ge=4)  # holds of a node silent this long are released

    GLOBAL_API_RATE_LIMIT: int = Field(180, ge=0)
    GLOBAL_WEB_RATE_LIMIT: int = Field(60, ge=0)
    CRITICAL_RATE_LIMIT: int = Field(20, ge=0)
    # Reverse proxies (comma CIDRs) whose X-Forwarded-For / X-Real-IP / X-Forwarded-Proto are
    # believed; empty: none, the peer's address is the client's (oneapi/client_ip.py).
    TRUSTED_PROXIES: str = ""

    TIKTOKEN_CACHE_DIR: str = ""
    DATA_GYM_CACHE_DIR: str = ""
    # Upstream timeouts in seconds (see _http.relay_timeouts; a channel's config may override):
    # connect + response headers (0: 300), and each read of the body, e.g. between two chunks
    # of a stream (0: 120). No upstream call waits forever: it would hold its quota reserved.
    RELAY_TIMEOUT: float = Field(0, ge=0)
    STREAMING_TIMEOUT: float = Field(120, ge=0)
    MAX_REQUEST_BODY_MB: float = Field(64, gt=0)
    # Non-public networks (comma CIDRs, each optionally ":port") that image URLs in requests
    # may reach anyway; by default only public addresses are fetched (oneapi/_egress.py).
    FETCH_ALLOWED_NETWORKS: str = ""

    INITIAL_ROOT_TOKEN: str = ""
    INITIAL_ROOT_ACCESS_TOKEN: str = ""

    # Where GitHub OAuth, Lark (Feishu) OAuth and Turnstile live (override for GitHub
    # Enterprise, Lark Suite outside China, or fakes in tests). OIDC and the WeChat server
    # are options (OidcWellKnown..., WeChatServerAddress).
    GITHUB_OAUTH_URL: str = ""
    GITHUB_API_URL: str = ""
    LARK_OAUTH_URL: str = ""
    TURNSTILE_VERIFY_URL: str = ""

    ONEAPI_DB_STATS: bool = False
    ONEAPI_WORKERS: int = Field(1, ge=1)

    ONEAPI_PLUGINS: str = ""
    ONEAPI_DISABLED_PLUGINS: str = ""

    @field_validator("SESSION_SECRET", "REDIS_CONN_STRING", "SQL_DSN", "FRONTEND_BASE_URL", "CRYPTO_SECRET")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("CRYPTO_SECRET")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value) < 16:
            raise ValueError("must be at least 16 characters (32 random ones, say)")
        return value

    @field_validator("FETCH_ALLOWED_NETWORKS")
    @classmethod
    def _networks(cls, value: str) -> str:
        from ._egress import parse_allowances

        parse_allowances(value)  # ValueError names the bad entry
        return value

    @field_validator("TRUSTED_PROXIES")
    @classmethod
    def _proxies(cls, value: str) -> str:
        from .client_ip import parse_networks

        parse_networks(value)  # ValueError names the bad entry
        return value

    @property
    def trusted_proxies(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """TRUSTED_PROXIES, parsed."""
        from .client_ip import parse_networks

        return parse_networks(self.TRUSTED_PROXIES)

    @property
    def fetch_allowed(self) -> tuple[Allowance, ...]:
        """FETCH_ALLOWED_NETWORKS, parsed."""
        from ._egress import parse_allowances

        return parse_allowances(self.FETCH_ALLOWED_NETWORKS)

    @property
    def allowed_plugins(self) -> set[str] | None:
        """Plugin names from ONEAPI_PLUGINS, or None when every plugin is allowed."""
        names = {n.strip() for n in self.ONEAPI_PLUGINS.split(",") if n.strip()}
        return names or None

    @property
    def disabled_plugins(self) -> set[str]:
        """Plugin names from ONEAPI_DISABLED_PLUGINS."""
        return {n.strip() for n in self.ONEAPI_DISABLED_PLUGINS.split(",") if n.strip()}

    @property
    def is_master(self) -> bool:
        return self.NODE_TYPE == "master"

    @property
    def sync_seconds(self) -> float:
        """How long a process may go on with what another one changed: SYNC_FREQUENCY, but one
        second for worker processes that share no Redis to tell each other about writes."""
        return float(self.SYNC_FREQUENCY) if self.ONEAPI_WORKERS == 1 or self.REDIS_CONN_STRING else 1.0


def load_settings(**overrides: object) -> Settings:
    """Read the environment (plus overrides); raise SettingsError naming the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        raise SettingsError(f"invalid environment variable {name}: {first['msg']}") from None
