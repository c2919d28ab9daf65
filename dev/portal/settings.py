"""Portal settings, read from the environment once by the CLI and handed to the app.

Secrets (the service and admin tokens, the member-id key, the SMTP password)
come only from the environment. Lockout numbers default to Keycloak's brute-force detection
defaults (failureFactor 30, failure reset 12 h, wait increment 60 s, max wait
15 min); the mode defaults to Keycloak's *permanent* lockout option because
the manuals send locked members to their society, which unlocks them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Mapping

from bot.client_address import ClientAddresses, IPNetwork, parse_trusted_proxies
from bot.domain.societies import PROJECT_ROOT

DEV_SERVICE_TOKEN = "dev-service-token"  # only ever used with --dev / KOSMO_PORTAL_DEV=1
DEV_ADMIN_TOKEN = "dev-admin-token"
DEFAULT_DB_PATH = PROJECT_ROOT / "var" / "portal.db"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line for the operator."""


@dataclass(frozen=True)
class RateRule:
    """At most ``limit`` requests per ``period`` seconds for one key."""

    limit: int
    period: float


# (endpoint, scope) -> rule. Scopes:
# - "account": the user ID or email in the request, known or not;
# - "member": the member the bot speaks for (the signed X-Kosmo-Member header,
#   one per LINE user, widget session or REST sender); calls without one all
#   count as one member per client address;
# - "origin": who the member is on their channel, whatever their sender id (the
#   signed X-Kosmo-Origin header: the widget's or REST caller's address, an IPv6
#   one as its /64; the LINE user). Fresh widget sessions from one address share
#   it. Set to several times what one member really does (a few resends, one
#   reminder or unlock, diagnosis at most 10 per account, a status read or two),
#   so members behind one NAT rarely meet it, and under 30 in its window, so 30
#   scripted sessions from one address are stopped long before the ceiling
#   below. A member without an origin is its own origin;
# - "client": the caller's address. Every member reaches the portal through
#   the action server's one address, so this is a ceiling far above what
#   members use (it stops a runaway caller), not a per-member budget.
# One member or one account using up its budget never touches another's.
DEFAULT_RATE_RULES: dict[tuple[str, str], RateRule] = {
    ("otp_resend", "account"): RateRule(3, 600),
    ("otp_resend", "member"): RateRule(5, 600),
    ("otp_resend", "origin"): RateRule(15, 600),
    ("otp_resend", "client"): RateRule(1200, 60),
    ("user_id_reminder", "account"): RateRule(3, 3600),
    ("user_id_reminder", "member"): RateRule(5, 3600),
    ("user_id_reminder", "origin"): RateRule(15, 3600),
    ("user_id_reminder", "client"): RateRule(600, 60),
    ("otp_diagnose", "account"): RateRule(10, 600),
    ("otp_diagnose", "member"): RateRule(20, 600),
    ("otp_diagnose", "origin"): RateRule(25, 600),
    ("otp_diagnose", "client"): RateRule(1200, 60),
    ("unlock_open", "account"): RateRule(5, 3600),
    ("unlock_open", "member"): RateRule(5, 3600),
    ("unlock_open", "origin"): RateRule(15, 3600),
    ("unlock_open", "client"): RateRule(600, 60),
    ("unlock_read", "member"): RateRule(20, 600),
    ("unlock_read", "origin"): RateRule(25, 600),
    ("unlock_read", "client"): RateRule(2400, 60),
    ("forgot_password", "account"): RateRule(3, 3600),
    ("forgot_password", "client"): RateRule(30, 60),
}
# Scope names of earlier versions still accepted in KOSMO_PORTAL_RATE_LIMITS.
SCOPE_ALIASES = {"conversation": "member"}


@dataclass(frozen=True)
class LockoutPolicy:
    """When failed logins (wrong password or wrong OTP) lock an account.

    ``permanent``: locked until staff resolve an unlock ticket. Otherwise the
    lock lasts ``wait_increment * (failures // max_failures)`` seconds, capped
    at ``max_wait`` (Keycloak's temporary lockout).
    """

    max_failures: int = 30
    failure_reset_seconds: int = 12 * 3600
    permanent: bool = True
    wait_increment_seconds: int = 60
    max_wait_seconds: int = 15 * 60


