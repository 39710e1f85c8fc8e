"""Settings: a TOML file plus OPSBOT_* environment variables (env wins), validated at start."""

import importlib.util
import os
import re
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from bot.forms.spec import (
    DEFAULT_ACCEPT,
    DEFAULT_MAX_MB,
    FILE_TYPES,
    FieldSpec,
    ReportsConfig,
    default_reports,
)
from bot.kpis.spec import KpiConfig, default_kpi
from bot.services.budgets import BudgetsConfig
from bot.services.roles import RolesConfig

BOTFATHER_HINT = (
    "telegram.token is missing: talk to @BotFather in Telegram, send /newbot, and put the token "
    "in OPSBOT_TELEGRAM__TOKEN (or OPSBOT_TELEGRAM__TOKEN_FILE, or telegram.token in opsbot.toml). "
    "To try the bot without a token, run: opsbot demo"
)


# Telegram's rule for setWebhook's secret_token.
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def proxy_problem(url: str) -> str | None:
    """What is wrong with a proxy URL (said without its credentials), or None."""
    parts = urlsplit(url)
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        return (
            "expected http://, https://, socks5:// or socks5h:// with a host, e.g. "
            "socks5://127.0.0.1:1080 or http://user:password@proxy.example:3128"
        )
    try:
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        return "the port is not a number"
    if parts.scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
        return "a SOCKS proxy needs python-telegram-bot[socks]: run ./run.sh once to install it"
    return None


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the key."""


class Section(BaseModel):
    """A TOML table; unknown keys are typos and stop start-up."""

    model_config = ConfigDict(extra="forbid")


class TelegramSettings(Section):
    token: SecretStr | None = None
    token_file: Path | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    # Every Bot API call goes through it (getUpdates and sends alike); unset, the standard
    # HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY variables apply (bot/connect.py).
    proxy: SecretStr | None = None
    mode: Literal["polling", "webhook"] = "polling"
    # Webhook mode: the public address Telegram posts to (a TLS proxy in front of listen:port).
    webhook_url: str | None = Field(default=None, validate_default=True)
    webhook_secret: SecretStr | None = None
    webhook_secret_file: Path | None = None
    listen: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    webhook_path: str = "/telegram"
    # Pace each chat to Telegram's limits (decision 43); off only against a simulator whose
    # flood limits are off (the test suite), where it would just slow things down.
    pace_per_chat: bool = True

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url is None and info.data.get("mode") == "webhook":
            raise ValueError(
                'required when telegram.mode is "webhook": the public HTTPS address that '
                "Telegram posts updates to, e.g. https://bot.example.com/telegram"
            )
        # Not https-only: a local Bot API server (telegram-bot-api --local) accepts http, and
        # Telegram itself answers setWebhook with a clear refusal that start-up reports.
        if url is not None and not url.startswith(("https://", "http://")):
            raise ValueError("expected an address like https://bot.example.com/telegram")
        return url

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, proxy: SecretStr | None) -> SecretStr | None:
        if proxy is None or not proxy.get_secret_value():
            return None
        problem = proxy_problem(proxy.get_secret_value())
        if problem:
            raise ValueError(problem)
        return proxy

    @field_validator("webhook_path")
    @classmethod
    def _webhook_path(cls, path: str) -> str:
        if not path.startswith("/") or path in ("/healthz", "/metrics"):
            raise ValueError("expected a path such as /telegram (not /healthz or /metrics)")
        return path

    @model_validator(mode="after")
    def _read_webhook_secret(self) -> "TelegramSettings":
        # Checked here, not in a field validator: a field's error would echo the secret.
        if self.webhook_secret is None and self.webhook_secret_file is not None:
            try:
                text = self.webhook_secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(
                    f"cannot read webhook_secret_file {self.webhook_secret_file}: {exc.strerror}"
                ) from None
            self.webhook_secret = SecretStr(text)
        if self.webhook_secret is None:
            if self.mode == "webhook":
                raise ValueError(
                    'webhook_secret is required when mode is "webhook" (OPSBOT_TELEGRAM__WEBHOOK_'
                    "SECRET or OPSBOT_TELEGRAM__WEBHOOK_SECRET_FILE): Telegram sends it with "
                    "every update so that nobody else can post to the bot"
                )
        elif not WEBHOOK_SECRET.fullmatch(self.webhook_secret.get_secret_value()):
            raise ValueError(
                "webhook_secret must be 1–256 characters of A-Z, a-z, 0-9, _ and - "
                "(Telegram's rule for secret_token)"
            )
        return self

    @model_validator(mode="after")
    def _read_token_file(self) -> "TelegramSettings":
        if self.token is None and self.token_file is not None:
            try:
                self.token = SecretStr(self.token_file.read_text(encoding="utf-8").strip())
            except OSError as exc:
                raise ValueError(
                    f"cannot read token_file {self.token_file}: {exc.strerror}"
                ) from None
        return self


class WebSettings(Section):
    """[web]: the director's dashboard (a Telegram Mini App) and its API (decision 66)."""

    # Polling mode serves /healthz, /metrics and the dashboard here when `port` is set; webhook
    # mode serves them beside the webhook, on telegram.listen:telegram.port.
    listen: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535)
    # The HTTPS address Telegram clients open (a TLS proxy in front of the port), ending in /app.
    public_url: str | None = None
    # Init data signed longer ago than this is refused (Telegram signs it when the app opens).
    init_data_max_age_seconds: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        # Telegram opens Mini Apps over HTTPS only; a button with http:// is refused.
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(
                "expected the dashboard's HTTPS address, e.g. https://bot.example.com/app"
            )
        return url.rstrip("/")


