"""What a proxy (代理人) may open: the one map from a page's path to the scope it belongs to.

Every page request of a session acting for a principal is checked here (``rule_for``) by
``Proxies.admit`` before the page runs, so a page needs no knowledge of proxies. The check is
default-deny: a path matches the entry with the most segments that fits it (``*`` stands for
one segment; an entry covers everything below it unless it is ``exact``; of two as long, the
one naming the method wins), and a path no entry fits is refused.
The account page, the login history, proxy settings, the back office, the login pages and
every page added later are therefore out of reach of a proxy until an entry here names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from openmyna.portal.nav import N_


class Scope(StrEnum):
    """A part of the principal's portal a grant can open to a proxy."""

    RECORDS = "records"
    MY_DATA = "my_data"
    NOTICES = "notices"
    APPLICATIONS = "applications"
    PAYMENTS = "payments"


#: The scopes' names on the pages (Japanese first; ``_`` translates them in templates).
SCOPE_LABELS: dict[Scope, str] = {
    Scope.RECORDS: N_("やりとり履歴"),
    Scope.MY_DATA: N_("自己情報"),
    Scope.NOTICES: N_("お知らせ"),
    Scope.APPLICATIONS: N_("申請"),
    Scope.PAYMENTS: N_("公金決済"),
}


class Kind(StrEnum):
    """What an entry of the map lets a proxy do."""

    #: Open while the grant has the entry's scope.
    SCOPE = "scope"
    #: Open to anyone acting, whatever the scope (the home page, logout, the proxy's own page).
    ALWAYS = "always"
    #: Refused whatever the scope.
    DENY = "deny"


@dataclass(frozen=True)
class Rule:
    """One entry of the map."""

    pattern: str
    kind: Kind
    scope: Scope | None = None
    #: The only methods it covers (``None``: all); another method falls back to a shorter entry.
    methods: frozenset[str] | None = None
    #: Covers the path itself only, not what is below it.
    exact: bool = False

    @property
    def segments(self) -> tuple[str, ...]:
        """The pattern's path segments."""
        return tuple(p for p in self.pattern.split("/") if p)


def _scope(pattern: str, scope: Scope) -> Rule:
    return Rule(pattern, Kind.SCOPE, scope)


_GET = frozenset({"GET", "HEAD"})

RULES: tuple[Rule, ...] = (
    Rule("/", Kind.ALWAYS, methods=_GET, exact=True),
    Rule("/lang", Kind.ALWAYS, methods=_GET),
    Rule("/logout", Kind.ALWAYS, methods=frozenset({"POST"}), exact=True),
    Rule("/statistics", Kind.ALWAYS, methods=_GET),  # public tables, no one's data
    # The proxy's own page (their grants, "act as myself"); the principal's settings and every
    # other form under /proxy are refused: a proxy never grants, redeems or revokes for them.
    Rule("/proxy", Kind.DENY),
    Rule("/proxy", Kind.ALWAYS, methods=_GET, exact=True),
    Rule("/proxy/stop", Kind.ALWAYS, methods=frozenset({"POST"}), exact=True),
    _scope("/records", Scope.RECORDS),
    _scope("/my-data", Scope.MY_DATA),
    _scope("/notices", Scope.NOTICES),
    # Where the principal's notices are forwarded (民間送達) is their setting, not a notice.
    Rule("/notices/delivery", Kind.DENY),
    _scope("/services", Scope.APPLICATIONS),
    _scope("/applications", Scope.APPLICATIONS),
    # Reading the card's text or signing needs the principal's own card and password, which a
    # proxy never holds: a proxy prepares a draft, the principal signs it.
    Rule("/services/drafts/*/prefill", Kind.DENY),
    Rule("/services/drafts/*/sign", Kind.DENY),
    Rule("/services/drafts/*/card", Kind.DENY),
    _scope("/payments", Scope.PAYMENTS),
    _scope("/payment-provider", Scope.PAYMENTS),
)


def _fits(rule: Rule, parts: tuple[str, ...], method: str) -> bool:
    if rule.methods is not None and method not in rule.methods:
        return False
    want = rule.segments
    if rule.exact and len(parts) != len(want):
        return False
    return len(parts) >= len(want) and all(w in ("*", p) for w, p in zip(want, parts, strict=False))


def rule_for(method: str, path: str) -> Rule | None:
    """The entry of the map for a request, or ``None`` (refused: not in the map)."""
    parts = tuple(p for p in path.split("/") if p)
    if any(p in (".", "..") for p in parts):
        return None
    best: Rule | None = None
    for rule in RULES:
        if not _fits(rule, parts, method.upper()):
            continue
        better = best is None or len(rule.segments) > len(best.segments)
        # Of two entries as long, one naming the method wins over one for every method.
        tie = best is not None and len(rule.segments) == len(best.segments)
        if better or (tie and rule.methods is not None):
            best = rule
    return best


def allowed(method: str, path: str, scopes: frozenset[str]) -> tuple[bool, Rule | None]:
    """Whether a proxy with ``scopes`` may make the request, and the entry that decided."""
    rule = rule_for(method, path)
    if rule is None or rule.kind is Kind.DENY:
        return False, rule
    if rule.kind is Kind.ALWAYS:
        return True, rule
    return rule.scope is not None and rule.scope.value in scopes, rule


def parse_scopes(chosen: list[str]) -> frozenset[Scope]:
    """The scopes of a form's choices (unknown names are refused by the caller)."""
    return frozenset(Scope(c) for c in chosen)