@dataclass(frozen=True)
class PortalSettings:
    db_url: str
    service_token: str
    admin_token: str | None
    dev: bool = False
    public_url: str = "http://127.0.0.1:8080"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    mail_sender: str | None = None  # None: each society's sender from societies.yml
    dev_smtp_host: str = "127.0.0.1"
    dev_smtp_port: int = 8025
    societies_file: str | None = None
    lockout: LockoutPolicy = LockoutPolicy()
    email_otp_valid_seconds: int = 300
    totp_login_window: int = 1  # steps either side accepted at login (Keycloak's look-around 1)
    totp_diagnose_window: int = 3  # steps either side the helpdesk diagnosis looks at (±90 s)
    session_valid_seconds: int = 30 * 60
    password_hash_iterations: int = 210_000
    rate_rules: Mapping[tuple[str, str], RateRule] = field(
        default_factory=lambda: dict(DEFAULT_RATE_RULES)
    )
    # KOSMO_PORTAL_TRUST_FORWARDED_FOR: behind a reverse proxy, the caller is read from
    # X-Forwarded-For, but only on requests from trusted_proxies (KOSMO_PORTAL_TRUSTED_PROXIES,
    # default loopback), from the right, proxies skipped (bot.client_address).
    trust_forwarded_for: bool = False
    trusted_proxies: tuple[IPNetwork, ...] = ClientAddresses().trusted_proxies
    # Key of the X-Kosmo-Member signature (KOSMO_MEMBER_ID_KEY); None: derived
    # from the service token (bot.portal_client.member.derive_key).
    member_id_key: str | None = field(default=None, repr=False)

    @property
    def client_addresses(self) -> ClientAddresses:
        """How the portal tells callers apart (per-client limits, the audit log)."""
        header = "x-forwarded-for" if self.trust_forwarded_for else None
        return ClientAddresses(header=header, trusted_proxies=self.trusted_proxies)

    def with_overrides(self, **changes: object) -> "PortalSettings":
        return replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:  # never print tokens
        return f"PortalSettings(db_url={self.db_url!r}, dev={self.dev}, public_url={self.public_url!r})"


def default_db_url() -> str:
    return f"sqlite:///{DEFAULT_DB_PATH}"


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{key} must be 1/0/true/false, got {raw!r}")


def _int(env: Mapping[str, str], key: str, default: int, minimum: int = 0) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{key} must be at least {minimum}, got {value}")
    return value


def _trusted_proxies(env: Mapping[str, str]) -> tuple[IPNetwork, ...]:
    raw = env.get("KOSMO_PORTAL_TRUSTED_PROXIES") or ""
    if not raw.strip():
        return ClientAddresses().trusted_proxies
    try:
        return parse_trusted_proxies(raw, "KOSMO_PORTAL_TRUSTED_PROXIES")
    except ValueError as e:
        raise SettingsError(str(e)) from None


def parse_rate_overrides(raw: str) -> dict[tuple[str, str], RateRule]:
    """``"otp_resend.account=3/600,otp_diagnose.client=100/60"`` to rules."""
    rules: dict[tuple[str, str], RateRule] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            name, value = part.split("=", 1)
            endpoint, scope = name.strip().split(".", 1)
            scope = SCOPE_ALIASES.get(scope, scope)
            limit, period = value.strip().split("/", 1)
            rule = RateRule(int(limit), float(period))
        except ValueError:
            raise SettingsError(
                f"KOSMO_PORTAL_RATE_LIMITS: cannot read {part!r} (want endpoint.scope=N/SECONDS)"
            ) from None
        if (endpoint, scope) not in DEFAULT_RATE_RULES:
            raise SettingsError(f"KOSMO_PORTAL_RATE_LIMITS: unknown limit {name!r}")
        if rule.limit < 1 or rule.period <= 0:
            raise SettingsError(f"KOSMO_PORTAL_RATE_LIMITS: {part!r} must be positive")
        rules[(endpoint, scope)] = rule
    return rules


