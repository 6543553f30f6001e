"""Who is using the app: the access mode a server is set up with, and the user a sign-in names.

    config = AccessConfig.from_secrets(access=secrets.get("access"), auth=secrets.get("auth"))
    config.mode                                   # off (one local user), password, or oidc
    user = config.password_user("Ana", "the team's password")   # a User, or None
    user = config.oidc_user(st_user_claims)       # from Streamlit's st.user after st.login()

Off is the local default: no gate, one user (LOCAL_USER) who may do everything, as the command
line does. What a user may see and do with a run is core/ownership.py's rule; how failed
sign-ins are slowed down is core/throttle.py's."""

from __future__ import annotations

import hmac
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from . import constants as C
from .errors import InputError

__all__ = ["AccessMode", "AccessConfig", "User", "LOCAL_USER", "NotAllowed"]


class NotAllowed(InputError):
    """The user may not do this (not signed in, not on the list, not the run's owner)."""


class AccessMode(StrEnum):
    OFF = "off"  # the local single-user default: no sign-in
    PASSWORD = "password"  # a shared password (or one per person) and a name
    OIDC = "oidc"  # Streamlit's st.login through an OpenID Connect provider


@dataclass(frozen=True)
class User:
    """The person a session acts for. `id` is what runs store as their owner: '' is the local
    user (the command line, an app with access off), an e-mail address after an OIDC sign-in,
    the name given (case-folded) after a password one."""

    id: str
    name: str
    admin: bool = False

    @property
    def local(self) -> bool:
        return self.id == ""


LOCAL_USER = User("", "local", admin=True)  # one user on their own machine may do anything


def _names(values: object) -> frozenset[str]:
    if isinstance(values, str):
        values = [values]
    return frozenset(_fold(str(v)) for v in (values or ()) if str(v).strip())  # type: ignore[attr-defined]


def _fold(text: str) -> str:
    """One spelling of a name or address: 'Ana ' and 'ana' are one owner."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


# What Streamlit itself reads in [auth]: a section with these is set up for st.login.
_OIDC_KEYS = ("redirect_uri", "cookie_secret")


@dataclass(frozen=True)
class AccessConfig:
    mode: AccessMode = AccessMode.OFF
    password: str | None = field(default=None, repr=False)  # the team's shared password
    passwords: Mapping[str, str] = field(default_factory=dict, repr=False)  # one per person, by folded name
    admins: frozenset[str] = frozenset()  # user ids (folded) who may act on every run
    allow: frozenset[str] = frozenset()  # OIDC: addresses or "@domain"s let in; empty: anyone the provider signs in
    providers: tuple[str, ...] = ()  # OIDC: named providers ([auth.NAME]); () is [auth]'s own

    @property
    def on(self) -> bool:
        return self.mode != AccessMode.OFF

    @classmethod
    def from_secrets(
        cls, access: Mapping[str, object] | None = None, auth: Mapping[str, object] | None = None, env: Mapping[str, str] | None = None
    ) -> AccessConfig:
        """The mode from `.streamlit/secrets.toml`'s [access] and [auth] sections and the
        environment. [access] mode says it outright; otherwise an [auth] section set up for
        Streamlit's sign-in (redirect_uri, cookie_secret) means OIDC, a password means password,
        and nothing means off. `[auth] password` and LLM_BATCH_PASSWORD (the preset keys'
        password before access modes) still work as the shared password."""
        access = dict(access or {})
        auth = dict(auth or {})
        env = env if env is not None else {}
        password = access.get("password") or auth.get("password") or env.get(C.PASSWORD_ENV) or None
        users = access.get("users") or {}
        if not isinstance(users, Mapping):
            raise InputError("[access] users must be a table of name = password.", "access_config")
        passwords = {_fold(str(k)): str(v) for k, v in users.items() if str(v)}
        oidc_ready = all(k in auth for k in _OIDC_KEYS)
        mode_text = str(access.get("mode") or "").strip().lower()
        if mode_text:
            try:
                mode = AccessMode(mode_text)
            except ValueError:
                raise InputError(f"[access] mode must be off, password or oidc, not {mode_text!r}.", "access_config", mode=mode_text) from None
        elif oidc_ready:
            mode = AccessMode.OIDC
        elif password or passwords:
            mode = AccessMode.PASSWORD
        else:
            mode = AccessMode.OFF
        if mode == AccessMode.PASSWORD and not (password or passwords):
            raise InputError("[access] mode is password but no password is set: add [access] password.", "access_config", mode="password")
        if mode == AccessMode.OIDC and not oidc_ready:
            raise InputError(
                "[access] mode is oidc but [auth] lacks redirect_uri and cookie_secret (see the README, Hosting for a team).", "access_config", mode="oidc"
            )
        providers = tuple(sorted(k for k, v in auth.items() if isinstance(v, Mapping))) if mode == AccessMode.OIDC else ()
        return cls(
            mode=mode, password=str(password) if password else None, passwords=passwords, admins=_names(access.get("admins")),
            allow=_names(access.get("allow")), providers=providers,
        )  # fmt: skip

    def _user(self, user_id: str, name: str) -> User:
        return User(user_id, name, admin=user_id in self.admins)

    def password_user(self, name: str, given: str) -> User | None:
        """The user a password sign-in names, or None if the password is not right. With
        [access.users] each person has their own; else the team's one password and any name
        (names are then not proven: anyone with the password may say any name)."""
        shown = " ".join(unicodedata.normalize("NFKC", name).split())
        if not shown or len(shown) > C.MAX_USER_NAME_CHARS or any(unicodedata.category(ch).startswith("C") for ch in shown):
            raise InputError(f"Give your name (at most {C.MAX_USER_NAME_CHARS} characters): your runs are kept under it.", "bad_name", n=C.MAX_USER_NAME_CHARS)
        user_id = _fold(shown)
        own = self.passwords.get(user_id)
        expected = own if own is not None else (self.password if not self.passwords else None)
        # Compared in constant time either way, so that a name not on the list takes as long.
        target = expected if expected is not None else secrets.token_hex(16)
        ok = hmac.compare_digest(given.encode(), target.encode()) and expected is not None
        return self._user(user_id, shown) if ok else None

    def oidc_user(self, claims: Mapping[str, object]) -> User | None:
        """The user of Streamlit's `st.user` claims after st.login, or None if nobody is signed
        in. NotAllowed if the address is not verified or not on the [access] allow list."""
        if not claims.get("is_logged_in"):
            return None
        email = str(claims.get("email") or "").strip()
        verified = claims.get("email_verified")
        if email and verified is not False:
            user_id = _fold(email)
        else:
            subject = str(claims.get("sub") or "").strip()
            if not subject:
                raise NotAllowed("The sign-in gave no e-mail address nor user id: ask the admin to check the provider's scopes.", "no_identity")
            user_id = f"{claims.get('iss') or 'oidc'}#{subject}"
        if self.allow and not (user_id in self.allow or ("@" in user_id and "@" + user_id.rsplit("@", 1)[1] in self.allow)):
            raise NotAllowed(f"{email or user_id} may not use this server: ask its admin to add you.", "not_on_list", who=email or user_id)
        name = str(claims.get("name") or email or user_id)
        return self._user(user_id, name)