class DatabaseSettings(Section):
    url: str = "sqlite+aiosqlite:///opsbot.db"

    @field_validator("url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "expected sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db"
            )
        return url


class TeamSettings(Section):
    name: str = "互联网运营部"
    timezone: str = "Asia/Shanghai"
    locale: Literal["zh", "en"] = "zh"
    group_chat_id: int | None = None
    directors: list[int] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone such as Asia/Shanghai") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class CalendarSettings(Section):
    extra_holidays: list[date] = Field(default_factory=list)
    extra_workdays: list[date] = Field(default_factory=list)


class JoinSettings(Section):
    invite_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    max_requests_per_day: int = Field(default=3, ge=1, le=50)


class ReminderSettings(Section):
    # A gentle private reminder this long before a report is due.
    before_due_minutes: int = Field(default=60, ge=0, le=24 * 60)
    # The second reminder, on the next working day, at this team-local time.
    next_day_time: str = "09:30"
    # No private reminders between these team-local times; they wait for the morning.
    quiet_start: str = "22:00"
    quiet_end: str = "08:00"
    # After this many missed periods in a row, the directors are told.
    escalate_after_misses: int = Field(default=2, ge=1, le=30)
    # A task still open this many working days after its deadline is brought to the directors.
    task_escalate_after_days: int = Field(default=2, ge=1, le=30)
    # Directors are reminded of plans this long before their decision deadline.
    approval_before_minutes: int = Field(default=120, ge=0, le=24 * 60)

    @field_validator("next_day_time", "quiet_start", "quiet_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise ValueError("expected a time like 09:30")
        return value


class ApprovalSettings(Section):
    # A pending activity plan should be decided within this many working days.
    decision_working_days: int = Field(default=1, ge=1, le=20)


class FilesSettings(Section):
    """[files]: what a photo or document field takes when the field itself does not say."""

    # Telegram lets a bot download files up to 20 MB (getFile); a self-hosted Bot API server
    # (telegram-bot-api --local) up to 2,000 MB.
    max_mb: float = Field(default=DEFAULT_MAX_MB, gt=0, le=2000)
    # Document types: extensions ("pdf") or MIME types ("application/pdf", "image/*").
    accept: tuple[str, ...] = DEFAULT_ACCEPT

    @field_validator("accept")
    @classmethod
    def _accept(cls, accept: tuple[str, ...]) -> tuple[str, ...]:
        if not accept:
            raise ValueError('name at least one document type, e.g. ["pdf"]')
        label = {"zh": "文件", "en": "File"}
        return FieldSpec(key="f", type="document", label=label, accept=accept).accept

    def applied(self, reports: ReportsConfig) -> ReportsConfig:
        """`reports` with every file field's unset max_mb and accept taken from here."""
        forms = []
        for form in reports.forms:
            fields = tuple(
                f.model_copy(update=self._defaults_for(f)) if f.type in FILE_TYPES else f
                for f in form.fields
            )
            forms.append(form.model_copy(update={"fields": fields}))
        return reports.model_copy(update={"forms": tuple(forms)})

    def _defaults_for(self, field: FieldSpec) -> dict:
        found = {"max_mb": field.max_mb or self.max_mb}
        if field.type == "document" and not field.accept:
            found["accept"] = self.accept
        return found


class Settings(BaseSettings):
    """Everything opsbot reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="OPSBOT_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    telegram: TelegramSettings = TelegramSettings()
    database: DatabaseSettings = DatabaseSettings()
    team: TeamSettings = TeamSettings()
    calendar: CalendarSettings = CalendarSettings()
    join: JoinSettings = JoinSettings()
    approvals: ApprovalSettings = ApprovalSettings()
    reminders: ReminderSettings = ReminderSettings()
    files: FilesSettings = FilesSettings()
    web: WebSettings = WebSettings()
    # Budget pools by month or quarter: /budget, and the forms whose approval charges one.
    budgets: BudgetsConfig = BudgetsConfig()
    # Before reports and kpi: their validators check the roles they name against it.
    roles: RolesConfig = RolesConfig()
    reports: ReportsConfig = Field(default_factory=default_reports)
    kpi: KpiConfig = Field(default_factory=default_kpi)
    clock_start: str | None = None

    @field_validator("reports")
    @classmethod
    def _forms_of_roles(cls, reports: ReportsConfig, info: ValidationInfo) -> ReportsConfig:
        roles = info.data.get("roles")
        if roles is None:  # [roles] itself was wrong; that error is the one reported
            return reports
        return forms_with_roles(reports, roles)

    @field_validator("reports")
    @classmethod
    def _file_limits(cls, reports: ReportsConfig, info: ValidationInfo) -> ReportsConfig:
        files = info.data.get("files")
        return files.applied(reports) if files is not None else reports

    @field_validator("kpi")
    @classmethod
    def _kpi_roles(cls, kpi: KpiConfig, info: ValidationInfo) -> KpiConfig:
        roles = info.data.get("roles")
        for spec in kpi.kpis if roles is not None else ():
            unknown = [r for r in spec.roles if not roles.known(r)]
            if unknown:
                raise ValueError(f"kpi {spec.key}: {_unknown_role(unknown[0], roles)}")
        return kpi

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_toml_path.get("path"))
        return (init_settings, env_settings, toml)

    def require_token(self) -> str:
        """Return the bot token or raise ConfigError explaining how to get one."""
        if self.telegram.token is None or not self.telegram.token.get_secret_value():
            raise ConfigError(BOTFATHER_HINT)
        return self.telegram.token.get_secret_value()


def forms_with_roles(reports: ReportsConfig, roles: RolesConfig) -> ReportsConfig:
    """Check that every form names known roles, and add each configured role to the forms its
    [roles] entry lists (decision 54)."""
    for form in reports.forms:
        unknown = [r for r in form.roles if not roles.known(r)]
        unknown += (
            sorted(r for r in form.approval.roles() if not roles.known(r)) if form.approval else []
        )
        if unknown:
            raise ValueError(f"form {form.key}: {_unknown_role(unknown[0], roles)}")
    extra: dict[str, list[str]] = {}
    for role in roles.extra:
        for key in role.forms:
            if reports.form(key) is None:
                raise ValueError(f"role {role.key} files form {key!r}, which is not configured")
            extra.setdefault(key, []).append(role.key)
    forms = tuple(
        form.model_copy(update={"roles": tuple(dict.fromkeys((*form.roles, *extra[form.key])))})
        if form.key in extra
        else form
        for form in reports.forms
    )
    return reports.model_copy(update={"forms": forms})


def _unknown_role(role: str, roles: RolesConfig) -> str:
    return (
        f"unknown role {role!r}; roles are {', '.join(roles.keys)} (add one under [[roles.extra]])"
    )


_toml_path: dict[str, Path | None] = {}


def load_settings(config_file: str | Path | None = None, **overrides) -> Settings:
    """Load settings from `config_file`, $OPSBOT_CONFIG or ./opsbot.toml, then the environment."""
    path = config_file or os.environ.get("OPSBOT_CONFIG")
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"config file {path} not found (given by --config or OPSBOT_CONFIG)")
    if path is None and Path("opsbot.toml").is_file():
        path = "opsbot.toml"
    _toml_path["path"] = Path(path) if path else None
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except SettingsError as exc:  # an env value that should be JSON is not
        raise ConfigError(f"config error: {exc} (lists are JSON, e.g. [123, 456])") from None
    except ValueError as exc:  # malformed TOML
        raise ConfigError(f"{path}: {exc}") from None


def _describe(exc: ValidationError) -> str:
    """Turn the first validation error into one line naming the key."""
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    env = "OPSBOT_" + "__".join(str(p) for p in err["loc"] if not isinstance(p, int)).upper()
    msg = err["msg"].removeprefix("Value error, ")
    given = err.get("input")
    secret = key == "telegram.proxy"  # may hold a password; the message says what is wrong
    shown = "" if isinstance(given, dict) or given is None or secret else f" (got {given!r})"
    return f"config error: {key} ({env}): {msg}{shown}"