def settings_from_env(
    environ: Mapping[str, str] | None = None, *, dev: bool | None = None, require_token: bool = True
) -> PortalSettings:
    """Build settings from ``KOSMO_*`` variables; refuses to run without a token unless dev.

    ``require_token=False`` is for commands that do not serve the API (the CLI
    mailing a member about a ticket it closed): the token may then be empty.
    """
    env = os.environ if environ is None else environ
    dev_mode = _bool(env, "KOSMO_PORTAL_DEV", False) if dev is None else dev
    token = env.get("KOSMO_PORTAL_SERVICE_TOKEN") or None
    if token is None:
        if dev_mode:
            token = DEV_SERVICE_TOKEN
        elif require_token:
            raise SettingsError(
                "KOSMO_PORTAL_SERVICE_TOKEN is not set (use --dev for the development token)"
            )
        else:
            token = ""
    admin = env.get("KOSMO_PORTAL_ADMIN_TOKEN") or (DEV_ADMIN_TOKEN if dev_mode else None)
    member_id_key = env.get("KOSMO_MEMBER_ID_KEY") or None
    for name, value in (("KOSMO_PORTAL_SERVICE_TOKEN", token), ("KOSMO_PORTAL_ADMIN_TOKEN", admin),
                        ("KOSMO_MEMBER_ID_KEY", member_id_key)):
        if value and not dev_mode and len(value) < 16:
            raise SettingsError(f"{name} must be at least 16 characters")
    rules = dict(DEFAULT_RATE_RULES)
    rules.update(parse_rate_overrides(env.get("KOSMO_PORTAL_RATE_LIMITS", "")))
    lockout_mode = env.get("KOSMO_PORTAL_LOCKOUT_MODE", "permanent").strip().lower()
    if lockout_mode not in ("permanent", "temporary"):
        raise SettingsError(
            f"KOSMO_PORTAL_LOCKOUT_MODE must be permanent or temporary, got {lockout_mode!r}"
        )
    lockout = LockoutPolicy(
        max_failures=_int(env, "KOSMO_PORTAL_LOCKOUT_FAILURES", 30, minimum=1),
        failure_reset_seconds=_int(env, "KOSMO_PORTAL_LOCKOUT_RESET_SECONDS", 43200, minimum=1),
        permanent=lockout_mode == "permanent",
        wait_increment_seconds=_int(env, "KOSMO_PORTAL_LOCKOUT_WAIT_INCREMENT", 60, minimum=1),
        max_wait_seconds=_int(env, "KOSMO_PORTAL_LOCKOUT_MAX_WAIT", 900, minimum=1),
    )
    port = env.get("KOSMO_SMTP_PORT")
    try:
        smtp_port = int(port) if port else 8025
    except ValueError:
        raise SettingsError(f"KOSMO_SMTP_PORT must be a port number, got {port!r}") from None
    db_url = env.get("KOSMO_PORTAL_DB_URL") or default_db_url()
    return PortalSettings(
        db_url=db_url,
        service_token=token,
        admin_token=admin,
        dev=dev_mode,
        public_url=(
            env.get("KOSMO_PORTAL_PUBLIC_URL")
            or env.get("KOSMO_PORTAL_URL")
            or "http://127.0.0.1:8080"
        ).rstrip("/"),
        smtp_host=env.get("KOSMO_SMTP_HOST") or "127.0.0.1",
        smtp_port=smtp_port,
        smtp_user=env.get("KOSMO_SMTP_USER") or None,
        smtp_password=env.get("KOSMO_SMTP_PASSWORD") or None,
        smtp_starttls=_bool(env, "KOSMO_SMTP_STARTTLS", False),
        mail_sender=env.get("KOSMO_MAIL_SENDER") or None,
        dev_smtp_host=env.get("KOSMO_DEV_SMTP_HOST") or env.get("KOSMO_SMTP_HOST") or "127.0.0.1",
        dev_smtp_port=_int(env, "KOSMO_DEV_SMTP_PORT", smtp_port if port else 8025, minimum=1),
        societies_file=env.get("KOSMO_SOCIETIES_FILE") or None,
        lockout=lockout,
        email_otp_valid_seconds=_int(env, "KOSMO_PORTAL_EMAIL_OTP_SECONDS", 300, minimum=30),
        password_hash_iterations=_int(env, "KOSMO_PORTAL_PBKDF2_ITERATIONS", 210_000, minimum=1000),
        rate_rules=rules,
        trust_forwarded_for=_bool(env, "KOSMO_PORTAL_TRUST_FORWARDED_FOR", False),
        trusted_proxies=_trusted_proxies(env),
        member_id_key=member_id_key,
    )
