"""The department's roles (DOMAIN.md), and the ones a deployment adds in config ([roles])."""

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.i18n import N_, t

ROLES = ("director", "channel", "new_media", "content", "user_ops", "activity")

ROLE_LABELS = {
    "director": N_("Operations director"),
    "channel": N_("Channel-expansion manager"),
    "new_media": N_("New-media manager"),
    "content": N_("Content-planning manager"),
    "user_ops": N_("User-operations manager"),
    "activity": N_("Activity-operations manager"),
}

# Short: a role's key rides in button data (staff:v1:role:<id>:<key>, 64 bytes at most).
KEY = re.compile(r"^[a-z][a-z0-9_]{0,19}$")


class RoleName(BaseModel):
    """A role's name in both languages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str = Field(min_length=1, max_length=64)
    en: str = Field(min_length=1, max_length=64)


class RoleSpec(BaseModel):
    """A role a deployment adds: its names, the forms it files, who approves its joining."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    name: RoleName
    # Keys of forms this role files besides those whose own `roles` name it (e.g. the shipped
    # activity plan), so adding a role does not mean copying every form into [reports].
    forms: tuple[str, ...] = ()
    # Holders of these roles get the join card and decide it.
    approvers: tuple[str, ...] = ("director",)

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        if not KEY.match(key):
            raise ValueError(f"{key!r}: role keys are lowercase letters, digits and _ (max 20)")
        if key in ROLES:
            raise ValueError(f"{key!r} is a built-in role; pick another key")
        return key

    @field_validator("approvers")
    @classmethod
    def _approvers(cls, approvers: tuple[str, ...]) -> tuple[str, ...]:
        if not approvers:
            raise ValueError("someone must approve joining: give at least one role")
        return approvers


class RolesConfig(BaseModel):
    """The [roles] table: the six built-in roles plus `extra` ones (decision 54)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    extra: tuple[RoleSpec, ...] = ()

    @field_validator("extra")
    @classmethod
    def _unique(cls, extra: tuple[RoleSpec, ...]) -> tuple[RoleSpec, ...]:
        keys = [r.key for r in extra]
        if len(keys) != len(set(keys)):
            raise ValueError("two roles share a key")
        known = (*ROLES, *keys)
        for role in extra:
            unknown = [a for a in role.approvers if a not in known]
            if unknown:
                raise ValueError(f"role {role.key}: unknown approver role {unknown[0]!r}")
        return extra

    @property
    def keys(self) -> tuple[str, ...]:
        """Every role, built-in first, in the order menus and cards list them."""
        return (*ROLES, *(r.key for r in self.extra))

    @property
    def joinable(self) -> tuple[str, ...]:
        """The roles one may ask to join with (a director is added, never requested)."""
        return self.keys[1:]

    def known(self, key: str | None) -> bool:
        """True when `key` names a built-in or configured role."""
        return key in self.keys

    def spec(self, key: str) -> RoleSpec | None:
        """The configured role with this key (None for a built-in one)."""
        return next((r for r in self.extra if r.key == key), None)

    def label(self, key: str | None, locale: str) -> str:
        """The role's name in `locale` ("" for no or an unknown role)."""
        if key in ROLE_LABELS:
            return t(locale, ROLE_LABELS[key])
        spec = self.spec(key) if key else None
        if spec is None:
            return ""
        return spec.name.en if locale == "en" else spec.name.zh

    def labels(self, held: set[str], locale: str) -> list[str]:
        """The names of the roles in `held`, in the catalogue's order."""
        return [self.label(r, locale) for r in self.keys if r in held]

    def approvers(self, key: str) -> tuple[str, ...]:
        """The roles whose holders decide a request to join as `key`."""
        spec = self.spec(key)
        return spec.approvers if spec else ("director",)


DEFAULT_ROLES = RolesConfig()
