"""How KPIs and digests are declared in configuration (the [kpi] table)."""

import tomllib
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.forms.spec import Labels, ReportsConfig, Strict, _checked_key

Source = Literal["metric", "channels", "activity", "timeliness", "tasks"]
Aggregate = Literal["sum", "avg", "latest"]
TargetPeriod = Literal["month", "quarter", "year"]
# The channel pipeline in order; reaching a stage means crossing it from below ("lost" is off it).
STAGE_ORDER = ("lead", "contacted", "negotiating", "signed", "live")


class KpiSpec(Strict):
    """One indicator: where its actual comes from, its target, its weight in the score."""

    key: str
    name: Labels
    roles: tuple[str, ...] = Field(min_length=1)
    source: Source
    # metric: a form's numeric field, aggregated over the period (optionally divided by another)
    form: str | None = None
    field: str | None = None
    # More forms whose field of the same key counts too (per-piece content figures filed through
    # an approval's figures_form beside the weekly report, decision 63): summed, averaged or the
    # latest over all of them.
    also_forms: tuple[str, ...] = ()
    agg: Aggregate = "sum"
    per: str | None = None
    # channels: channels that reached this stage in the period
    stage: str | None = None
    # Per person. Counts (sum, channels) are per `target_period` and spread over working days for
    # shorter periods; levels (rates, averages, latest values) apply to every period as they are.
    target: Decimal | None = Field(default=None, gt=0)
    target_period: TargetPeriod = "month"
    weight: Decimal = Field(gt=0, le=1000)
    cap: Decimal = Field(default=Decimal("1.2"), ge=1, le=10)
    # Shown as a percentage (rates) or as a number with this unit.
    percent: bool = False
    unit: Labels | None = None

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        return _checked_key(key)

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        # Whether each names a role is checked against [roles] by Settings (decision 54).
        return tuple(_checked_key(r) for r in roles)

    @model_validator(mode="after")
    def _source_fields(self) -> "KpiSpec":
        if self.source == "metric" and not (self.form and self.field):
            raise ValueError(f"kpi {self.key}: a metric source needs form and field")
        if self.also_forms and self.source != "metric":
            raise ValueError(f"kpi {self.key}: also_forms is for a metric source")
        if self.source == "channels" and self.stage not in STAGE_ORDER:
            raise ValueError(f"kpi {self.key}: stage must be one of {', '.join(STAGE_ORDER)}")
        if self.source in ("activity", "timeliness", "tasks") and self.target is None:
            # Both are rates: the plan is 100 % unless configured otherwise.
            object.__setattr__(self, "target", Decimal(1))
        if self.additive and self.target is not None and self.target != int(self.target):
            # Counts are spread over working days in whole units (docs/kpi.md).
            raise ValueError(f"kpi {self.key}: a count's target must be a whole number")
        return self

    @property
    def additive(self) -> bool:
        """True for counts, whose targets add up over time and are spread over working days."""
        return self.source == "channels" or (
            self.source == "metric" and self.agg == "sum" and self.per is None
        )

    def forms(self) -> tuple[str, ...]:
        """Every form a metric KPI reads its field from."""
        return tuple(f for f in (self.form, *self.also_forms) if f)

    def applies_to(self, roles: set[str]) -> bool:
        """Whether a person with these roles is assessed on it."""
        return bool(roles & set(self.roles))


class DigestSchedule(Strict):
    """When each digest goes to the team group (cron: minute hour day month weekday)."""

    daily: str | None = "30 18 * * *"
    weekly: str | None = "0 9 * * mon"
    monthly: str | None = "0 9 1 * *"
    quarterly: str | None = "30 9 1 1,4,7,10 *"
    # A process that was down when a digest was due still sends it if it starts within this.
    grace_hours: int = Field(default=6, ge=0, le=72)

    @field_validator("daily", "weekly", "monthly", "quarterly")
    @classmethod
    def _cron(cls, expr: str | None) -> str | None:
        if expr is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(expr)
        except ValueError as exc:
            raise ValueError(f"{expr!r} is not a cron expression ({exc})") from None
        return expr


class KpiConfig(Strict):
    """The [kpi] table: indicators, digest schedules, and what the group may see."""

    # Leaving out `kpis` keeps the shipped set (so a config may change only the schedules).
    kpis: tuple[KpiSpec, ...] = Field(default_factory=lambda: default_kpi().kpis)
    digests: DigestSchedule = DigestSchedule()
    # Personal weighted scores go to the directors privately unless this is on.
    show_scores_in_group: bool = False

    @model_validator(mode="after")
    def _unique(self) -> "KpiConfig":
        keys = [k.key for k in self.kpis]
        if len(keys) != len(set(keys)):
            raise ValueError("two kpis share a key")
        return self

    def get(self, key: str) -> KpiSpec | None:
        """The KPI with this key, if configured."""
        return next((k for k in self.kpis if k.key == key), None)

    def for_roles(self, roles: set[str]) -> list[KpiSpec]:
        """The KPIs a person with these roles is assessed on, in config order."""
        return [k for k in self.kpis if k.applies_to(roles)]


def source_problem(kpi: KpiSpec, reports: ReportsConfig) -> str | None:
    """Why a metric KPI's source is no longer collected (form or field gone), else None."""
    if kpi.source != "metric":
        return None
    for key in kpi.forms():
        form = reports.form(key)
        if form is None:
            return f"form {key}"
        metrics = {field.key for field, _ in form.metrics()}
        for field in filter(None, (kpi.field, kpi.per)):
            if field not in metrics:
                return f"{key}.{field}"
    return None


DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")


@cache
def default_kpi() -> KpiConfig:
    """The shipped KPI set (DOMAIN.md, 考核指标)."""
    with DEFAULTS_FILE.open("rb") as fh:
        return KpiConfig.model_validate(tomllib.load(fh))
